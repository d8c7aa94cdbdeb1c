"""``landing_sensor``: scan ``landing/`` and request one run per new dump or rejected entry.

All classification lives in ``kvalreg.landing.scan``; this module only maps its answer onto
Dagster: a dynamic partition and an ingestion run per ready dump, a quarantine run per
rejected entry, and the scan's hash cache as the cursor.

Run keys make the sensor idempotent: a dump's key is ``"{registry}:{sha256}"`` (the same
bytes are ingested once, whatever their name), a rejection's key names the entry's path,
size, mtime and check, so an unchanged entry is not requested twice while a changed one is.
"""

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import dagster as dg

from assets.quarantine import JOB_NAME as QUARANTINE_JOB
from assets.quarantine import OP_NAME as QUARANTINE_OP
from assets.raw import TAG_LANDING_PATH, TAG_OUTCOME, TAG_SHA256, job_name, partitions_name
from kvalreg import landing
from kvalreg.landing import HashCache, ReadyDump, Rejected
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from resources import WarehouseResource

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

SENSOR_NAME = "landing_sensor"
MINIMUM_INTERVAL_SECONDS = 15


def dump_run_key(dump: ReadyDump) -> str:
    return f"{dump.registry}:{dump.sha256}"


def reject_run_key(rejected: Rejected) -> str:
    path = landing.display_name(rejected.path.parent) + "/" + rejected.display_name
    return f"quarantine:{path}:{rejected.size}:{rejected.mtime_ns}:{rejected.check_id}"


def _already_handled(instance: dg.DagsterInstance, registry: str, sha256: str) -> bool:
    """An earlier run accepted or quarantined these bytes (a failed run did neither: its
    landing file stays put, and the run is re-executed from the UI rather than re-requested)."""
    runs = instance.get_runs(
        filters=dg.RunsFilter(tags={"dagster/run_key": f"{registry}:{sha256}"}), limit=20
    )
    return any(
        r.status == dg.DagsterRunStatus.SUCCESS or r.tags.get(TAG_OUTCOME) == "quarantined"
        for r in runs
    )


def evaluate_landing(
    instance: dg.DagsterInstance,
    cursor: str | None,
    layout: Layout,
    registries: Mapping[str, Registry],
    *,
    now: float,
    settle_seconds: float,
    log: dg.DagsterLogManager | None = None,
) -> dg.SensorResult:
    """One sensor evaluation, separated from the decorator so it can be called directly."""
    result = landing.scan(
        layout,
        registries,
        HashCache.from_json(cursor),
        now,
        settle_seconds,
        already_processed=lambda reg, sha: _already_handled(instance, reg, sha),
    )
    new_keys: dict[str, list[str]] = defaultdict(list)
    for dump in result.ready:
        name = partitions_name(dump.registry, dump.form)
        if not instance.has_dynamic_partition(name, dump.dump_id):
            new_keys[name].append(dump.dump_id)
    run_requests = [_dump_request(d) for d in result.ready]
    run_requests += [_reject_request(r) for r in result.rejected]
    if log is not None:
        for s in result.settling:
            log.info(f"settling: {landing.display_name(s.path)!r} ({s.reason})")
    return dg.SensorResult(
        run_requests=run_requests,
        dynamic_partitions_requests=[
            dg.AddDynamicPartitionsRequest(partitions_def_name=name, partition_keys=keys)
            for name, keys in sorted(new_keys.items())
        ],
        cursor=result.cache.to_json(),
        skip_reason=None if run_requests else _skip_message(result),
    )


def _skip_message(result: landing.ScanResult) -> str:
    if result.settling:
        names = ", ".join(sorted(landing.display_name(s.path) for s in result.settling))
        return f"{len(result.settling)} file(s) still settling: {names}"
    return "no new files in landing"


def _dump_request(dump: ReadyDump) -> dg.RunRequest:
    return dg.RunRequest(
        run_key=dump_run_key(dump),
        job_name=job_name(dump.registry, dump.form),
        partition_key=dump.dump_id,
        tags={TAG_LANDING_PATH: str(dump.path), TAG_SHA256: dump.sha256},
    )


def _reject_request(rejected: Rejected) -> dg.RunRequest:
    config = {
        "path": str(rejected.path),
        "check_id": rejected.check_id,
        "registry": rejected.registry,
        "reason": rejected.reason,
    }
    return dg.RunRequest(
        run_key=reject_run_key(rejected),
        job_name=QUARANTINE_JOB,
        run_config={"ops": {QUARANTINE_OP: {"config": config}}},
        tags={"kvalreg/check_id": rejected.check_id},
    )


def build_landing_sensor(
    registries: Mapping[str, Registry],
    jobs: Sequence["UnresolvedAssetJobDefinition | dg.JobDefinition"],
    settle_seconds: float,
) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        jobs=list(jobs),
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description=(
            "Scans landing/<registry>/ for dumps: ingests new ones (one partition per dump), "
            "quarantines rejected entries, waits for files still being written."
        ),
    )
    def landing_sensor(
        context: dg.SensorEvaluationContext, warehouse: WarehouseResource
    ) -> dg.SensorResult:
        return evaluate_landing(
            context.instance,
            context.cursor,
            warehouse.layout,
            registries,
            now=time.time(),
            settle_seconds=settle_seconds,
            log=context.log,
        )

    return landing_sensor
