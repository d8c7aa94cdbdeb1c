"""Exports under ``KVALREG_HOME/exports``: what leaves the platform after a marts build.

* ``exports/imongr/indikatorer.csv``: the upload file for kvalitetsregistre.no (SKDE imongr):
  ``context, year, orgnr, ind_id, var, denominator``, suppressed cells left out.
* ``exports/imongr/ind.csv``: the indicator definitions in imongr's ``ind`` shape.
* ``exports/parquet/<mart>.parquet``: a copy of every mart, for analysts without DuckDB.

Every file is written beside its target under a temporary name, fsynced and renamed, so a
reader (or an rsync to the publishing host) never sees half a file. The caller holds the
warehouse lock through its connection, so the marts cannot change during the export.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import duckdb

from kvalreg.atomic import fsync_dir
from kvalreg.paths import Layout

MARTS_SCHEMA = "marts"
UPLOAD_MODEL = "mart_imongr_upload"
DEFINITIONS_MODEL = "mart_indicator_definitions"
UPLOAD_COLUMNS = ("context", "year", "orgnr", "ind_id", "var", "denominator")


@dataclass(frozen=True)
class ExportSummary:
    files: dict[str, Path]  # logical name -> written file
    upload_rows: int


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _copy_atomic(con: duckdb.DuckDBPyConnection, query: str, target: Path, options: str) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        escaped = str(tmp).replace("'", "''")
        con.execute(f"COPY ({query}) TO '{escaped}' ({options})")
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)


def mart_tables(con: duckdb.DuckDBPyConnection) -> list[str]:
    rows = con.execute(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
        "ORDER BY table_name",
        [MARTS_SCHEMA],
    ).fetchall()
    return [r[0] for r in rows]


def export_marts(con: duckdb.DuckDBPyConnection, layout: Layout) -> ExportSummary:
    """Write the imongr files and a Parquet copy of each mart; returns what was written."""
    out = layout.exports
    files: dict[str, Path] = {}
    tables = mart_tables(con)
    for table in tables:
        target = out / "parquet" / f"{table}.parquet"
        _copy_atomic(con, f"SELECT * FROM {MARTS_SCHEMA}.{_quote(table)}", target, "FORMAT parquet")
        files[f"parquet/{table}"] = target
    upload_rows = 0
    if UPLOAD_MODEL in tables:
        cols = ", ".join(UPLOAD_COLUMNS)
        query = (
            f"SELECT {cols} FROM {MARTS_SCHEMA}.{UPLOAD_MODEL} "
            "ORDER BY ind_id, context, year, orgnr"
        )
        target = out / "imongr" / "indikatorer.csv"
        _copy_atomic(con, query, target, "FORMAT csv, HEADER, DELIMITER ','")
        files["imongr/indikatorer"] = target
        upload_rows = con.execute(f"SELECT count(*) FROM ({query})").fetchall()[0][0]
    if DEFINITIONS_MODEL in tables:
        target = out / "imongr" / "ind.csv"
        _copy_atomic(
            con,
            f"SELECT * FROM {MARTS_SCHEMA}.{DEFINITIONS_MODEL} ORDER BY registry_id, id",
            target,
            "FORMAT csv, HEADER, DELIMITER ','",
        )
        files["imongr/ind"] = target
    return ExportSummary(files=files, upload_rows=upload_rows)
