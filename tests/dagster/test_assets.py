"""Raw ingestion assets, materialised for real: temp Dagster instance, real DuckDB file."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from assets.raw import (
    FATAL_CHECK,
    TAG_LANDING_PATH,
    TAG_OUTCOME,
    TAG_SHA256,
    category_summary,
    check_results,
    column_schema,
    duckdb_type,
    problem_summary,
    raw_asset_key,
)
from kvalreg import landing
from kvalreg.codebook import Variable, VarType
from kvalreg.ingest.problems import Problem, Severity
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from orchestration.definitions import build_definitions
from orchestration.instance import open_instance
from resources import WarehouseResource

WriteDump = Callable[..., Path]
BASIS = raw_asset_key("orchtest", "basis")


@pytest.fixture
def instance(layout: Layout) -> Iterator[dg.DagsterInstance]:
    with open_instance(layout) as inst:
        yield inst


@pytest.fixture
def materialize(
    layout: Layout, registries: dict[str, Registry], instance: dg.DagsterInstance
) -> Callable[[Path, str], dg.ExecuteInProcessResult]:
    """Materialise raw/orchtest/basis for one landed file, tagged the way the sensor tags it."""
    defs = build_definitions(registries, WarehouseResource(kvalreg_home=str(layout.home)))
    job = defs.resolve_job_def("ingest_orchtest__basis")

    def run(path: Path, sha: str) -> dg.ExecuteInProcessResult:
        key = landing.dump_id(path.name, sha)
        instance.add_dynamic_partitions("orchtest__basis", [key])
        return job.execute_in_process(
            instance=instance,
            partition_key=key,
            tags={TAG_LANDING_PATH: str(path), TAG_SHA256: sha},
            raise_on_error=False,
        )

    return run


def _checks(result: dg.ExecuteInProcessResult) -> dict[str, bool]:
    return {e.check_name: e.passed for e in result.get_asset_check_evaluations()}


def _metadata(result: dg.ExecuteInProcessResult) -> dict[str, object]:
    (mat,) = result.asset_materializations_for_node("raw__orchtest__basis")
    return {k: v.value for k, v in mat.metadata.items()}


def _rows(layout: Layout, sql: str) -> list[tuple]:
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_accepted_dump_loads_rows_and_passes_checks(
    materialize: Callable, write_dump: WriteDump, valid_basis: str, layout: Layout
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", valid_basis)
    sha = landing.sha256_of(path)
    dump_id = landing.dump_id(path.name, sha)
    result = materialize(path, sha)
    assert result.success
    meta = _metadata(result)
    assert meta["status"] == "accepted" and meta["rows"] == 3
    assert meta["dump_id"] == dump_id and meta["sha256_short"] == sha[:12]
    assert meta["problems_fatal"] == 0
    assert not any("P000" in str(v) for v in meta.values()), "no identifier values in metadata"
    assert _checks(result) == {
        FATAL_CHECK: True,
        "conformance": True,
        "completeness": True,
        "plausibility": True,
    }
    assert not path.exists() and landing.archived_copy(layout, "orchtest", sha) is not None
    assert _rows(layout, "SELECT count(*), min(_dump_id) FROM raw_orchtest.basis") == [(3, dump_id)]
    assert _rows(layout, "SELECT status FROM meta.dumps") == [("accepted",)]


def test_re_execution_finds_the_archived_copy(
    materialize: Callable, write_dump: WriteDump, valid_basis: str, layout: Layout
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", valid_basis)
    sha = landing.sha256_of(path)
    assert materialize(path, sha).success
    again = materialize(path, sha)  # same tags; the landing file is gone by now
    assert again.success and _metadata(again)["status"] == "accepted"
    assert _rows(layout, "SELECT count(*) FROM raw_orchtest.basis") == [(3,)]


def test_quarantined_dump_fails_its_blocking_check_and_its_run(
    materialize: Callable,
    write_dump: WriteDump,
    broken_basis: str,
    layout: Layout,
    instance: dg.DagsterInstance,
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", broken_basis)
    result = materialize(path, landing.sha256_of(path))
    assert not result.success
    assert _checks(result)[FATAL_CHECK] is False
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.tags[TAG_OUTCOME] == "quarantined"
    meta = _metadata(result)
    assert meta["status"] == "quarantined" and meta["problems_fatal"] >= 1
    assert Path(str(meta["report_path"])).is_file()
    assert not path.exists()
    assert _rows(layout, "SELECT status FROM meta.dumps") == [("quarantined",)]


def test_data_problems_fail_their_kahn_check(
    materialize: Callable, write_dump: WriteDump, valid_basis: str
) -> None:
    out_of_range = valid_basis + "P0004;4;9900107;07.02.2024;150;1\r\n"  # Alder max is 120
    path = write_dump("orchtest_basis_20240301.csv", out_of_range)
    result = materialize(path, landing.sha256_of(path))
    assert result.success
    checks = _checks(result)
    assert checks[FATAL_CHECK] is True
    assert False in (checks["conformance"], checks["plausibility"])
    assert _metadata(result)["problems_error"] >= 1


def test_missing_dump_fails_the_run_clearly(materialize: Callable, layout: Layout) -> None:
    ghost = layout.landing_for("orchtest") / "orchtest_basis_20240301.csv"
    result = materialize(ghost, "0" * 64)
    assert not result.success
    assert "neither in landing nor in the archive" in str(
        result.failure_data_for_node("raw__orchtest__basis").error.message
    )


def test_asset_definition_documents_the_codebook(
    layout: Layout, registries: dict[str, Registry]
) -> None:
    defs = build_definitions(registries, WarehouseResource(kvalreg_home=str(layout.home)))
    spec = defs.get_assets_def(BASIS).specs_by_key[BASIS]
    assert spec.group_name == "raw_orchtest"
    assert "Orchestration test registry" in (spec.description or "")
    schema = spec.metadata["dagster/column_schema"]
    columns = {c.name: c for c in schema.columns}
    assert columns["Kjonn"].type == "BIGINT" and "2 = Kvinne" in (
        columns["Kjonn"].description or ""
    )
    assert columns["HovedDato"].type == "DATE"
    assert {"_dump_id", "_source_row", "_source_line", "_loaded_at"} <= set(columns)


@pytest.mark.parametrize(
    ("vtype", "kwargs", "expected"),
    [
        (VarType.NUMERIC, {"decimals": 0}, "BIGINT"),
        (VarType.NUMERIC, {"decimals": 1}, "DOUBLE"),
        (VarType.CODED, {"values": {"1": "a", "-1": "b"}}, "BIGINT"),
        (VarType.CODED, {"values": {"A": "a"}}, "VARCHAR"),
        (VarType.DATETIME, {}, "TIMESTAMP"),
        (VarType.TIME, {}, "TIME"),
        (VarType.BOOLEAN, {}, "BOOLEAN"),
        (VarType.DERIVED, {}, "VARCHAR"),
    ],
)
def test_duckdb_type(vtype: VarType, kwargs: dict, expected: str) -> None:
    assert duckdb_type(Variable("f", "v", "label", vtype, **kwargs)) == expected


def test_problem_counts_by_severity_and_category() -> None:
    problems = [
        Problem("value_range", Severity.ERROR, "m", "f.csv", count=7),
        Problem("value_plausible", Severity.WARNING, "m", "f.csv", count=2),
        Problem("file_columns_missing", Severity.FATAL, "m", "f.csv"),
    ]
    categories = {"value_range": "conformance", "value_plausible": "plausibility"}
    assert problem_summary(problems) == {
        "problems_fatal": 1,
        "problems_error": 1,
        "problems_warning": 1,
    }
    summary = category_summary(problems, categories)
    assert summary["conformance"] == {"errors": 1, "warnings": 0, "violations": 7}
    assert summary["plausibility"] == {"errors": 0, "warnings": 1, "violations": 2}
    results = {r.check_name: r.passed for r in check_results("accepted", problems, categories)}
    assert results == {
        FATAL_CHECK: True,
        "conformance": False,
        "completeness": True,
        "plausibility": True,
    }


def test_column_schema_marks_unique_columns(registries: dict[str, Registry]) -> None:
    form = registries["orchtest"].form("basis")
    columns = {c.name: c for c in column_schema(form).columns}
    assert columns["ForlopsID"].constraints.unique
    assert not columns["PasientID"].constraints.unique
