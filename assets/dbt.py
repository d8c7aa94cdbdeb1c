"""The dbt project as Dagster assets: staging, intermediate and marts, plus the exports.

* ``@dbt_assets`` over the manifest prepared at install time (``make dbt-manifest`` runs
  ``dbt parse``); the code location never parses on load, so loading stays fast and a broken
  model shows up at install, not as a dead code location.
* ``KvalregDbtTranslator`` maps each registry source table to the raw ingestion asset
  ``["raw", registry, form]`` (NPR included), so lineage runs from a delivered dump to the
  marts; assets are grouped by layer and registry.
* Every dbt invocation holds the warehouse lock: DuckDB allows one writer process and the
  daemon, UI runs and ``kvalreg process`` must queue rather than fail on its file lock.
* dbt tests become asset checks; error-severity tests are blocking, so an export never ships
  marts that failed a contract or an imongr rule.
* ``marts_after_ingest`` requests one marts build whenever a dump was accepted after the last
  successful export (stateless: it compares event storage ids, so ``kvalreg process``, which
  builds the marts itself, does not make the daemon build them again).
"""

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    DbtProject,
    dbt_assets,
)

from kvalreg.dbt_project import DBT_PROJECT_DIR
from kvalreg.indicators.export import export_marts
from kvalreg.paths import Layout
from kvalreg.warehouse import connect_holding_lock, table_columns, warehouse_lock
from resources import WarehouseResource
from resources.dbt import dbt_resource

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

MARTS_JOB = "build_marts"
MARTS_SENSOR = "marts_after_ingest"
EXPORTS_KEY = dg.AssetKey(["exports", "marts"])
_LAYER_OF_SCHEMA = {"staging": "staging", "intermediate": "intermediate", "marts": "marts"}
_REGISTRY_IN_NAME = re.compile(r"^(?:stg|int)_([a-z][a-z0-9_]*?)__")

dbt_project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)


def manifest_ready() -> bool:
    """Whether the install step prepared the manifest (``make dbt-manifest``)."""
    return Path(dbt_project.manifest_path).is_file()


@cache
def _manifest() -> dict[str, Any]:
    return json.loads(Path(dbt_project.manifest_path).read_text(encoding="utf-8"))


def marts_registries() -> frozenset[str]:
    """Registries whose raw tables the dbt project reads (from the sources' meta)."""
    found = set()
    for source in _manifest().get("sources", {}).values():
        registry = source.get("source_meta", {}).get("kvalreg", {}).get("registry")
        if registry:
            found.add(registry)
    return frozenset(found)


