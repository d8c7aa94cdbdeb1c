"""What the warehouse knows that the codebooks do not: when a column held data, and counts.

Read-only and aggregate: every query returns counts, dates or dump ids, never a value of an
identifier column, so the results may go into published metadata and Dagster metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import duckdb

from kvalreg.ingest.reader import quote_ident
from kvalreg.registry import Registry


@dataclass(frozen=True)
class DumpSpan:
    """The first and last accepted dump (by arrival) with a value in a column."""

    first_dump: str
    last_dump: str
    first_received: datetime
    last_received: datetime
    dumps_with_values: int


@dataclass(frozen=True)
class RegistryStats:
    """Facts about the current data of a registry: its latest accepted base-form dump."""

    records: int
    individuals: int
    first_event: date | None
    last_event: date | None
    min_typical_age: float | None  # 5th percentile
    max_typical_age: float | None  # 95th percentile
    dumps: int
    last_dump: str | None
    last_received: date | None  # when the latest dump arrived: the data's modification date


@dataclass(frozen=True)
class Coverage:
    """Dekningsgrad against NPR over all units for the latest year in ``marts.mart_coverage``."""

    year: int
    dg_registry: float


def _table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> list[str]:
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
        [schema, table],
    ).fetchall()
    return [r[0] for r in rows]


def column_dump_spans(
    con: duckdb.DuckDBPyConnection, registry: str, form: str
) -> dict[str, DumpSpan]:
    """Per raw column, the first and last accepted dump whose rows hold a value in it.

    One scan of the raw table (non-null counts per dump); columns never filled are absent.
    """
    schema = f"raw_{registry}"
    columns = [c for c in _table_columns(con, schema, form) if not c.startswith("_")]
    if not columns or not _table_columns(con, "meta", "dumps"):
        return {}
    counts = ", ".join(f"count({quote_ident(c)})" for c in columns)
    rows = con.execute(
        f"SELECT r._dump_id, d.received_at, {counts} "
        f"FROM {quote_ident(schema)}.{quote_ident(form)} AS r "
        "JOIN meta.dumps AS d ON d.dump_id = r._dump_id AND d.status = 'accepted' "
        "GROUP BY r._dump_id, d.received_at, d.processed_at "
        "ORDER BY d.received_at, d.processed_at, r._dump_id"
    ).fetchall()
    spans: dict[str, DumpSpan] = {}
    for i, column in enumerate(columns, start=2):
        filled = [(r[0], r[1]) for r in rows if r[i]]
        if filled:
            (first, first_at), (last, last_at) = filled[0], filled[-1]
            spans[column] = DumpSpan(first, last, first_at, last_at, len(filled))
    return spans


def registry_stats(
    con: duckdb.DuckDBPyConnection, registry: Registry, age_variable: str | None
) -> RegistryStats | None:
    """Counts of the latest accepted base-form dump, or None before the first one."""
    base = next(f for f in registry.forms if f.role == "base")
    if not _table_columns(con, "meta", "dumps") or not _table_columns(
        con, f"raw_{registry.name}", base.name
    ):
        return None
    dumps = con.execute(
        "SELECT dump_id, received_at FROM meta.dumps "
        "WHERE registry = ? AND form = ? AND status = 'accepted' "
        "ORDER BY received_at DESC, processed_at DESC, dump_id DESC",
        [registry.name, base.name],
    ).fetchall()
    if not dumps:
        return None
    latest, received = dumps[0]
    person = registry.keys.fnr or registry.keys.patient
    event = registry.keys.event_date
    age = age_variable if age_variable in base.columns else None
    q = quote_ident
    select = [
        "count(*)",
        f"count(DISTINCT {q(person)})",
        f"min({q(event)})" if event else "NULL",
        f"max({q(event)})" if event else "NULL",
        f"quantile_cont({q(age)}, 0.05)" if age else "NULL",
        f"quantile_cont({q(age)}, 0.95)" if age else "NULL",
    ]
    ((records, individuals, first, last, lo, hi),) = con.execute(
        f"SELECT {', '.join(select)} FROM {q('raw_' + registry.name)}.{q(base.name)} "
        "WHERE _dump_id = ?",
        [latest],
    ).fetchall()
    return RegistryStats(
        records=records,
        individuals=individuals,
        first_event=_as_date(first),
        last_event=_as_date(last),
        min_typical_age=lo,
        max_typical_age=hi,
        dumps=len(dumps),
        last_dump=latest,
        last_received=_as_date(received),
    )


def _as_date(value: object) -> date | None:
    """A DATE column comes back as ``date``, a TIMESTAMP event date as ``datetime``."""
    if isinstance(value, datetime):
        return value.date()
    return value if isinstance(value, date) else None


def coverage(con: duckdb.DuckDBPyConnection, registry: str) -> Coverage | None:
    """DG_registry = (a+b)/(a+b+c) summed over units, latest year, if the mart exists."""
    if not _table_columns(con, "marts", "mart_coverage"):
        return None
    rows = con.execute(
        "SELECT year, sum(a + b) / sum(a + b + c) FROM marts.mart_coverage "
        "WHERE registry = ? GROUP BY year ORDER BY year DESC LIMIT 1",
        [registry],
    ).fetchall()
    return Coverage(int(rows[0][0]), float(rows[0][1])) if rows else None
