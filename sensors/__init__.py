"""Dagster sensors: files in ``landing/`` and ``releases/requests/`` become runs."""

from sensors.landing import SENSOR_NAME, build_landing_sensor, evaluate_landing
from sensors.release import RELEASE_SENSOR_NAME, build_release_sensor, evaluate_releases

__all__ = [
    "RELEASE_SENSOR_NAME",
    "SENSOR_NAME",
    "build_landing_sensor",
    "build_release_sensor",
    "evaluate_landing",
    "evaluate_releases",
]
