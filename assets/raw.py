"""Raw ingestion assets: one per registry form, one partition per dump.

Upstream of each raw asset is an external ``dump/<registry>/<form>`` asset (the delivered
export files), so the UI shows column lineage from the dump column to the raw column, and on
through dbt to the marts; the registry's contact (``metadata:`` in ``registry.yaml``) owns both.

Each asset is a thin shell around ``kvalreg.ingest.dump.ingest_dump``: it finds the dump's
bytes, calls the platform, and translates the outcome into Dagster metadata and asset check
results. Registries are data, so the assets are built by a factory over ``load_registries()``;
adding a registry folder adds its assets without code changes.

Why dynamic partitions: every dump is a full snapshot with its own identity (the dump id,
``<stem>@<sha256[:12]>``), so a partition per dump lets the UI show each delivery, its
outcome and its checks, and lets an operator re-execute exactly one delivery.
"""

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg

from kvalreg import landing
from kvalreg.codebook import Variable, VarType
from kvalreg.dq.checks import load_checks
from kvalreg.ingest.dump import ingest_dump
from kvalreg.ingest.problems import Problem, Severity
from kvalreg.metadata.dcat import MetadataConfigError, RegistryMetadata
from kvalreg.paths import Layout
from kvalreg.reference import known_resh
from kvalreg.registry import Form, Registry
from resources import WarehouseResource

if TYPE_CHECKING:
    from dagster._core.definitions.unresolved_asset_job_definition import (
        UnresolvedAssetJobDefinition,
    )

# Run tags set by the landing sensor (and by ``kvalreg process``) for an ingestion run.
TAG_LANDING_PATH = "kvalreg/landing_path"
TAG_SHA256 = "kvalreg/sha256"
# Set on the run once the dump is accepted or quarantined: a quarantined dump fails its run
# (blocking check), yet its bytes have been handled and must not be requested again.
TAG_OUTCOME = "kvalreg/outcome"

FATAL_CHECK = "accepted"
KAHN_CATEGORIES = ("conformance", "completeness", "plausibility")


