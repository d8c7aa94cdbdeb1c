"""``release_sensor``: one run per new request file in ``releases/requests/``.

The partition is the release id (``<request id>@v<version>``); the run key adds the SHA-256
of the request bytes, so the same file is built once, and a new version is a new partition.
Delivered releases are not requested again (the build would refuse them anyway).
"""

import time
from typing import TYPE_CHECKING

import dagster as dg

from assets.release import RELEASE_JOB, RELEASE_PARTITIONS, TAG_REQUEST_PATH, TAG_REQUEST_SHA256
from kvalreg.paths import Layout
from kvalreg.release.build import is_delivered
from kvalreg.release.inbox import scan_requests
from resources import WarehouseResource

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

RELEASE_SENSOR_NAME = "release_sensor"
MINIMUM_INTERVAL_SECONDS = 30


def evaluate_releases(
    instance: dg.DagsterInstance,
    layout: Layout,
    *,
    now: float,
    settle_seconds: float,
    log: dg.DagsterLogManager | None = None,
) -> dg.SensorResult:
    found, unreadable = scan_requests(layout, settle_seconds, now)
    if log is not None:
        for bad in unreadable:
            log.warning(f"release request {bad.path.name}: {bad.reason}")
    wanted = [r for r in found if not is_delivered(layout, r.release_id)]
    new = sorted(
        {
            r.release_id
            for r in wanted
            if not instance.has_dynamic_partition(RELEASE_PARTITIONS, r.release_id)
        }
    )
    return dg.SensorResult(
        run_requests=[
            dg.RunRequest(
                run_key=f"{r.release_id}:{r.sha256}",
                job_name=RELEASE_JOB,
                partition_key=r.release_id,
                tags={TAG_REQUEST_PATH: str(r.path), TAG_REQUEST_SHA256: r.sha256},
            )
            for r in wanted
        ],
        dynamic_partitions_requests=[
            dg.AddDynamicPartitionsRequest(
                partitions_def_name=RELEASE_PARTITIONS, partition_keys=new
            )
        ]
        if new
        else [],
        skip_reason=None if wanted else "no release requests to build",
    )


def build_release_sensor(
    job: "UnresolvedAssetJobDefinition", settle_seconds: float
) -> dg.SensorDefinition:
    @dg.sensor(
        name=RELEASE_SENSOR_NAME,
        job=job,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Builds a release package for each new request file in releases/requests/.",
    )
    def release_sensor(
        context: dg.SensorEvaluationContext, warehouse: WarehouseResource
    ) -> dg.SensorResult:
        return evaluate_releases(
            context.instance,
            warehouse.layout,
            now=time.time(),
            settle_seconds=settle_seconds,
            log=context.log,
        )

    return release_sensor
