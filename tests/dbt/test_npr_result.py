"""NPR's coverage result file, dropped into landing/npr/, is ingested like any dump and its
counts replace the platform's own coverage computation for that registry-year in the marts
(mart_coverage, and the dg of every indicator)."""

import csv
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from assets.dbt import manifest_ready
from kvalreg.drop import drop
from kvalreg.generate.engine import generate
from kvalreg.paths import Layout
from kvalreg.registry import BUILTIN_DIR, load_registries
from orchestration.process import process_once

pytestmark = pytest.mark.skipif(
    not manifest_ready(), reason="dbt manifest not prepared: run `make dbt-manifest`"
)
EXTRA_NPR_ONLY = 7  # NPR reports this many more NPR-only episodes per unit than we computed


def _query(layout: Layout, sql: str) -> list[tuple]:
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Layout, dict]]:
    root = tmp_path_factory.mktemp("nprresult")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KVALREG_HOME", str(root / "home"))
        mp.setenv("DAGSTER_HOME", str(root / "home" / "dagster"))
        mp.delenv("KVALREG_REGISTRIES", raising=False)
        regs = load_registries([BUILTIN_DIR])
        layout = Layout((root / "home").resolve()).ensure(sorted(regs))
        out = root / "generated"
        generate(regs["hoftebrudd"], out, rows=1500, seed=5, defects=False)
        drop(sorted(p for p in out.iterdir() if p.suffix == ".csv"), layout, regs)
        assert process_once(layout, regs, settle_seconds=0).ok
        yield layout, regs


def test_npr_result_replaces_computed_coverage_for_its_year(
    home: tuple[Layout, dict], tmp_path: Path
) -> None:
    layout, regs = home
    before = _query(
        layout,
        "select unit_resh, year, a, b, c, source from marts.mart_coverage "
        "where registry = 'hoftebrudd'",
    )
    assert before and {r[5] for r in before} == {"platform"}
    year = max(r[1] for r in before)
    result = tmp_path / "NPR_hoftebrudd_dekningsgrad_20250301.csv"
    with result.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, delimiter=";", lineterminator="\n")
        w.writerow(["Register", "Aar", "AvdRESH", "KunRegister", "Begge", "KunNPR"])
        for resh, y, a, b, c, _ in before:
            if y == year:
                w.writerow(["hoftebrudd", y, resh, a, b, c + EXTRA_NPR_ONLY])
    drop([result], layout, regs)
    summary = process_once(layout, regs, settle_seconds=0)
    assert summary.ok, summary.describe()
    assert any("dekningsgrad" in p for p in summary.processed)

    after = {
        (r[0], r[1]): r[2:]
        for r in _query(
            layout,
            "select unit_resh, year, a, b, c, source from marts.mart_coverage "
            "where registry = 'hoftebrudd'",
        )
    }
    for resh, y, a, b, c, _ in before:
        if y == year:
            assert after[(resh, y)] == (a, b, c + EXTRA_NPR_ONLY, "npr")
        else:
            assert after[(resh, y)] == (a, b, c, "platform")

    a, b, c = (sum(r[i] for r in before if r[1] == year) for i in (2, 3, 4))
    units = sum(1 for r in before if r[1] == year)
    expected = (a + b) / (a + b + c + EXTRA_NPR_ONLY * units)
    dgs = _query(
        layout,
        f"""
        select distinct dg from marts.mart_indicators
        where registry = 'hoftebrudd' and unit_level = 'nation' and context = 'caregiver'
          and year = {year} and dg is not null""",
    )
    assert dgs and all(abs(d - expected) < 1e-12 for (d,) in dgs)
