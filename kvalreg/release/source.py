"""What a release reads from the warehouse: the latest accepted dump of each form.

Dumps are full snapshots, so (as in the dbt staging models) only the latest accepted dump of
a form is current, and an exactly repeated record counts once (de-duplicated only in a dump
whose ingestion counted some, or did not count them). Releases read the raw tables
rather than staging because they need the codebook's own column names and, for the key file
and the release log only, the fnr, which staging deliberately drops.
"""

from __future__ import annotations

from collections.abc import Sequence
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


def duplicate_rows(con: duckdb.DuckDBPyConnection, dump: str) -> int | None:
    """Repeated records ingestion counted in ``dump``; None if not counted (a warehouse from
    before the count, which a read-only connection cannot migrate)."""
    counted = con.execute(
        "SELECT count(*) FROM information_schema.columns WHERE table_schema = 'meta' "
        "AND table_name = 'dumps' AND column_name = 'duplicate_rows'"
    ).fetchall()[0][0]
    if not counted:
        return None
    rows = con.execute("SELECT duplicate_rows FROM meta.dumps WHERE dump_id = ?", [dump]).fetchall()
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
    con: duckdb.DuckDBPyConnection,
    registry: Registry,
    form: str,
    columns: list[str],
    where: str = "true",
    params: Sequence[object] = (),
) -> tuple[pl.DataFrame, str | None]:
    """``columns`` of the current rows of one form matching the SQL condition ``where`` (with
    ``params``), and the dump they come from. Filtering in DuckDB keeps rows outside the
    cohort out of memory: at 10M registrations the whole form would not fit the budget."""
    dump = latest_dump(con, registry.name, form)
    every = registry.form(form).columns
    if dump is None or not _has_table(con, f"raw_{registry.name}.{form}"):
        return pl.DataFrame(schema=dict.fromkeys(columns, pl.String)), None
    quoted = ", ".join(f'"{c}"' for c in every)
    wanted = ", ".join(f'"{c}"' for c in columns)
    once = (
        ""
        if duplicate_rows(con, dump) == 0
        else f" QUALIFY row_number() OVER (PARTITION BY {quoted} ORDER BY _source_row) = 1"
    )
    frame = con.sql(
        f'SELECT {wanted} FROM "raw_{registry.name}"."{form}" '
        f"WHERE _dump_id = ? AND ({where}){once}",
        params=[dump, *params],
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
    con: duckdb.DuckDBPyConnection, registry: str, indicators: tuple[str, ...], episodes: str
) -> pl.DataFrame:
    """Per-episode indicator results ``episode_id, ind_id, year, hit, value`` of the episodes
    in the SQL relation ``episodes`` (one column)."""
    return con.sql(
        f"SELECT episode_id, ind_id, year, hit, value FROM {OBSERVATIONS} "
        f"WHERE registry = ? AND list_contains(?, ind_id) AND episode_id IN (FROM {episodes})",
        params=[registry, list(indicators)],
    ).pl()
