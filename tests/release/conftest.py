"""A real warehouse with the hoftebrudd registry ingested and its marts built, made once per
session through the command line (generate → drop → ``kvalreg process``); each test gets its
own ``KVALREG_HOME`` holding a copy of that warehouse, and its own secrets directory."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvalreg.paths import Layout
from kvalreg.registry import Registry, load_registries
from release.support import run_kvalreg


@pytest.fixture(scope="session")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``(home, generated dir)``: hoftebrudd (800 operations) ingested, marts built."""
    base = tmp_path_factory.mktemp("release-warehouse")
    home, secrets, generated = base / "home", base / "secrets", base / "generated"
    gen = run_kvalreg(
        home, secrets, "generate", "--registry", "hoftebrudd", "--out", str(generated),
        "--rows", "800", "--seed", "7",
    )  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    drop = run_kvalreg(home, secrets, "drop", *sorted(str(p) for p in generated.glob("*.csv")))
    assert drop.returncode == 0, drop.stderr
    proc = run_kvalreg(home, secrets, "process")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "marts:       rebuilt" in proc.stdout
    return home, generated


@pytest.fixture
def release_env(
    ingested: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Layout]:
    """A fresh ``KVALREG_HOME`` with a copy of the ingested warehouse; fresh secrets."""
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy2(ingested[0] / "warehouse.duckdb", home / "warehouse.duckdb")
    monkeypatch.setenv("KVALREG_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    monkeypatch.setenv("KVALREG_SECRETS", str(tmp_path / "secrets"))
    monkeypatch.delenv("KVALREG_REGISTRIES", raising=False)
    yield Layout(home.resolve())


@pytest.fixture
def hoftebrudd(release_env: Layout) -> dict[str, Registry]:
    return load_registries()
