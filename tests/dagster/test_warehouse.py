"""``kvalreg.warehouse.connect``: a second process waits for the lock instead of failing."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kvalreg import warehouse
from kvalreg.paths import Layout

REPO = Path(__file__).resolve().parents[2]

# Holds a write connection for ``hold`` seconds, printing "locked" once it has it.
HOLDER = """
import sys, time
from pathlib import Path
from kvalreg import warehouse
from kvalreg.paths import Layout
with warehouse.connect(Layout(Path(sys.argv[1]))) as con:
    con.execute("CREATE TABLE IF NOT EXISTS t (who VARCHAR, ts DOUBLE)")
    con.execute("INSERT INTO t VALUES ('holder', ?)", [time.time()])
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def _start_holder(layout: Layout, hold: float) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(layout.home), str(hold)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    return proc


def test_second_process_waits_for_the_first(layout: Layout) -> None:
    holder = _start_holder(layout, hold=1.5)
    try:
        started = time.monotonic()
        with warehouse.connect(layout, timeout=30) as con:
            waited = time.monotonic() - started
            con.execute("INSERT INTO t VALUES ('waiter', ?)", [time.time()])
            rows = con.execute("SELECT who FROM t ORDER BY ts").fetchall()
    finally:
        assert holder.wait(timeout=30) == 0
    assert waited > 1.0, "the second connection must have waited for the lock"
    assert rows == [("holder",), ("waiter",)]


def test_timeout_gives_a_clear_error(layout: Layout) -> None:
    holder = _start_holder(layout, hold=3)
    try:
        with (
            pytest.raises(warehouse.WarehouseLockTimeout, match="warehouse lock"),
            warehouse.connect(layout, timeout=0.3),
        ):
            pass
    finally:
        holder.kill()
        holder.wait()


def test_lock_is_released_after_use_and_read_only_works(layout: Layout) -> None:
    with warehouse.connect(layout) as con:
        con.execute("CREATE TABLE t AS SELECT 42 AS x")
    with warehouse.connect(layout, read_only=True, timeout=0.5) as con:
        assert con.execute("SELECT x FROM t").fetchall() == [(42,)]
        with pytest.raises(Exception, match="read-only"):
            con.execute("CREATE TABLE u (x INT)")


def test_timeout_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KVALREG_WAREHOUSE_LOCK_TIMEOUT", "12.5")
    assert warehouse.lock_timeout_from_env() == 12.5
    monkeypatch.delenv("KVALREG_WAREHOUSE_LOCK_TIMEOUT")
    assert warehouse.lock_timeout_from_env() == warehouse.DEFAULT_LOCK_TIMEOUT_SECONDS


def test_a_malformed_memory_bound_is_refused_naming_the_variable(
    layout: Layout, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVALREG_DUCKDB_MEMORY", "1GB'; DROP TABLE x; --")
    with pytest.raises(ValueError, match="KVALREG_DUCKDB_MEMORY"), warehouse.connect(layout):
        pass
    monkeypatch.setenv("KVALREG_DUCKDB_MEMORY", "512MB")
    with warehouse.connect(layout) as con:
        assert con.execute("SELECT current_setting('memory_limit')").fetchone() is not None
