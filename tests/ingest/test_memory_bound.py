"""Ingestion runs under its own DuckDB memory bound (``KVALREG_INGEST_MEMORY``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import duckdb
import pytest

from kvalreg.registry import Registry

from .conftest import Connect, Ingest, basis_row, csv_text


def three_records(ingtest: Registry) -> str:
    rows = [basis_row(PasientID=f"P{i}", ForlopsID=str(i)) for i in (1, 2, 3)]
    return csv_text(rows, ingtest.form("basis").columns)


def test_a_dump_is_ingested_under_the_configured_bound(
    land: Callable[..., Path],
    ingest: Ingest,
    connect: Connect,
    ingtest: Registry,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KVALREG_INGEST_MEMORY", "256MB")
    seen: list[str] = []

    @contextlib.contextmanager
    def recording() -> Iterator[duckdb.DuckDBPyConnection]:
        with connect() as con:
            yield con
            seen.append(con.execute("SELECT current_setting('memory_limit')").fetchone()[0])

    out = ingest(land(three_records(ingtest)), connect_fn=recording)
    assert out.status == "accepted", out.problems
    assert seen == ["244.1 MiB"]  # 256 MB as DuckDB prints it


def test_a_malformed_bound_is_refused_and_the_dump_stays_where_it_landed(
    land: Callable[..., Path], ingest: Ingest, ingtest: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVALREG_INGEST_MEMORY", "3GB'; DROP TABLE x; --")
    path = land(three_records(ingtest))
    with pytest.raises(ValueError, match="KVALREG_INGEST_MEMORY"):
        ingest(path)
    assert path.is_file()