def raw_asset_key(registry: str, form: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", registry, form])


def dump_asset_key(registry: str, form: str) -> dg.AssetKey:
    return dg.AssetKey(["dump", registry, form])


def owners(registry: Registry) -> list[str]:
    """The registry's contact e-mail from its ``metadata:`` section, if it has one."""
    try:
        return [RegistryMetadata.of(registry).contact_email]
    except MetadataConfigError:
        return []


def column_lineage(registry: str, form: Form) -> dg.TableColumnLineage:
    """Ingestion's column lineage: each raw column loads the dump column of the same name."""
    dump = dump_asset_key(registry, form.name)
    return dg.TableColumnLineage(
        deps_by_column={v.name: [dg.TableColumnDep(dump, v.name)] for v in form.variables}
    )


def build_dump_spec(registry: Registry, form: Form) -> dg.AssetSpec:
    """The delivered export files of a form, as an external asset: the start of the lineage.

    Dagster does not produce them (registration systems do), so they are declared, not
    materialised; each delivered file is a partition of the raw asset downstream.
    """
    schema = column_schema(form)
    return dg.AssetSpec(
        key=dump_asset_key(registry.name, form.name),
        group_name=f"raw_{registry.name}",
        description=(
            f"{registry.title}: export files (datadump) of form '{form.name}' from "
            f"{registry.system}, delivered into landing/{registry.name}/ and matched by "
            f"`{registry.file_pattern}`. Columns as in the codebook."
        ),
        metadata={
            "dagster/column_schema": dg.TableSchema(
                columns=[c for c in schema.columns if not c.name.startswith("_")]
            ),
            "registry": registry.name,
            "form": form.name,
        },
        owners=owners(registry),
        kinds={"csv"},
    )


def partitions_name(registry: str, form: str) -> str:
    return f"{registry}__{form}"


def partitions_def(registry: str, form: str) -> dg.DynamicPartitionsDefinition:
    return dg.DynamicPartitionsDefinition(name=partitions_name(registry, form))


def job_name(registry: str, form: str) -> str:
    return f"ingest_{registry}__{form}"


def duckdb_type(var: Variable) -> str:
    """The warehouse column type of a codebook variable (docs/architecture.md, raw schemas)."""
    if var.type is VarType.NUMERIC:
        return "BIGINT" if var.is_integer else "DOUBLE"
    if var.type is VarType.CODED:
        return "BIGINT" if var.values and all(_is_int(c) for c in var.values) else "VARCHAR"
    return {
        VarType.DATE: "DATE",
        VarType.DATETIME: "TIMESTAMP",
        VarType.TIME: "TIME",
        VarType.BOOLEAN: "BOOLEAN",
    }.get(var.type, "VARCHAR")


def _is_int(code: str) -> bool:
    return code.lstrip("-").isdigit()


def column_schema(form: Form) -> dg.TableSchema:
    """The raw table's columns, documented from the codebook, plus the lineage columns."""
    columns = [
        dg.TableColumn(
            name=v.name,
            type=duckdb_type(v),
            description=v.describe(),
            constraints=dg.TableColumnConstraints(nullable=True, unique=v.unique),
        )
        for v in form.variables
    ]
    columns += [
        dg.TableColumn("_dump_id", "VARCHAR", "the dump (partition key) the row came from"),
        dg.TableColumn("_source_row", "BIGINT", "data record number in the dump (1 = first)"),
        dg.TableColumn("_source_line", "BIGINT", "physical line where the record starts"),
        dg.TableColumn("_loaded_at", "TIMESTAMP", "when the dump was loaded"),
    ]
    return dg.TableSchema(columns=columns)


def kahn_categories() -> dict[str, str]:
    """Check id → Kahn category, from the check registry (``kvalreg/dq/checks.yaml``)."""
    return {cid: c.kahn_category.value for cid, c in load_checks().items()}


def problem_summary(problems: Iterable[Problem]) -> dict[str, int]:
    """Counts by severity, always with every severity present (stable metadata keys)."""
    counts = Counter(p.severity for p in problems)
    return {f"problems_{s.value}": counts.get(s, 0) for s in Severity}


def category_summary(
    problems: Sequence[Problem], categories: Mapping[str, str]
) -> dict[str, dict[str, int]]:
    """Per Kahn category: number of problems and of violating records, by severity.

    ``categories`` maps check id → Kahn category (from the check registry); problems whose
    check is not a conformance/completeness/plausibility check are not counted here.
    """
    out = {c: {"errors": 0, "warnings": 0, "violations": 0} for c in KAHN_CATEGORIES}
    for p in problems:
        cat = categories.get(p.check_id)
        if cat not in out or p.severity is Severity.FATAL:
            continue
        out[cat]["errors" if p.severity is Severity.ERROR else "warnings"] += 1
        out[cat]["violations"] += p.count
    return out


def check_specs(registry: str, form: str) -> list[dg.AssetCheckSpec]:
    key = raw_asset_key(registry, form)
    specs = [
        dg.AssetCheckSpec(
            FATAL_CHECK,
            asset=key,
            blocking=True,
            description=(
                "The dump was accepted: no fatal problem (unreadable file, wrong header, "
                "unknown encoding ...). Fails when the dump was quarantined."
            ),
        )
    ]
    specs += [
        dg.AssetCheckSpec(
            cat,
            asset=key,
            description=f"No error-level {cat} problem in the dump (Kahn {cat} checks).",
        )
        for cat in KAHN_CATEGORIES
    ]
    return specs


def check_results(
    status: str, problems: Sequence[Problem], categories: Mapping[str, str]
) -> list[dg.AssetCheckResult]:
    """Asset check results for one ingested dump; metadata holds counts, never values.

    The fatal check is blocking with ERROR severity: a quarantined dump fails its run, so the
    UI shows it in red with the report path, and nothing downstream is rebuilt from it.
    ``kvalreg process`` tells such runs apart from real failures by this check.
    """
    fatal = sum(1 for p in problems if p.severity is Severity.FATAL)
    results = [
        dg.AssetCheckResult(
            check_name=FATAL_CHECK,
            passed=status == "accepted",
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"status": status, "fatal_problems": fatal},
        )
    ]
    for cat, counts in category_summary(problems, categories).items():
        results.append(
            dg.AssetCheckResult(
                check_name=cat,
                passed=counts["errors"] == 0,
                severity=dg.AssetCheckSeverity.WARN,
                metadata=dict(counts),
            )
        )
    return results


