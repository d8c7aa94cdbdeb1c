"""Shared fixtures: every test gets its own KVALREG_HOME, DAGSTER_HOME and fixture registries.

Tests must never touch the operator's ``var/`` tree, secrets or a developer's own Dagster instance,
so the environment variables that select them are pointed into a temporary directory.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kvalreg import warehouse
from kvalreg.generate import generate
from kvalreg.ingest.dump import ingest_dump
from kvalreg.landing import dump_id, sha256_of
from kvalreg.paths import Layout
from kvalreg.reference import known_resh
from kvalreg.registry import Form, Registry, load_registries

FIXTURE_REGISTRIES = Path(__file__).parent / "fixtures" / "registries"


@pytest.fixture
def kvalreg_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Layout]:
    """A fresh ``KVALREG_HOME`` (with ``DAGSTER_HOME`` inside it) and the fixture registries."""
    home = tmp_path / "home"
    monkeypatch.setenv("KVALREG_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("KVALREG_SECRETS", str(tmp_path / "secrets"))
    extra = os.environ.get("KVALREG_REGISTRIES", "")
    dirs = [str(FIXTURE_REGISTRIES), *[p for p in extra.split(os.pathsep) if p]]
    monkeypatch.setenv("KVALREG_REGISTRIES", os.pathsep.join(dict.fromkeys(dirs)))
    yield Layout(home.resolve())


@pytest.fixture
def registries(kvalreg_env: Layout) -> dict[str, Registry]:
    return load_registries()


@pytest.fixture
def layout(kvalreg_env: Layout, registries: dict[str, Registry]) -> Layout:
    """The temp home with its directory tree and a landing folder per known registry."""
    return kvalreg_env.ensure(sorted(registries))


IngestGenerated = Callable[[Registry, Form, Path, int, int], Path]


@pytest.fixture
def ingest_generated(layout: Layout) -> IngestGenerated:
    """``ingest(registry, form, out, rows, seed)``: generate the registry's dumps (no defects)
    into ``out`` and ingest ``form``'s dump, which must be accepted; returns the archived
    original. For tests that need a loaded warehouse, not the sensor or the runs."""

    def ingest(reg: Registry, form: Form, out: Path, rows: int, seed: int) -> Path:
        generate(reg, out, rows=rows, seed=seed, defects=False)
        (path,) = [p for p in out.iterdir() if reg.match_file(p.name) == form]
        sha = sha256_of(path)
        outcome = ingest_dump(
            path,
            reg,
            form,
            layout=layout,
            dump_id=dump_id(path.name, sha),
            sha256=sha,
            known_units=frozenset(known_resh()),
            connect=functools.partial(warehouse.connect, layout),
        )
        assert outcome.status == "accepted"
        return outcome.stored_path

    return ingest
