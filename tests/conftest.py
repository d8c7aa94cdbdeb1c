"""Shared fixtures: every test gets its own KVALREG_HOME, DAGSTER_HOME and fixture registries.

Tests must never touch the operator's ``var/`` tree, secrets or a developer's own Dagster instance,
so the environment variables that select them are pointed into a temporary directory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvalreg.paths import Layout
from kvalreg.registry import Registry, load_registries

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
