"""Fixtures for the ingest tests: fixture registries, a temp layout and a real DuckDB file."""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import date
from pathlib import Path

import duckdb
import pytest

from kvalreg.fnr import make_tenor
from kvalreg.ingest.dump import IngestOutcome, ingest_dump
from kvalreg.paths import Layout
from kvalreg.registry import Registry, load_registry

FIXTURES = Path(__file__).parents[1] / "fixtures" / "registries"
UNITS = frozenset({"100", "200"})


def tenor(day: int, individual: int) -> str:
    """A valid synthetic (Tenor) fnr: never a real person's number."""
    value = make_tenor(date(1980, 5, day), individual)
    assert value is not None
    return value


def basis_row(**overrides: str) -> dict[str, str]:
    """A valid ``ingtest`` basis record; tests override single fields to plant defects."""
    row = {
        "PasientID": "P1",
        "Fnr": "",
        "ForlopsID": "1",
        "AvdRESH": "100",
        "HovedDato": "01.02.2024",
        "UtskrDato": "03.02.2024",
        "Fodselsdato": "17.05.1980",
        "InnKl": "10:15",
        "RegTid": "01.02.2024 10:20",
        "Alder": "71",
        "Vekt": "80,5",
        "Kjonn": "1",
        "Diagnose": "I63",
        "Royker": "0",
        "Kommentar": "",
    }
    unknown = set(overrides) - set(row)
    assert not unknown, unknown
    return row | overrides


def csv_text(
    rows: Sequence[Mapping[str, str]],
    columns: Sequence[str],
    *,
    sep: str = ";",
    eol: str = "\r\n",
) -> str:
    """Rows joined as CSV; values are written verbatim so tests control quoting exactly."""
    lines = [sep.join(columns)]
    lines += [sep.join(r[c] for c in columns) for r in rows]
    return eol.join(lines) + eol


@pytest.fixture
def ing_layout(tmp_path: Path) -> Layout:
    return Layout((tmp_path / "home").resolve()).ensure(["ingtest", "ingcomma"])


@pytest.fixture
def ingtest() -> Registry:
    return load_registry(FIXTURES / "ingtest")


@pytest.fixture
def ingcomma() -> Registry:
    return load_registry(FIXTURES / "ingcomma")


Connect = Callable[[], contextlib.AbstractContextManager[duckdb.DuckDBPyConnection]]


@pytest.fixture
def connect(tmp_path: Path) -> Connect:
    db = tmp_path / "w.duckdb"

    @contextlib.contextmanager
    def _connect() -> Iterator[duckdb.DuckDBPyConnection]:
        con = duckdb.connect(str(db))
        try:
            yield con
        finally:
            con.close()

    return _connect


def sha256_of(path: Path) -> str:
    """Streamed, so that the large-file test measures ingest and not the test's own hashing."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


Ingest = Callable[..., IngestOutcome]


@pytest.fixture
def land(ing_layout: Layout) -> Callable[..., Path]:
    """Write bytes (or UTF-8 text) into ``landing/<registry>/<name>``."""

    def write(content: str | bytes, name: str = "ingtest_basis_20240201.csv") -> Path:
        registry = name.split("_", 1)[0]
        path = ing_layout.landing_for(registry) / name
        path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
        return path

    return write


@pytest.fixture
def ingest(ing_layout: Layout, connect: Connect, ingtest: Registry) -> Ingest:
    """Run ``ingest_dump`` the way the Dagster layer will (dump id from stem and hash)."""

    def run(
        path: Path,
        *,
        registry: Registry | None = None,
        form: str = "basis",
        known_units: frozenset[str] = UNITS,
        connect_fn: Connect | None = None,
        dump_id: str | None = None,
    ) -> IngestOutcome:
        reg = registry or ingtest
        sha = sha256_of(path)
        return ingest_dump(
            path,
            reg,
            reg.form(form),
            layout=ing_layout,
            dump_id=dump_id or f"{path.stem}@{sha[:12]}",
            sha256=sha,
            known_units=known_units,
            connect=connect_fn or connect,
        )

    return run