def locate_dump(layout: Layout, tags: Mapping[str, str], registry: str) -> Path:
    """The dump's bytes: the landing file named in the run tags, or its archived copy.

    A re-executed run (or the daemon and ``kvalreg process`` racing for the same dump) may
    find the landing file already archived; the archive is content-addressed, so the copy
    with the tagged SHA-256 is the same dump.
    """
    sha = tags.get(TAG_SHA256)
    raw_path = tags.get(TAG_LANDING_PATH)
    if not sha or not raw_path:
        raise dg.Failure(
            f"run has no {TAG_LANDING_PATH!r}/{TAG_SHA256!r} tags; ingestion runs are "
            "started by the landing sensor or `kvalreg process`"
        )
    path = Path(raw_path)
    if path.is_file() and not path.is_symlink() and landing.sha256_of(path) == sha:
        return path
    archived = landing.archived_copy(layout, registry, sha)
    if archived is not None:
        return archived
    raise dg.Failure(
        f"dump {landing.display_name(path)!r} with SHA-256 {sha[:12]}… is neither in landing "
        "nor in the archive (was it changed or removed?)"
    )


def build_raw_asset(registry: Registry, form: Form) -> dg.AssetsDefinition:
    key = raw_asset_key(registry.name, form.name)

    @dg.asset(
        key=key,
        deps=[dump_asset_key(registry.name, form.name)],
        owners=owners(registry),
        group_name=f"raw_{registry.name}",
        description=(
            f"{registry.title}: form '{form.name}' ({form.role}), raw rows of every accepted "
            f"dump as typed columns, in DuckDB table raw_{registry.name}.{form.name}. "
            f"One partition per delivered dump (file pattern `{registry.file_pattern}`)."
        ),
        partitions_def=partitions_def(registry.name, form.name),
        check_specs=check_specs(registry.name, form.name),
        metadata={
            "dagster/column_schema": column_schema(form),
            "dagster/column_lineage": column_lineage(registry.name, form),
            "dagster/table_name": f"raw_{registry.name}.{form.name}",
            "registry": registry.name,
            "form": form.name,
            "system": registry.system,
        },
        kinds={"duckdb"},
    )
    def raw_form(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        return ingest_partition(context, warehouse, registry, form)

    return raw_form


def ingest_partition(
    context: dg.AssetExecutionContext,
    warehouse: WarehouseResource,
    registry: Registry,
    form: Form,
) -> dg.MaterializeResult:
    layout = warehouse.layout
    source = locate_dump(layout, context.run.tags, registry.name)
    outcome = ingest_dump(
        source,
        registry,
        form,
        layout=layout,
        dump_id=context.partition_key,
        sha256=context.run.tags[TAG_SHA256],
        known_units=frozenset(known_resh()),
        connect=warehouse.connect,
    )
    context.instance.add_run_tags(context.run.run_id, {TAG_OUTCOME: outcome.status})
    context.log.info(
        f"dump {outcome.dump_id}: {outcome.status}, {outcome.rows} rows, "
        f"{len(outcome.problems)} problems"
    )
    metadata: dict[str, dg.RawMetadataValue] = {
        "status": outcome.status,
        "dump_id": outcome.dump_id,
        "sha256_short": outcome.sha256[:12],
        "rows": outcome.rows,
        "encoding": outcome.encoding or "unknown",
        "stored_path": dg.MetadataValue.path(str(outcome.stored_path)),
        **problem_summary(outcome.problems),
    }
    if outcome.status == "accepted":
        metadata["dagster/row_count"] = outcome.rows
        metadata["dagster/column_lineage"] = column_lineage(registry.name, form)
    if outcome.report_path is not None:
        metadata["report_path"] = dg.MetadataValue.path(str(outcome.report_path))
    return dg.MaterializeResult(
        metadata=metadata,
        check_results=check_results(outcome.status, outcome.problems, kahn_categories()),
    )


def build_raw_assets(
    registries: Mapping[str, Registry],
) -> list[dg.AssetsDefinition | dg.AssetSpec]:
    """Per form: the external dump asset and the raw asset ingesting it."""
    return [
        asset
        for r in registries.values()
        for f in r.forms
        for asset in (build_dump_spec(r, f), build_raw_asset(r, f))
    ]


def build_raw_jobs(registries: Mapping[str, Registry]) -> list["UnresolvedAssetJobDefinition"]:
    """One job per form: a job can only carry one partitions definition, and each form has its
    own dynamic partitions (its own dump ids)."""
    return [
        dg.define_asset_job(
            job_name(r.name, f.name),
            selection=dg.AssetSelection.assets(raw_asset_key(r.name, f.name)),
            description=f"Ingest one {r.name} '{f.name}' dump (one partition = one dump).",
        )
        for r in registries.values()
        for f in r.forms
    ]
