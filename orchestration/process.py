"""``kvalreg process``: what the daemon does on a sensor tick, once, synchronously, in-process.

The command evaluates the landing sensor with its stored cursor, adds the dynamic partitions
it asks for, and executes each requested run in this process against the persistent instance
(``KVALREG_HOME/dagster``), so the runs show in the UI exactly like daemon-launched ones.

Why the daemon and this command never ingest a dump twice: runs are tagged with
``dagster/sensor_name`` and ``dagster/run_key`` just as the daemon tags them. The daemon treats
an origin-less run with matching tags as already launched (``fetch_existing_runs`` in
``dagster/_daemon/sensor.py``), and this command skips run keys that already have a run.

Why the cursor is written into the instance's sensor state: the cursor is the landing hash
cache; storing it where the daemon reads it (the sensor's ``InstigatorState``, found by the
selector location/repository/sensor name) lets the daemon continue without re-hashing. The
location name comes from ``workspace.yaml``, which ``make ui`` serves.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
from dagster._core.definitions.sensor_definition import SensorType
from dagster._core.remote_origin import RemoteInstigatorOrigin, RemoteRepositoryOrigin
from dagster._core.scheduler.instigation import (
    InstigatorState,
    InstigatorStatus,
    InstigatorType,
    SensorInstigatorData,
)
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG
from dagster._core.workspace.load import location_origins_from_yaml_paths
from dagster._utils.error import SerializableErrorInfo

from assets.dbt import MARTS_JOB, manifest_ready, marts_registries
from assets.quarantine import JOB_NAME as QUARANTINE_JOB
from assets.quarantine import OP_NAME as QUARANTINE_OP
from assets.raw import FATAL_CHECK
from assets.release import RELEASE_JOB
from kvalreg.landing import HashCache, display_name, settle_seconds_from_env
from kvalreg.paths import Layout
from kvalreg.registry import Registry, load_registries
from orchestration.definitions import build_definitions
from orchestration.instance import open_instance
from resources import WarehouseResource
from sensors import RELEASE_SENSOR_NAME, SENSOR_NAME

WORKSPACE_YAML = Path(__file__).resolve().parents[1] / "workspace.yaml"
REPOSITORY_NAME = "__repository__"  # what Definitions become inside a code location


@dataclass
class ProcessSummary:
    """What one ``kvalreg process`` did; ``ok`` is False only when a run failed."""

    processed: list[str] = field(default_factory=list)  # accepted dump ids
    quarantined: list[str] = field(default_factory=list)  # quarantined dump ids
    rejected: list[str] = field(default_factory=list)  # landing entries moved to quarantine
    failed: list[str] = field(default_factory=list)  # "<what> (run <id>)"
    skipped: list[str] = field(default_factory=list)  # run keys that already had a run
    settling: int = 0  # files still being written when we stopped waiting
    run_ids: list[str] = field(default_factory=list)
    accepted_registries: set[str] = field(default_factory=set)  # registries with a new dump
    marts_built: bool = False  # the marts job ran and succeeded in this pass
    releases: list[str] = field(default_factory=list)  # "<release id>: <package dir>"

    @property
    def ok(self) -> bool:
        return not self.failed

    def describe(self) -> str:
        lines = [
            f"processed {len(self.processed)} dump(s), quarantined {len(self.quarantined)}, "
            f"rejected {len(self.rejected)} landing entr{'y' if len(self.rejected) == 1 else 'ies'}"
            f", failed {len(self.failed)}, skipped {len(self.skipped)} already-run request(s), "
            f"{self.settling} file(s) still settling"
        ]
        lines += [f"  accepted:    {d}" for d in self.processed]
        lines += [f"  quarantined: {d}" for d in self.quarantined]
        lines += [f"  rejected:    {d}" for d in self.rejected]
        lines += [f"  FAILED:      {d}" for d in self.failed]
        if self.marts_built:
            lines.append("  marts:       rebuilt with dbt, exports and metadata written")
        lines += [f"  release:     {r}" for r in self.releases]
        return "\n".join(lines)


def sensor_origin(workspace_yaml: Path = WORKSPACE_YAML) -> RemoteInstigatorOrigin:
    """The landing sensor's origin as the daemon sees it when serving ``workspace.yaml``."""
    (location,) = location_origins_from_yaml_paths([str(workspace_yaml)])
    return RemoteInstigatorOrigin(
        repository_origin=RemoteRepositoryOrigin(
            code_location_origin=location, repository_name=REPOSITORY_NAME
        ),
        instigator_name=SENSOR_NAME,
    )


