"""DuckDB connections to the warehouse, serialised across processes by a file lock.

DuckDB lets only one process open a database file for writing; a second process gets an
immediate "could not set lock" error. The Dagster daemon's runs, runs launched from the UI
and ``kvalreg process`` all write the same file, so every connection is opened through
:func:`connect`, which first takes an exclusive ``flock`` on ``warehouse.lock`` and holds it
for the connection's lifetime. A contending process therefore *waits* (up to a timeout that
produces a clear error) instead of failing on DuckDB's own lock.

Read-only connections take the same exclusive lock: DuckDB refuses a read-only open while
another process holds the file for writing, so sharing the lock would only move the failure.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager

import duckdb

from kvalreg.paths import Layout

DEFAULT_LOCK_TIMEOUT_SECONDS = 600.0
_POLL_SECONDS = 0.05


class WarehouseLockTimeout(TimeoutError):
    """Another process held the warehouse lock for longer than we were willing to wait."""


def lock_timeout_from_env() -> float:
    """``KVALREG_WAREHOUSE_LOCK_TIMEOUT`` (seconds) lets operators bound waits, e.g. in tests."""
    raw = os.environ.get("KVALREG_WAREHOUSE_LOCK_TIMEOUT", "")
    return float(raw) if raw.strip() else DEFAULT_LOCK_TIMEOUT_SECONDS


@contextmanager
def warehouse_lock(layout: Layout, timeout: float | None = None) -> Iterator[None]:
    """Hold the exclusive cross-process warehouse lock for the ``with`` block.

    ``flock`` is released by the kernel when the process dies, so a crashed run never leaves
    a stale lock behind (unlike a lock *file* whose existence is the lock).
    """
    wait = lock_timeout_from_env() if timeout is None else timeout
    layout.warehouse_lock.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.warehouse_lock, os.O_RDWR | os.O_CREAT, 0o640)
    try:
        deadline = time.monotonic() + wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise WarehouseLockTimeout(
                        f"waited {wait:.0f} s for the warehouse lock {layout.warehouse_lock}; "
                        "another kvalreg process (daemon run, UI run or `kvalreg process`) "
                        "is still writing the warehouse"
                    ) from None
                time.sleep(_POLL_SECONDS)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def duckdb_config() -> dict[str, str]:
    """DuckDB settings of every warehouse connection.

    ``memory_limit`` (``KVALREG_DUCKDB_MEMORY``, default 1GB) bounds what DuckDB keeps in
    memory; beyond it, temporary tables, joins and sorts spill to DuckDB's temporary
    directory beside the database file, so a 10M-row dump needs disk, not 16 GB of RAM.
    dbt's connections have their own bound, ``KVALREG_DBT_MEMORY`` (``dbt_project/profiles.yml``),
    and ingestion sets its own on its connection (:func:`ingest_memory_limit`).
    """
    return {"memory_limit": memory_setting("KVALREG_DUCKDB_MEMORY", "1GB")}


_MEMORY = re.compile(r"\d+(\.\d+)?\s*[KMGT]i?B", re.IGNORECASE)


def memory_setting(variable: str, default: str) -> str:
    """A DuckDB memory size from environment ``variable``: refused with a message naming the
    variable unless it is a plain size (it is interpolated into ``SET memory_limit``)."""
    value = os.environ.get(variable, default).strip()
    if not _MEMORY.fullmatch(value):
        raise ValueError(f"{variable}={value!r}: expected a size such as 3GB or 512MB")
    return value


def ingest_memory_limit() -> str:
    """DuckDB's memory bound while one dump is ingested (``KVALREG_INGEST_MEMORY``, default
    3GB, as dbt's): ingestion holds three copies of a dump (text, typed, the warehouse
    write), and under 1 GB a large dump spills: 3M rows 22.8 -> 18.7 s under 3 GB (peak RSS
    1.2 -> 2.7 GB), 10M rows 95.5 -> 81.9 s (1.3 -> 3.3 GB); a 1M-row dump takes 1.1 GB
    either way. Ingestion runs alone, so the bound adds nothing to the peak of a whole run,
    set by the release build (6.4 GB at 10M rows)."""
    return memory_setting("KVALREG_INGEST_MEMORY", "3GB")


@contextmanager
def connect(
    layout: Layout, read_only: bool = False, timeout: float | None = None
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB connection to ``layout.warehouse``, holding the warehouse lock while open.

    ``read_only`` needs an existing database file (DuckDB cannot create one read-only).
    """
    with warehouse_lock(layout, timeout):
        if not read_only:
            layout.warehouse.parent.mkdir(parents=True, exist_ok=True)
        with connect_holding_lock(layout, read_only) as con:
            yield con


def connect_holding_lock(layout: Layout, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection for a caller that already holds :func:`warehouse_lock`.

    (``flock`` locks belong to an open file, so taking the lock again in the same process
    would wait for itself.) Use it as a context manager so it is closed.
    """
    return duckdb.connect(str(layout.warehouse), read_only=read_only, config=duckdb_config())


def table_columns(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, str, str, str]]:
    """Every column of every table and view: (schema, table, table type, column, data type),
    in schema, table and column order."""
    return con.execute(
        "SELECT table_schema, table_name, table_type, column_name, data_type "
        "FROM information_schema.columns JOIN information_schema.tables "
        "USING (table_catalog, table_schema, table_name) "
        "ORDER BY table_schema, table_name, ordinal_position"
    ).fetchall()
