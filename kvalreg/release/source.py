"""What a release reads from the warehouse: the latest accepted dump of each form.

Dumps are full snapshots, so (as in the dbt staging models) only the latest accepted dump of
a form is current, and an exactly repeated record counts once. Releases read the raw tables
rather than staging because they need the codebook's own column names and, for the key file
and the release log only, the fnr, which staging deliberately drops.
"""

from __future__ import annotations

from datetime import date

import duckdb
import polars as pl

from kvalreg.registry import Registry

OBSERVATIONS = "intermediate.int_indicator_observations"


def latest_dump(con: duckdb.DuckDBPyConnection, registry: str, form: str) -> str | None:
    rows = con.execute(
        "SELECT dump_id FROM meta.dumps WHERE registry = ? AND form = ? AND status = 'accepted' "
        "ORDER BY received_at DESC, processed_at DESC, dump_id DESC LIMIT 1",
        [registry, form],
    ).fetchall()
    return rows[0][0] if rows else None


def _has_table(con: duckdb.DuckDBPyConnection, qualified: str) -> bool:
    schema, table = qualified.split(".")
    return bool(
        con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = ?",
            [schema, table],
        ).fetchall()[0][0]
    )


def form_rows(
    con: duckdb.DuckDBPyConnection, registry: Registry, form: str, columns: list[str]
) -> tuple[pl.DataFrame, str | None]:
    """``columns`` of the current rows of one form, and the dump they come from."""
    dump = latest_dump(con, registry.name, form)
    every = registry.form(form).columns
    if dump is None or not _has_table(con, f"raw_{registry.name}.{form}"):
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String)), None
    quoted = ", ".join(f'"{c}"' for c in every)
    wanted = ", ".join(f'"{c}"' for c in columns)
    frame = con.sql(
        f'SELECT {wanted} FROM "raw_{registry.name}"."{form}" WHERE _dump_id = ? '
        f"QUALIFY row_number() OVER (PARTITION BY {quoted} ORDER BY _source_row) = 1",
        params=[dump],
    ).pl()
    return frame, dump


def event_range(
    con: duckdb.DuckDBPyConnection, registry: Registry, form: str
) -> tuple[date, date] | None:
    """First and last main event date in the current dump of the base form."""
    dump = latest_dump(con, registry.name, form)
    column = registry.keys.event_date
    if dump is None or column is None:
        return None
    lo, hi = con.execute(
        f'SELECT min("{column}"), max("{column}") FROM "raw_{registry.name}"."{form}" '
        "WHERE _dump_id = ?",
        [dump],
    ).fetchall()[0]
    return None if lo is None else (lo, hi)


def indicator_ids(con: duckdb.DuckDBPyConnection, registry: str) -> set[str]:
    """Indicators with per-episode results in the marts (empty if the marts are not built)."""
    if not _has_table(con, OBSERVATIONS):
        return set()
    rows = con.execute(
        f"SELECT DISTINCT ind_id FROM {OBSERVATIONS} WHERE registry = ?", [registry]
    ).fetchall()
    return {r[0] for r in rows}


def observations(
    con: duckdb.DuckDBPyConnection, registry: str, indicators: tuple[str, ...]
) -> pl.DataFrame:
    """Per-episode indicator results: ``episode_id, ind_id, year, hit, value``."""
    return con.sql(
        f"SELECT episode_id, ind_id, year, hit, value FROM {OBSERVATIONS} "
        "WHERE registry = ? AND list_contains(?, ind_id)",
        params=[registry, list(indicators)],
    ).pl()
