"""NPR coverage extract and its delivery as assets, with a yearly schedule.

Per registry that has an ``npr_extract`` section: ``npr/<registry>/extract`` (depends on the
registry's raw base form) writes the two files via ``kvalreg.npr_extract``; and
``npr/<registry>/delivery`` (depends on the extract) hands them to ``kvalreg.delivery``.
The delivery's materialization carries its ledger entry as metadata (ids, file names, sizes,
SHA-256, remote paths, times, outcome; never keys or identifiers). Network failures retry by
``DELIVERY_RETRY``; failures an operator must fix (refused certificate or login, changed host
key, missing directory) fail at once without retries. A re-run of a completed delivery sends
nothing (the ledger) and says so in its metadata.
"""

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import dagster as dg

from assets.raw import raw_asset_key
from kvalreg.delivery.certs import CertificateRefused
from kvalreg.delivery.config import ConfigError
from kvalreg.delivery.deliver import DeliveryFailed, deliver
from kvalreg.delivery.package import Item
from kvalreg.npr_extract import ExtractSpec, build_npr_extract, default_year
from kvalreg.registry import Registry
from resources import DeliveryResource, WarehouseResource

NPR_JOB = "npr_coverage_delivery"
NPR_SCHEDULE = "npr_coverage_yearly"
NPR_RECIPIENT = "npr"
DELIVERY_RETRY = dg.RetryPolicy(max_retries=3, delay=60, backoff=dg.Backoff.EXPONENTIAL)


class ExtractConfig(dg.Config):
    year: int = 0  # 0: last calendar year (or the latest year with completed forms)


def extract_key(registry: str) -> dg.AssetKey:
    return dg.AssetKey(["npr", registry, "extract"])


def delivery_key(registry: str) -> dg.AssetKey:
    return dg.AssetKey(["npr", registry, "delivery"])


def npr_registries(registries: Mapping[str, Registry]) -> list[Registry]:
    return [r for _, r in sorted(registries.items()) if ExtractSpec.of(r) is not None]


def _extract_asset(reg: Registry) -> dg.AssetsDefinition:
    spec = ExtractSpec.of(reg)
    assert spec is not None

    @dg.asset(
        key=extract_key(reg.name),
        deps=[raw_asset_key(reg.name, spec.form)],
        group_name="npr",
        description=f"NPR coverage-analysis extract of {reg.name} (link + activity file)",
        kinds={"csv"},
    )
    def _extract(
        context: dg.AssetExecutionContext, config: ExtractConfig, warehouse: WarehouseResource
    ) -> dict:
        layout = warehouse.layout
        with warehouse.connect(read_only=True) as con:
            year = config.year or default_year(con, reg, date.today())
            if not year:
                raise dg.Failure(f"{reg.name}: no accepted dump with completed forms yet")
            ext = build_npr_extract(con, reg, year, layout.exports / "npr" / reg.name / str(year))
        context.add_output_metadata(
            {
                "year": year,
                "dump_id": ext.dump_id,
                "persons": ext.persons,
                "activities": ext.activities,
                "link_file": dg.MetadataValue.path(str(ext.link)),
                "activity_file": dg.MetadataValue.path(str(ext.activity)),
            }
        )
        return {"year": year, "files": [[n, str(p)] for n, p in ext.files()]}

    return _extract


def _delivery_asset(reg: Registry) -> dg.AssetsDefinition:
    @dg.asset(
        key=delivery_key(reg.name),
        ins={"extract": dg.AssetIn(key=extract_key(reg.name))},
        group_name="npr",
        description=f"{reg.name}'s NPR extract, signed, encrypted and delivered by SFTP",
        retry_policy=DELIVERY_RETRY,
        kinds={"sftp"},
    )
    def _delivery(
        context: dg.AssetExecutionContext, extract: dict, delivery: DeliveryResource
    ) -> dg.MaterializeResult:
        items = [Item(name, Path(path)) for name, path in extract["files"]]
        label = f"npr-{reg.name}-{extract['year']}"
        try:
            result = deliver(delivery.layout, delivery.config(), NPR_RECIPIENT, label, items)
        except (CertificateRefused, ConfigError) as exc:
            raise dg.Failure(str(exc), allow_retries=False) from None
        except DeliveryFailed as exc:
            if not exc.retryable:
                raise dg.Failure(str(exc), allow_retries=False) from None
            raise
        rec = result.record
        context.log.info(f"{result.action}: {rec.delivery_id} -> {rec.remote_dir}")
        return dg.MaterializeResult(
            metadata={
                "action": result.action,
                "delivery_id": rec.delivery_id,
                "recipient": rec.recipient,
                "status": rec.status,
                "remote_dir": rec.remote_dir,
                "started_at": rec.started_at,
                "ended_at": rec.ended_at or "",
                "attempts": rec.attempts,
                "files": dg.MetadataValue.json(rec.files),
                "remote_paths": dg.MetadataValue.json([u["remote_path"] for u in rec.uploads]),
            }
        )

    return _delivery


def build_npr_definitions(registries: Mapping[str, Registry]) -> dg.Definitions:
    regs = npr_registries(registries)
    assets = [a for r in regs for a in (_extract_asset(r), _delivery_asset(r))]
    keys = [k for r in regs for k in (extract_key(r.name), delivery_key(r.name))]
    job = dg.define_asset_job(NPR_JOB, selection=keys) if keys else None
    # Coverage analysis covers a closed year: each 15 February, last year's extract is built
    # and delivered.
    schedules = (
        [
            dg.ScheduleDefinition(
                name=NPR_SCHEDULE,
                job=job,
                cron_schedule="0 6 15 2 *",
                execution_timezone="Europe/Oslo",
                default_status=dg.DefaultScheduleStatus.RUNNING,
            )
        ]
        if job
        else []
    )
    return dg.Definitions(assets=assets, jobs=[job] if job else [], schedules=schedules)
