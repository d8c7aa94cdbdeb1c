"""The code location: every raw asset, its job, the quarantine job, the landing sensor, and
the release package asset with its job and sensor.

Job layout: one asset job per registry form (``ingest_<registry>__<form>``). A job carries a
single partitions definition and every form has its own dynamic partitions (its own dump
ids), so a per-registry job selecting several forms cannot exist. One job per form also
matches one run per delivered file, which is what an operator looks for in the UI.

Executor: in-process. Each ingestion run is a single step that holds the warehouse lock; the
multiprocess executor would only add a process start per step (≈ 1.35 s measured here).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import dagster as dg

from assets.dbt import manifest_ready, mart_keys, marts_definitions
from assets.delivery import build_npr_definitions
from assets.metadata import build_metadata_asset
from assets.quarantine import quarantine_landing_file
from assets.raw import build_raw_assets, build_raw_jobs, owners, raw_asset_key
from assets.release import build_release_asset, release_job
from kvalreg.landing import settle_seconds_from_env
from kvalreg.registry import Registry, load_registries
from resources import (
    DeliveryResource,
    WarehouseResource,
    delivery_resource_from_env,
    warehouse_resource_from_env,
)
from sensors import build_landing_sensor, build_release_sensor

# Dagster's own @sensor decorator passes its beta ``owners`` parameter on every sensor, which
# would print a BetaWarning on each `kvalreg process`; we do not use owners.
warnings.filterwarnings("ignore", message="Parameter `owners`", category=dg.BetaWarning)


def build_definitions(
    registries: Mapping[str, Registry] | None = None,
    warehouse: WarehouseResource | None = None,
    settle_seconds: float | None = None,
    delivery: DeliveryResource | None = None,
) -> dg.Definitions:
    """Definitions for the given registries and ``KVALREG_HOME`` (defaults: from the env).

    ``kvalreg process`` builds them for the ``Layout`` it was handed, the code server for the
    environment it was started in; both get the same assets, jobs and sensor.
    """
    regs = load_registries() if registries is None else registries
    raw_jobs = build_raw_jobs(regs)
    settle = settle_seconds_from_env() if settle_seconds is None else settle_seconds
    raw_keys = [raw_asset_key(r.name, f.name) for r in regs.values() for f in r.forms]
    ingestion = dg.Definitions(
        assets=[*build_raw_assets(regs), build_release_asset(regs)],
        jobs=[*raw_jobs, quarantine_landing_file, release_job],
        sensors=[
            build_landing_sensor(regs, [*raw_jobs, quarantine_landing_file], settle),
            build_release_sensor(release_job, settle),
        ],
        resources={
            "warehouse": warehouse or warehouse_resource_from_env(),
            "delivery": delivery or delivery_resource_from_env(),
        },
        executor=dg.in_process_executor,
    )
    # NPR coverage extracts and their SFTP delivery, with the yearly schedule.
    ingestion = dg.Definitions.merge(ingestion, build_npr_definitions(regs))
    # The marts (assets/dbt.py) need the dbt manifest that `make install` prepares; without
    # it the code location still serves ingestion, and says why the marts are missing.
    # The metadata (assets/metadata.py) is downstream of every raw asset and mart; with the
    # marts it joins their job, without them it can still be materialised on its own.
    if not manifest_ready():
        warnings.warn("dbt manifest missing: marts disabled; run `make dbt-manifest`", stacklevel=2)
        return dg.Definitions.merge(
            ingestion, dg.Definitions(assets=[build_metadata_asset(regs, raw_keys)])
        )
    metadata = build_metadata_asset(regs, [*raw_keys, *mart_keys()])
    owners_by_registry = {name: owners(reg) for name, reg in regs.items()}
    return dg.Definitions.merge(ingestion, marts_definitions(metadata, owners_by_registry))
