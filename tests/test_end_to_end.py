"""End to end through the real command line: generate → drop → ``kvalreg process``.

The generator's ground truth states exactly which data-quality violations it planted; the
warehouse's ``dq.results`` must report exactly those counts, and nothing for clean data.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from kvalreg.paths import Layout

KVALREG = Path(sys.executable).with_name("kvalreg")


EXTRA_REGISTRIES = Path(__file__).parent / "fixtures" / "extra_registries"


def kvalreg(
    layout: Layout, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "KVALREG_HOME": str(layout.home),
        "DAGSTER_HOME": str(layout.dagster_home),
        "KVALREG_SETTLE_SECONDS": "0",
        **(env or {}),
    }
    return subprocess.run(
        [str(KVALREG), *args], env=env, capture_output=True, text=True, timeout=600
    )


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def violations(layout: Layout, registry: str) -> dict[str, dict[str, dict[str, int]]]:
    """Whole-dump violation counts: form → check id → variable → violated rows."""
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT form, check_id, coalesce(variable, '*'), num_violated FROM dq.results "
            "WHERE registry = ? AND unit_resh IS NULL AND num_violated > 0",
            [registry],
        ).fetchall()
    out: dict[str, dict[str, dict[str, int]]] = {}
    for form, check, variable, n in rows:
        out.setdefault(form, {}).setdefault(check, {})[variable] = n
    return out


def planted(ground_truth: Path) -> dict[str, dict[str, dict[str, int]]]:
    defects = json.loads(ground_truth.read_text(encoding="utf-8"))["defects"]
    return {
        form: {check: counts for check, counts in checks.items() if counts}
        for form, checks in defects.items()
        if any(checks.values())
    }


@pytest.fixture(scope="module")
def processed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Layout, Path, str]:
    """Both registries generated (defects planted in hjerneslag), dropped and processed once."""
    base = tmp_path_factory.mktemp("e2e")
    layout = Layout(base / "home")
    generated = base / "generated"
    for registry, seed, extra in (("hoftebrudd", "1", []), ("hjerneslag", "2", ["--defects"])):
        gen = kvalreg(
            layout, "generate", "--registry", registry, "--out", str(generated / registry),
            "--rows", "1500", "--seed", seed, *extra,
        )  # fmt: skip
        assert gen.returncode == 0, gen.stderr
    files = sorted(str(p) for p in generated.glob("*/*"))
    dropped = kvalreg(layout, "drop", *files)
    assert dropped.returncode == 0, dropped.stderr
    proc = kvalreg(layout, "process")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return layout, generated, proc.stdout


def test_every_dump_is_accepted_and_archived_byte_identical(
    processed: tuple[Layout, Path, str],
) -> None:
    layout, generated, stdout = processed
    assert "processed 6 dump(s), quarantined 0" in stdout
    assert "failed 0" in stdout
    dumps = [p for p in generated.glob("*/*.csv") if not p.name.startswith("klokebok")]
    assert len(dumps) == 6  # two forms + one NPR extract per registry
    archived = {sha256(p): p.name for p in layout.archive.rglob("*.csv")}
    for dump in dumps:
        assert archived.get(sha256(dump)) == dump.name, dump.name
    assert not any(layout.landing.rglob("*.csv")), "landing is empty after processing"


def test_quality_results_equal_the_planted_defects(processed: tuple[Layout, Path, str]) -> None:
    layout, generated, _ = processed
    expected = planted(generated / "hjerneslag" / "ground_truth.json")
    assert expected, "the defective registry must plant defects"
    assert violations(layout, "hjerneslag") == expected
    assert violations(layout, "hoftebrudd") == {}
    assert planted(generated / "hoftebrudd" / "ground_truth.json") == {}


def test_a_second_pass_is_a_no_op(processed: tuple[Layout, Path, str]) -> None:
    layout, _, _ = processed
    again = kvalreg(layout, "process")
    assert again.returncode == 0, again.stderr
    assert "processed 0 dump(s), quarantined 0" in again.stdout
    info = kvalreg(layout, "info")
    assert info.returncode == 0, info.stderr
    assert "hjerneslag/akuttskjema: 1 accepted" in info.stdout


def test_the_same_bytes_dropped_again_are_processed_once(
    processed: tuple[Layout, Path, str],
) -> None:
    layout, generated, _ = processed
    (dump,) = generated.glob("hoftebrudd/DataDump_*_Operasjon_*.csv")
    assert kvalreg(layout, "drop", str(dump)).returncode == 0
    again = kvalreg(layout, "process")
    assert again.returncode == 0, again.stderr
    assert "processed 0 dump(s)" in again.stdout
    (report,) = layout.quarantine.glob(f"hoftebrudd/*{dump.name}.report.json")
    assert json.loads(report.read_text())["problems"][0]["check_id"] == "landing_duplicate"
    (kept,) = layout.quarantine.glob(f"hoftebrudd/*{dump.name}")
    assert sha256(kept) == sha256(dump), "the duplicate is kept, byte-identical"
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        assert con.execute(
            "SELECT count(*) FROM meta.dumps WHERE registry = 'hoftebrudd' AND form = 'operasjon'"
        ).fetchall() == [(1,)]


def test_a_third_registry_is_data_only(tmp_path: Path) -> None:
    """A registry folder outside the package (comma-separated, ISO dates, J/N checkboxes)
    is generated, routed, validated and loaded with no platform code change."""
    layout = Layout(tmp_path / "home")
    env = {"KVALREG_REGISTRIES": str(EXTRA_REGISTRIES)}
    out = tmp_path / "generated"
    gen = kvalreg(
        layout, "generate", "--registry", "ryggkirurgi", "--out", str(out),
        "--rows", "600", "--seed", "3", "--defects", env=env,
    )  # fmt: skip
    assert gen.returncode == 0, gen.stderr
    assert kvalreg(layout, "drop", *map(str, out.iterdir()), env=env).returncode == 0
    proc = kvalreg(layout, "process", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "processed 3 dump(s), quarantined 0" in proc.stdout
    expected = planted(out / "ground_truth.json")
    assert expected and violations(layout, "ryggkirurgi") == expected
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        (n,) = con.execute("SELECT count(*) FROM raw_ryggkirurgi.inngrep").fetchone()
        (dagkirurgi_type,) = con.execute(
            "SELECT data_type FROM information_schema.columns WHERE table_schema = "
            "'raw_ryggkirurgi' AND table_name = 'inngrep' AND column_name = 'Dagkirurgi'"
        ).fetchone()
    assert n == 602 and dagkirurgi_type == "BOOLEAN"
