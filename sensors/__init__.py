"""Dagster sensors: the landing sensor turns files in ``landing/`` into runs."""

from sensors.landing import SENSOR_NAME, build_landing_sensor, evaluate_landing

__all__ = ["SENSOR_NAME", "build_landing_sensor", "evaluate_landing"]