class KvalregDbtTranslator(DagsterDbtTranslator):
    """Asset keys, groups, descriptions and owners of dbt nodes in kvalreg terms.

    ``owners`` maps a registry to its owners (the contact in its ``registry.yaml``); a
    registry's staging and intermediate models get them, cross-registry marts have none.
    """

    def __init__(
        self,
        settings: DagsterDbtTranslatorSettings | None = None,
        owners: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        super().__init__(settings)
        self._owners = dict(owners or {})

    def get_owners(self, dbt_resource_props: Mapping[str, Any]) -> Sequence[str] | None:
        m = _REGISTRY_IN_NAME.match(dbt_resource_props["name"])
        if m and self._owners.get(m.group(1)):
            return list(self._owners[m.group(1)])
        return super().get_owners(dbt_resource_props)

    def get_asset_key(self, dbt_resource_props: Mapping[str, Any]) -> dg.AssetKey:
        if dbt_resource_props["resource_type"] == "source":
            registry = dbt_resource_props.get("source_meta", {}).get("kvalreg", {}).get("registry")
            if registry:
                return dg.AssetKey(["raw", registry, dbt_resource_props["name"]])
            return dg.AssetKey([dbt_resource_props["source_name"], dbt_resource_props["name"]])
        schema = dbt_resource_props.get("schema") or "dbt"
        return dg.AssetKey([schema, dbt_resource_props["name"]])

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        if dbt_resource_props["resource_type"] == "seed":
            return "reference"
        layer = _LAYER_OF_SCHEMA.get(dbt_resource_props.get("schema", ""), "dbt")
        m = _REGISTRY_IN_NAME.match(dbt_resource_props["name"])
        return f"{layer}_{m.group(1)}" if m else layer

    def get_description(self, dbt_resource_props: Mapping[str, Any]) -> str:
        # The model's own documentation, not its raw SQL: the macros make the SQL uninformative.
        text = dbt_resource_props.get("description") or ""
        return text or f"dbt {dbt_resource_props['resource_type']} {dbt_resource_props['name']}"


def with_column_schemas(events: Iterable[Any], layout: Layout) -> Iterator[Any]:
    """``events`` of a finished dbt run, each model's with its columns and types attached.

    One catalog query for all models, after dbt has exited (DuckDB admits no second process
    while dbt writes). dagster-dbt's ``fetch_column_metadata`` asks dbt's adapter once per
    model and computes column lineage with sqlglot: ≈ 30 s per build at 1M rows, and the
    column lineage is already in the variable catalogue (``metadata/catalogue``).
    """
    buffered = list(events)
    with connect_holding_lock(layout, read_only=True) as con:
        rows = table_columns(con)
    columns: dict[tuple[str, ...], list[dg.TableColumn]] = {}
    for schema, table, _, name, data_type in rows:
        columns.setdefault((schema, table), []).append(dg.TableColumn(name, data_type))
    for event in buffered:
        key = getattr(event, "asset_key", None)
        found = columns.get(tuple(key.path)) if key is not None else None
        if found and isinstance(event, dg.Output | dg.AssetMaterialization):
            schema = dg.TableMetadataSet(column_schema=dg.TableSchema(columns=found))
            event = event.with_metadata({**event.metadata, **schema})
        yield event


def build_dbt_assets(owners: Mapping[str, Sequence[str]] | None = None) -> dg.AssetsDefinition:
    translator = KvalregDbtTranslator(
        settings=DagsterDbtTranslatorSettings(enable_asset_checks=True), owners=owners
    )

    @dbt_assets(
        manifest=dbt_project.manifest_path,
        project=dbt_project,
        dagster_dbt_translator=translator,
        name="kvalreg_dbt",
    )
    def kvalreg_dbt(
        context: dg.AssetExecutionContext, dbt: DbtCliResource, warehouse: WarehouseResource
    ) -> Iterator[Any]:
        layout = warehouse.layout
        # The profile reads the warehouse path from this var, so the run writes the warehouse
        # of the resource's KVALREG_HOME even when the process env names another one.
        dbt_vars = json.dumps({"kvalreg_home": str(layout.home)})
        with warehouse_lock(layout):
            # Unit tests check the models' logic on fixed fixtures, not the data: they run in
            # `make test` (tests/dbt), not on every production build. One target folder per
            # home (not one per run) keeps dbt's partial-parse state, whose vars match this
            # home's: the install-time state has other vars, and a full parse costs ≈ 5 s.
            invocation = dbt.cli(
                ["build", "--vars", dbt_vars, "--exclude-resource-type", "unit_test"],
                context=context,
                target_path=layout.state / "dbt-target",
            )
            yield from with_column_schemas(invocation.stream(), layout)

    return kvalreg_dbt


def mart_keys() -> list[dg.AssetKey]:
    """Asset keys of the marts in the prepared manifest, as the translator names them."""
    translator = KvalregDbtTranslator()
    return [
        translator.get_asset_key(node)
        for node in _manifest().get("nodes", {}).values()
        if node["resource_type"] == "model" and node.get("schema") == "marts"
    ]


def build_exports_asset(dbt_assets_def: dg.AssetsDefinition) -> dg.AssetsDefinition:
    """The exports read every mart, so they depend on each of them."""
    marts = [k for k in dbt_assets_def.keys if k.path[0] == "marts"]

    @dg.asset(
        key=EXPORTS_KEY,
        deps=marts,
        group_name="exports",
        kinds={"parquet", "csv"},
        description=(
            "imongr upload file and indicator definitions (exports/imongr/) and a Parquet copy "
            "of every mart (exports/parquet/), written atomically under KVALREG_HOME."
        ),
    )
    def marts_exports(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        with warehouse.connect(read_only=True) as con:
            summary = export_marts(con, warehouse.layout)
        context.log.info(
            f"exported {len(summary.files)} file(s), {summary.upload_rows} upload rows"
        )
        return dg.MaterializeResult(
            metadata={
                "files": len(summary.files),
                "imongr_upload_rows": summary.upload_rows,
                "exports_dir": dg.MetadataValue.path(str(warehouse.layout.exports)),
            }
        )

    return marts_exports


def build_marts_job(*assets_defs: dg.AssetsDefinition) -> "UnresolvedAssetJobDefinition":
    return dg.define_asset_job(
        MARTS_JOB,
        selection=dg.AssetSelection.assets(*assets_defs),
        description=(
            "dbt build of staging, intermediate and marts, then the exports and the metadata "
            "(variable catalogue, DCAT-AP-NO, HTML, dbt docs)."
        ),
        executor_def=dg.in_process_executor,
    )


def _last_export_storage_id(instance: dg.DagsterInstance) -> int:
    records = instance.fetch_materializations(EXPORTS_KEY, limit=1).records
    return records[0].storage_id if records else 0


def newest_accepted_dump(
    instance: dg.DagsterInstance, raw_keys: list[dg.AssetKey], after_storage_id: int
) -> int | None:
    """Storage id of the newest accepted raw materialization after ``after_storage_id``."""
    newest = None
    for key in raw_keys:
        filt = dg.AssetRecordsFilter(asset_key=key, after_storage_id=after_storage_id)
        for record in instance.fetch_materializations(filt, limit=1000).records:
            mat = record.asset_materialization
            status = mat.metadata.get("status") if mat else None
            if status is not None and status.value == "accepted":
                newest = max(newest or 0, record.storage_id)
    return newest


def build_marts_sensor(
    job: "UnresolvedAssetJobDefinition", dbt_assets_def: dg.AssetsDefinition
) -> dg.SensorDefinition:
    raw_keys = sorted(
        (k for k in dbt_assets_def.dependency_keys if k.path[0] == "raw"),
        key=lambda k: k.to_string(),
    )

    @dg.sensor(
        name=MARTS_SENSOR,
        job=job,
        minimum_interval_seconds=30,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Rebuild the marts once after new dumps were accepted.",
    )
    def marts_after_ingest(context: dg.SensorEvaluationContext):
        newest = newest_accepted_dump(
            context.instance, raw_keys, _last_export_storage_id(context.instance)
        )
        if newest is None:
            return dg.SkipReason("no dump accepted since the last marts build")
        # One request per newest accepted dump: dumps accepted together share one build.
        return dg.RunRequest(run_key=f"marts:{newest}")

    return marts_after_ingest


def marts_definitions(
    metadata: dg.AssetsDefinition | None = None,
    owners: Mapping[str, Sequence[str]] | None = None,
) -> dg.Definitions:
    """The dbt assets, exports, marts job and sensor, with the dbt resource.

    ``metadata`` (assets/metadata.py, downstream of the marts) joins the marts job, so every
    marts build also regenerates the documentation; ``owners`` (registry -> owners) go on each
    registry's models.
    """
    dbt_def = build_dbt_assets(owners)
    exports = build_exports_asset(dbt_def)
    job = build_marts_job(dbt_def, exports, *([metadata] if metadata else []))
    return dg.Definitions(
        assets=[dbt_def, exports, *([metadata] if metadata else [])],
        jobs=[job],
        sensors=[build_marts_sensor(job, dbt_def)],
        resources={"dbt": dbt_resource(dbt_project)},
    )