def load_cursor(instance: dg.DagsterInstance, origin: RemoteInstigatorOrigin) -> str | None:
    state = instance.get_instigator_state(origin.get_id(), origin.get_selector().get_id())
    data = state.instigator_data if state else None
    return data.cursor if isinstance(data, SensorInstigatorData) else None


def store_cursor(
    instance: dg.DagsterInstance,
    origin: RemoteInstigatorOrigin,
    cursor: str | None,
    min_interval: int | None,
) -> None:
    """Write the cursor where the daemon reads it, keeping whatever else the state holds."""
    state = instance.get_instigator_state(origin.get_id(), origin.get_selector().get_id())
    if state is None:
        instance.add_instigator_state(
            InstigatorState(
                origin,
                InstigatorType.SENSOR,
                InstigatorStatus.DECLARED_IN_CODE,
                SensorInstigatorData(
                    min_interval=min_interval,
                    cursor=cursor,
                    last_sensor_start_timestamp=time.time(),
                    sensor_type=SensorType.STANDARD,
                ),
            )
        )
        return
    data = state.instigator_data
    if not isinstance(data, SensorInstigatorData):
        data = SensorInstigatorData(min_interval=min_interval, sensor_type=SensorType.STANDARD)
    instance.update_instigator_state(state.with_data(data._replace(cursor=cursor)))


def process_once(
    layout: Layout,
    registries: Mapping[str, Registry] | None = None,
    settle_seconds: float | None = None,
) -> ProcessSummary:
    """Evaluate the landing sensor and run everything it requests, until nothing is settling.

    Files that are only settling are waited for (at most ``settle_seconds`` plus a second
    beyond the first evaluation), then evaluated again.
    """
    regs = load_registries() if registries is None else registries
    settle = settle_seconds_from_env() if settle_seconds is None else settle_seconds
    layout.ensure(sorted(regs))
    defs = build_definitions(
        regs, WarehouseResource(kvalreg_home=str(layout.home)), settle_seconds=settle
    )
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    origin = sensor_origin()
    summary = ProcessSummary()
    deadline = time.monotonic() + settle + 1.0
    with open_instance(layout) as instance:
        while True:
            context = dg.build_sensor_context(
                instance=instance,
                instance_ref=instance.get_ref(),
                cursor=load_cursor(instance, origin),
                definitions=defs,
                sensor_name=SENSOR_NAME,
                resources=defs.resources,
            )
            data = sensor.evaluate_tick(context)
            for request in data.dynamic_partitions_requests or ():
                if isinstance(request, dg.AddDynamicPartitionsRequest):
                    instance.add_dynamic_partitions(
                        request.partitions_def_name, list(request.partition_keys)
                    )
            store_cursor(instance, origin, data.cursor, sensor.minimum_interval_seconds)
            for request in data.run_requests or ():
                _execute(instance, defs, request, summary)
            settling = [
                e for e in HashCache.from_json(data.cursor).entries.values() if e.sha256 is None
            ]
            summary.settling = len(settling)
            if not settling or time.monotonic() >= deadline:
                _build_marts(instance, defs, summary)
                _build_releases(instance, defs, summary)
                return summary
            time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))


# The terminal gets the summary; every run event still goes to the instance (and the UI).
QUIET_CONSOLE = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}


def _execute(
    instance: dg.DagsterInstance,
    defs: dg.Definitions,
    request: dg.RunRequest,
    summary: ProcessSummary,
) -> None:
    run_key = request.run_key or ""
    existing = instance.get_runs(
        filters=dg.RunsFilter(tags={RUN_KEY_TAG: run_key, SENSOR_NAME_TAG: SENSOR_NAME}),
        limit=1,
    )
    if existing:
        summary.skipped.append(run_key)
        return
    job_name = request.job_name or ""
    job = defs.resolve_job_def(job_name)
    tags = {**request.tags, RUN_KEY_TAG: run_key, SENSOR_NAME_TAG: SENSOR_NAME}
    result = job.execute_in_process(
        run_config={**request.run_config, **QUIET_CONSOLE},
        instance=instance,
        partition_key=request.partition_key,
        tags=tags,
        raise_on_error=False,
    )
    summary.run_ids.append(result.run_id)
    if job_name == QUARANTINE_JOB:
        cfg = request.run_config["ops"][QUARANTINE_OP]["config"]
        what = f"{display_name(cfg['path'])} ({cfg['check_id']})"
    else:
        what = request.partition_key or job_name
    if _quarantined(result):
        summary.quarantined.append(what)
    elif not result.success:
        summary.failed.append(f"{job_name} {what} (run {result.run_id})")
    elif job_name == QUARANTINE_JOB:
        summary.rejected.append(what)
    else:
        summary.processed.append(what)
        summary.accepted_registries.update(
            e.asset_key.path[1] for e in result.get_asset_materialization_events()
        )


