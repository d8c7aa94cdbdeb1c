"""NPR's coverage result file, dropped into landing/npr/, is ingested like any dump and its
counts replace the platform's own coverage computation for that registry-year in the marts
(mart_coverage, and the dg of every indicator); other years keep the computed coverage."""

import csv
from pathlib import Path

import duckdb
import pytest

from assets.dbt import manifest_ready
from kvalreg.drop import drop
from kvalreg.generate.engine import generate
from kvalreg.paths import Layout
from kvalreg.reference import load_units
from kvalreg.registry import BUILTIN_DIR, load_registries
from orchestration.process import process_once

pytestmark = pytest.mark.skipif(
    not manifest_ready(), reason="dbt manifest not prepared: run `make dbt-manifest`"
)
YEAR = 2024  # within the generator's years for hoftebrudd


def _query(layout: Layout, sql: str) -> list[tuple]:
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_npr_result_replaces_computed_coverage_for_its_year(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KVALREG_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home" / "dagster"))
    monkeypatch.delenv("KVALREG_REGISTRIES", raising=False)
    regs = load_registries([BUILTIN_DIR])
    layout = Layout((tmp_path / "home").resolve()).ensure(sorted(regs))
    out = tmp_path / "generated"
    generate(regs["hoftebrudd"], out, rows=1500, seed=5, defects=False)
    resh = sorted({u.resh for u in load_units() if u.valid_to is None})[:3]
    counts = {resh[0]: (2, 40, 5), resh[1]: (0, 12, 9), resh[2]: (1, 30, 0)}
    result = out / "NPR_hoftebrudd_dekningsgrad_20250301.csv"
    with result.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\n")
        w.writerow(["Register", "Aar", "AvdRESH", "KunRegister", "Begge", "KunNPR"])
        for unit, (a, b, c) in counts.items():
            w.writerow(["hoftebrudd", YEAR, unit, a, b, c])
    drop(sorted(p for p in out.iterdir() if p.suffix == ".csv"), layout, regs)
    summary = process_once(layout, regs, settle_seconds=0)
    assert summary.ok, summary.describe()
    assert any("dekningsgrad" in p for p in summary.processed)

    rows = _query(
        layout,
        "select unit_resh, year, a, b, c, source from marts.mart_coverage "
        "where registry = 'hoftebrudd'",
    )
    this_year = {r[0]: r[2:] for r in rows if r[1] == YEAR}
    assert this_year == {u: (*abc, "npr") for u, abc in counts.items()}
    others = [r for r in rows if r[1] != YEAR]
    assert others and {r[5] for r in others} == {"platform"}

    a, b, c = (sum(v[i] for v in counts.values()) for i in range(3))
    dgs = _query(
        layout,
        f"""
        select distinct dg from marts.mart_indicators
        where registry = 'hoftebrudd' and unit_level = 'nation' and context = 'caregiver'
          and year = {YEAR} and dg is not null""",
    )
    assert dgs and all(abs(d - (a + b) / (a + b + c)) < 1e-12 for (d,) in dgs)
