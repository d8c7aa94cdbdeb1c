"""All-or-nothing load of one dump: typed raw rows, DQ results and the dump's meta row.

Everything a dump changes in the warehouse happens in one DuckDB transaction, so a crash or an
error at any point leaves the warehouse exactly as before (a reader never sees half a dump, and
a re-run starts from a clean state). Rows are keyed by dump id and replaced, never appended
twice, which is what makes re-ingesting the same dump idempotent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import duckdb
import polars as pl

from kvalreg.dq.checks import Check, write_checks
from kvalreg.ingest.reader import quote_ident
from kvalreg.ingest.validate import ResultRow, Typed, sql_type
from kvalreg.registry import Form

META_DUMPS_DDL = """
CREATE TABLE IF NOT EXISTS meta.dumps (
    dump_id VARCHAR, registry VARCHAR, form VARCHAR, file_name VARCHAR, sha256 VARCHAR,
    bytes BIGINT, encoding VARCHAR, rows BIGINT, status VARCHAR,
    received_at TIMESTAMP, processed_at TIMESTAMP, stored_path VARCHAR
)"""

DQ_RESULTS_DDL = """
CREATE TABLE IF NOT EXISTS dq.results (
    dump_id VARCHAR, registry VARCHAR, form VARCHAR, check_id VARCHAR, dimension VARCHAR,
    kahn_category VARCHAR, kahn_subcategory VARCHAR, severity VARCHAR, variable VARCHAR,
    unit_resh VARCHAR, num_violated BIGINT, num_denominator BIGINT, pct DOUBLE,
    threshold_pct DOUBLE, status VARCHAR, evaluated_at TIMESTAMP
)"""

META_COLUMNS = (
    "_dump_id VARCHAR",
    "_source_row BIGINT",
    "_source_line BIGINT",
    "_loaded_at TIMESTAMP",
)

_RESULT_SCHEMA: dict[str, type[pl.DataType] | pl.DataType] = {
    "dump_id": pl.String,
    "registry": pl.String,
    "form": pl.String,
    "check_id": pl.String,
    "dimension": pl.String,
    "kahn_category": pl.String,
    "kahn_subcategory": pl.String,
    "severity": pl.String,
    "variable": pl.String,
    "unit_resh": pl.String,
    "num_violated": pl.Int64,
    "num_denominator": pl.Int64,
    "pct": pl.Float64,
    "threshold_pct": pl.Float64,
    "status": pl.String,
    "evaluated_at": pl.Datetime("us"),
}


@dataclass(frozen=True)
class DumpRecord:
    """The ``meta.dumps`` row of one dump (timestamps naive UTC, as DuckDB stores them)."""

    dump_id: str
    registry: str
    form: str
    file_name: str
    sha256: str
    bytes: int
    encoding: str | None
    rows: int
    status: str
    received_at: datetime
    processed_at: datetime
    stored_path: str


def raw_table(registry: str, form: str) -> str:
    return f"{quote_ident('raw_' + registry)}.{quote_ident(form)}"


def ensure_raw_table(con: duckdb.DuckDBPyConnection, registry: str, form: Form) -> str:
    """Create ``raw_<registry>.<form>`` if absent; add codebook variables it lacks.

    Adding columns (never dropping) lets a codebook grow without losing earlier dumps' rows.
    """
    schema = "raw_" + registry
    table = raw_table(registry, form.name)
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}")
    columns = [f"{quote_ident(v.name)} {sql_type(v)}" for v in form.variables]
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join([*columns, *META_COLUMNS])})")
    existing = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, form.name],
        ).fetchall()
    }
    for v in form.variables:
        if v.name not in existing:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {quote_ident(v.name)} {sql_type(v)}")
    return table


def _results_frame(
    results: Sequence[ResultRow],
    checks: Mapping[str, Check],
    *,
    dump_id: str,
    registry: str,
    form: str,
    evaluated_at: datetime,
) -> pl.DataFrame:
    rows = []
    for r in results:
        check = checks[r.check_id]
        # The severity that applied: a mass violation may have escalated it to fatal.
        severity = check.severity if r.pct is None else check.severity_for(r.pct)
        rows.append(
            {
                "dump_id": dump_id,
                "registry": registry,
                "form": form,
                "check_id": r.check_id,
                "dimension": check.dimension.value,
                "kahn_category": check.kahn_category.value,
                "kahn_subcategory": check.kahn_subcategory.value,
                "severity": severity.value,
                "variable": r.variable,
                "unit_resh": r.unit_resh,
                "num_violated": r.num_violated,
                "num_denominator": r.num_denominator,
                "pct": r.pct,
                "threshold_pct": check.threshold_pct,
                "status": r.status,
                "evaluated_at": evaluated_at,
            }
        )
    return pl.DataFrame(rows, schema=_RESULT_SCHEMA)


def commit(
    con: duckdb.DuckDBPyConnection,
    *,
    form: Form,
    dump: DumpRecord,
    typed: Typed | None,
    results: Sequence[ResultRow],
    checks: Mapping[str, Check],
) -> None:
    """Write one dump in a single transaction; ``typed`` None (a quarantine) leaves raw alone."""
    con.execute("BEGIN TRANSACTION")
    try:
        for schema in ("meta", "dq"):
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        con.execute(META_DUMPS_DDL)
        con.execute(DQ_RESULTS_DDL)
        write_checks(con, checks)
        if typed is not None:
            table = ensure_raw_table(con, dump.registry, form)
            con.execute(f"DELETE FROM {table} WHERE _dump_id = ?", [dump.dump_id])
            values = ", ".join(f"{c.typed} AS {quote_ident(c.var.name)}" for c in typed.columns)
            con.execute(
                f"INSERT INTO {table} BY NAME SELECT {values}, ? AS _dump_id, _source_row, "
                f"_source_line, ? AS _loaded_at FROM {typed.table} ORDER BY _source_row",
                [dump.dump_id, dump.processed_at],
            )
        con.execute("DELETE FROM dq.results WHERE dump_id = ?", [dump.dump_id])
        frame = _results_frame(
            results,
            checks,
            dump_id=dump.dump_id,
            registry=dump.registry,
            form=dump.form,
            evaluated_at=dump.processed_at,
        )
        con.register("_kv_new_results", frame)
        try:
            con.execute("INSERT INTO dq.results BY NAME SELECT * FROM _kv_new_results")
        finally:
            con.unregister("_kv_new_results")
        con.execute("DELETE FROM meta.dumps WHERE dump_id = ?", [dump.dump_id])
        con.execute(
            "INSERT INTO meta.dumps VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                dump.dump_id,
                dump.registry,
                dump.form,
                dump.file_name,
                dump.sha256,
                dump.bytes,
                dump.encoding,
                dump.rows,
                dump.status,
                dump.received_at,
                dump.processed_at,
                dump.stored_path,
            ],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