def _build_marts(
    instance: dg.DagsterInstance, defs: dg.Definitions, summary: ProcessSummary
) -> None:
    """Run the marts job once if a dump of a registry the marts read was accepted.

    Once per ``kvalreg process``, not per dump: the marts read only the latest dumps, so one
    build after all ingestion runs gives the same result as one build per dump.
    """
    if not manifest_ready() or not (summary.accepted_registries & marts_registries()):
        return
    result = defs.resolve_job_def(MARTS_JOB).execute_in_process(
        run_config=QUIET_CONSOLE, instance=instance, raise_on_error=False
    )
    summary.run_ids.append(result.run_id)
    summary.marts_built = result.success
    if not result.success:
        summary.failed.append(f"{MARTS_JOB} (run {result.run_id})")


def _build_releases(
    instance: dg.DagsterInstance, defs: dg.Definitions, summary: ProcessSummary
) -> None:
    """Evaluate the release sensor after ingestion and marts (a release reads both), and run
    each request whose run key has no run yet, as the daemon would."""
    sensor = defs.resolve_sensor_def(RELEASE_SENSOR_NAME)
    context = dg.build_sensor_context(
        instance=instance,
        instance_ref=instance.get_ref(),
        definitions=defs,
        sensor_name=RELEASE_SENSOR_NAME,
        resources=defs.resources,
    )
    data = sensor.evaluate_tick(context)
    for add in data.dynamic_partitions_requests or ():
        if isinstance(add, dg.AddDynamicPartitionsRequest):
            instance.add_dynamic_partitions(add.partitions_def_name, list(add.partition_keys))
    for request in data.run_requests or ():
        run_key = request.run_key or ""
        tags = {**request.tags, RUN_KEY_TAG: run_key, SENSOR_NAME_TAG: RELEASE_SENSOR_NAME}
        if instance.get_runs(
            filters=dg.RunsFilter(
                tags={RUN_KEY_TAG: run_key, SENSOR_NAME_TAG: RELEASE_SENSOR_NAME}
            ),
            limit=1,
        ):
            summary.skipped.append(run_key)
            continue
        result = defs.resolve_job_def(RELEASE_JOB).execute_in_process(
            run_config=QUIET_CONSOLE,
            instance=instance,
            partition_key=request.partition_key,
            tags=tags,
            raise_on_error=False,
        )
        summary.run_ids.append(result.run_id)
        if not result.success:
            why = [_root_cause(e.step_failure_data.error) for e in result.get_step_failure_events()]
            summary.failed.append(
                f"{RELEASE_JOB} {request.partition_key} (run {result.run_id})"
                + "".join(f"\n    {line}" for w in why for line in w.splitlines())
            )
            continue
        for event in result.get_asset_materialization_events():
            meta = event.materialization.metadata
            where = [f"package {meta['archive'].value}"]
            if "linkage_archive" in meta:
                where.append(f"key file {meta['linkage_archive'].value}")
            summary.releases.append(f"{request.partition_key}: {', '.join(where)}")


def _root_cause(error: SerializableErrorInfo | None) -> str:
    """The innermost error's message (Dagster wraps the op's exception in its own)."""
    while error is not None and error.cause is not None:
        error = error.cause
    return "" if error is None else error.message.strip()


def _quarantined(result: dg.ExecuteInProcessResult) -> bool:
    """The run stopped only because its blocking fatal check failed: the dump was quarantined."""
    return any(
        not e.passed for e in result.get_asset_check_evaluations() if e.check_name == FATAL_CHECK
    )
