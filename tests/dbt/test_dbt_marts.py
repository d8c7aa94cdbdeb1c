"""The marts end to end, against the generator's ground truth and independent statistics.

One module-scoped pipeline: generate both demo registries (hjerneslag with planted defects),
drop the dumps, run ``process_once`` on a real Dagster instance and DuckDB file. Ingestion
then triggers the marts job (dbt build through dagster-dbt, then the exports), so these tests
also prove the rebuild-after-ingest wiring. Every comparison reads the real warehouse.
"""

import csv
import json
import math
import shutil
import subprocess
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from scipy import stats

from assets.dbt import EXPORTS_KEY, MARTS_SENSOR, manifest_ready, newest_accepted_dump
from kvalreg.dbt_project import DBT_PROJECT_DIR, dbt_executable
from kvalreg.drop import drop
from kvalreg.generate.engine import generate
from kvalreg.indicators import load_indicators
from kvalreg.paths import Layout
from kvalreg.reference import load_units
from kvalreg.registry import BUILTIN_DIR, load_registries
from kvalreg.warehouse import warehouse_lock
from orchestration.definitions import build_definitions
from orchestration.instance import open_instance
from orchestration.process import ProcessSummary, process_once
from resources import WarehouseResource

pytestmark = pytest.mark.skipif(
    not manifest_ready(), reason="dbt manifest not prepared: run `make dbt-manifest`"
)

ROWS = 4000
SEEDS = {"hoftebrudd": (1, False), "hjerneslag": (2, True)}


@dataclass(frozen=True)
class Pipeline:
    layout: Layout
    summary: ProcessSummary
    truth: dict[str, dict]


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("marts")
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KVALREG_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.delenv("KVALREG_REGISTRIES", raising=False)
        regs = load_registries([BUILTIN_DIR])
        layout = Layout(home.resolve())
        layout.ensure(sorted(regs))
        truth = {}
        for name, (seed, defects) in SEEDS.items():
            out = root / "generated" / name
            generate(regs[name], out, rows=ROWS, seed=seed, defects=defects)
            truth[name] = json.loads((out / "ground_truth.json").read_text(encoding="utf-8"))
            drop(sorted(p for p in out.iterdir() if p.suffix == ".csv"), layout, regs)
        summary = process_once(layout, regs, settle_seconds=0)
        yield Pipeline(layout, summary, truth)


def dbt_test(select: str, home: Path, scratch: Path) -> subprocess.CompletedProcess[str]:
    """``dbt test --select select`` against the warehouse of ``home``, artifacts in scratch."""
    return subprocess.run(
        [
            dbt_executable(),
            "test",
            "--select",
            select,
            "--profiles-dir",
            ".",
            "--target-path",
            str(scratch / "target"),
            "--log-path",
            str(scratch / "logs"),
            "--vars",
            json.dumps({"kvalreg_home": str(home)}),
        ],
        cwd=DBT_PROJECT_DIR,
        capture_output=True,
        text=True,
        check=False,
    )


def query(layout: Layout, sql: str) -> list[tuple]:
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_process_ingests_then_builds_marts_once(pipeline: Pipeline) -> None:
    assert pipeline.summary.ok, pipeline.summary.describe()
    assert len(pipeline.summary.processed) == 6
    # six ingestion runs and one marts run
    assert len(pipeline.summary.run_ids) == 7
    with open_instance(pipeline.layout) as instance:
        assert instance.fetch_materializations(EXPORTS_KEY, limit=1).records
    # dbt's artifacts and partial-parse state stay in one folder per home, so the next build
    # parses only what changed.
    target = pipeline.layout.state / "dbt-target"
    assert (target / "partial_parse.msgpack").is_file()
    assert (target / "run_results.json").is_file()


def test_marts_sensor_is_quiet_after_process_and_fires_for_a_newer_dump(
    pipeline: Pipeline,
) -> None:
    defs = build_definitions(
        load_registries([BUILTIN_DIR]),
        WarehouseResource(kvalreg_home=str(pipeline.layout.home)),
        settle_seconds=0,
    )
    sensor = defs.resolve_sensor_def(MARTS_SENSOR)
    with open_instance(pipeline.layout) as instance:
        ctx = dg.build_sensor_context(instance=instance, definitions=defs)
        result = sensor.evaluate_tick(ctx)
        assert not result.run_requests
        raw = [dg.AssetKey(["raw", "hoftebrudd", "operasjon"])]
        # Everything accepted so far is older than the last export ...
        exports_id = instance.fetch_materializations(EXPORTS_KEY, limit=1).records[0].storage_id
        assert newest_accepted_dump(instance, raw, exports_id) is None
        # ... and an accepted dump after an older export would be picked up.
        assert newest_accepted_dump(instance, raw, 0) is not None


def test_dbt_error_tests_are_blocking_asset_checks(pipeline: Pipeline) -> None:
    defs = build_definitions(load_registries([BUILTIN_DIR]), settle_seconds=0)
    checks = [
        spec
        for assets_def in defs.assets or ()
        if isinstance(assets_def, dg.AssetsDefinition)
        for spec in assets_def.check_specs
        if spec.asset_key.path[0] == "marts"
    ]
    assert checks and all(c.blocking for c in checks)
    names = {c.name for c in checks}
    assert any(n.startswith("relationships_mart_imongr_upload_orgnr") for n in names)


@pytest.mark.parametrize("registry", sorted(SEEDS))
def test_coverage_matches_ground_truth_exactly(pipeline: Pipeline, registry: str) -> None:
    expected = {
        (r["resh"], r["year"]): (r["a"], r["b"], r["c"], r["dg_registry"], r["dg_npr"])
        for r in pipeline.truth[registry]["coverage"]
    }
    rows = query(
        pipeline.layout,
        "SELECT unit_resh, year, a, b, c, dg_registry, dg_npr FROM marts.mart_coverage "
        f"WHERE registry = '{registry}'",
    )
    got = {(r, y): (a, b, c, round(dr, 6), round(dn, 6)) for r, y, a, b, c, dr, dn in rows}
    assert got == expected


@pytest.mark.parametrize("registry", sorted(SEEDS))
def test_timeliness_matches_ground_truth_exactly(pipeline: Pipeline, registry: str) -> None:
    t = pipeline.truth[registry]["timeliness"]
    expected = {
        (r["resh"], r["year"]): (
            r["count"],
            r["median_days"],
            r["within_deadline"],
            r["share_within_deadline"],
        )
        for r in t["units"]
    }
    rows = query(
        pipeline.layout,
        "SELECT unit_resh, year, registrations, median_days, within_deadline, "
        "share_within_deadline, deadline_days FROM marts.mart_timeliness "
        f"WHERE registry = '{registry}'",
    )
    got = {(r, y): (n, m, w, round(s, 6)) for r, y, n, m, w, s, _ in rows}
    assert got == expected
    assert {d for *_, d in rows} == {t["deadline_days"]}


def _indicator_for(registry: str, form: str, variable: str) -> str:
    """The definition whose outcome is exactly this truth outcome (base or follow-up form)."""
    reg = load_registries([BUILTIN_DIR])[registry]
    base = next(f.name for f in reg.forms if f.role == "base")
    column = variable if form == base else f"{form}_{variable}"
    defs = load_indicators(registry, reg.folder)
    assert defs is not None
    (ind,) = [i for i in defs.indicators if i.outcome == column]
    return ind.id


@pytest.mark.parametrize("registry", sorted(SEEDS))
def test_outcome_counts_exact_and_planted_rates_within_tolerance(
    pipeline: Pipeline, registry: str
) -> None:
    truth = pipeline.truth[registry]["outcomes"]
    z = truth["tolerance_z"]
    for o in truth["indicators"]:
        ind = _indicator_for(registry, o["form"], o["variable"])
        rows = query(
            pipeline.layout,
            "SELECT unit_resh, year, count(*) FILTER (WHERE hit), count(*) "
            f"FROM intermediate.int_indicator_observations WHERE ind_id = '{ind}' "
            "GROUP BY ALL",
        )
        got = {(r, y): (n, d) for r, y, n, d in rows}
        expected = {(u["resh"], u["year"]): (u["numerator"], u["denominator"]) for u in o["units"]}
        assert got == expected, ind
        # Hospital level in the published mart: the planted rate belongs to the unit, so the
        # re-coded RESH ids of one hospital pool to it; tolerance = z binomial SEs.
        planted = {u["resh"]: u["planted_rate"] for u in o["units"] if u["planted_rate"]}
        by_hospital = {u.hospital_orgnr: planted.get(u.resh) for u in load_units()}
        published = query(
            pipeline.layout,
            "SELECT orgnr, denominator, value FROM marts.mart_indicators WHERE "
            f"ind_id = '{ind}' AND context = 'caregiver' AND unit_level = 'hospital' "
            "AND NOT suppressed",
        )
        checked = [
            abs(v - p) <= z * math.sqrt(p * (1 - p) / n)
            for orgnr, n, v in published
            if (p := by_hospital.get(orgnr)) is not None
        ]
        assert len(checked) > 20
        assert sum(checked) / len(checked) >= 0.99, ind


def test_wilson_intervals_match_scipy(pipeline: Pipeline) -> None:
    rows = query(
        pipeline.layout,
        "SELECT numerator, denominator, ci_lower, ci_upper FROM marts.mart_indicators "
        "WHERE type IN ('andel', 'dg_andel') AND NOT suppressed",
    )
    assert len(rows) > 100
    for k, n, lo, hi in rows:
        ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        assert lo == pytest.approx(max(0.0, ci.low), abs=1e-12)
        assert hi == pytest.approx(min(1.0, ci.high), abs=1e-12)


def test_funnel_limits_match_scipy(pipeline: Pipeline) -> None:
    targets = dict(
        ((ind, year), (num, den))
        for ind, year, num, den in query(
            pipeline.layout,
            "SELECT ind_id, year, numerator, denominator FROM marts.mart_indicators "
            "WHERE unit_level = 'nation' AND context = 'caregiver' AND NOT suppressed",
        )
    )
    rows = query(
        pipeline.layout,
        "SELECT ind_id, year, denominator, target, lower_95, upper_95, lower_998, upper_998 "
        "FROM marts.mart_indicator_funnel",
    )
    assert len(rows) > 100
    z95, z998 = stats.norm.ppf(0.975), stats.norm.ppf(0.999)
    assert round(z95, 2) == 1.96 and round(z998, 2) == 3.09
    for ind, year, n, target, lo95, hi95, lo998, hi998 in rows:
        num, den = targets[(ind, year)]
        p = num / den  # pooled national proportion
        assert target == pytest.approx(p, abs=1e-12)
        se = math.sqrt(p * (1 - p) / n)
        assert lo95 == pytest.approx(max(0.0, p - z95 * se), abs=1e-12)
        assert hi95 == pytest.approx(min(1.0, p + z95 * se), abs=1e-12)
        assert lo998 == pytest.approx(max(0.0, p - z998 * se), abs=1e-12)
        assert hi998 == pytest.approx(min(1.0, p + z998 * se), abs=1e-12)


def test_levels_follow_direction_rules(pipeline: Pipeline) -> None:
    rows = query(
        pipeline.layout,
        "SELECT i.value, i.level, d.level_green, d.level_yellow, d.level_direction "
        "FROM marts.mart_indicators i JOIN marts.mart_indicator_definitions d ON d.id = i.ind_id "
        "WHERE NOT i.suppressed",
    )
    seen = defaultdict(set)
    for value, level, green, yellow, direction in rows:
        if direction == 1:
            want = "H" if value >= green else "L" if value < yellow else "M"
        else:
            want = "H" if value <= green else "L" if value > yellow else "M"
        assert level == want
        seen[direction].add(level)
    assert seen[0] and seen[1]


def test_suppression_hides_small_cells_and_cannot_be_undone(pipeline: Pipeline) -> None:
    layout = pipeline.layout
    primary = query(
        layout,
        "SELECT count(*) FROM intermediate.int_indicator_suppression "
        "WHERE suppression_reason = 'primary'",
    )[0][0]
    secondary = query(
        layout,
        "SELECT count(*) FROM intermediate.int_indicator_suppression "
        "WHERE suppression_reason = 'secondary'",
    )[0][0]
    assert primary > 0 and secondary > 0
    leaked = query(
        layout,
        "SELECT count(*) FROM marts.mart_indicators m JOIN intermediate.int_indicator_cells c "
        "USING (ind_id, context, unit_level, orgnr, year) "
        "WHERE c.denominator < m.min_denominator AND m.denominator IS NOT NULL",
    )[0][0]
    assert leaked == 0
    # Recompute every hidden cell the way an attacker would: parent minus shown children.
    cells = query(
        layout,
        "SELECT s.ind_id, s.context, s.year, s.unit_level, s.orgnr, s.parent_orgnr, "
        "s.suppressed, c.denominator FROM intermediate.int_indicator_suppression s "
        "JOIN intermediate.int_indicator_cells c USING (ind_id, context, unit_level, orgnr, year)",
    )
    shown = {(i, c, y, o): d for i, c, y, _, o, _, s, d in cells if not s}
    children = defaultdict(list)
    for i, c, y, _, o, parent, s, d in cells:
        if parent is not None:
            children[(i, c, y, parent)].append((o, s, d))
    for (i, c, y, parent), kids in children.items():
        hidden = [k for k in kids if k[1]]
        if (i, c, y, parent) in shown:
            assert len(hidden) != 1, (i, c, y, parent)


def test_imongr_upload_follows_the_upload_rules(pipeline: Pipeline) -> None:
    path = pipeline.layout.home / "exports" / "imongr" / "indikatorer.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        assert reader.fieldnames == ["context", "year", "orgnr", "ind_id", "var", "denominator"]
        rows = list(reader)
    assert rows
    known_orgnr = {o for u in load_units() for o in (u.hospital_orgnr, u.hf_orgnr, u.rhf_orgnr)} | {
        "000000000"
    }
    ind = pipeline.layout.home / "exports" / "imongr" / "ind.csv"
    with ind.open(encoding="utf-8", newline="") as fh:
        definitions = {r["id"]: r for r in csv.DictReader(fh)}
    keys = set()
    for r in rows:
        key = (r["context"], r["year"], r["orgnr"], r["ind_id"])
        assert key not in keys
        keys.add(key)
        assert r["orgnr"] in known_orgnr
        assert r["ind_id"] in definitions
        assert int(r["denominator"]) > 0
        if definitions[r["ind_id"]]["type"] in ("andel", "dg_andel"):
            assert float(r["var"]) <= int(r["denominator"])
    assert {r["context"] for r in rows} == {"caregiver", "resident"}


def test_exports_are_complete_files(pipeline: Pipeline) -> None:
    exports = pipeline.layout.home / "exports"
    leftovers = [p for p in exports.rglob("*") if p.name.endswith(".tmp")]
    assert leftovers == []
    with duckdb.connect() as con:
        n = con.execute(
            f"SELECT count(*) FROM '{exports / 'parquet' / 'mart_coverage.parquet'}'"
        ).fetchall()[0][0]
    assert n == query(pipeline.layout, "SELECT count(*) FROM marts.mart_coverage")[0][0]


def test_no_fnr_column_below_raw(pipeline: Pipeline) -> None:
    cols = query(
        pipeline.layout,
        "SELECT table_schema, table_name, column_name FROM information_schema.columns "
        "WHERE table_schema IN ('staging', 'intermediate', 'marts')",
    )
    names = {c.lower() for *_, c in cols}
    assert "fodselsnummer" not in names and "fnr" not in names
    assert "person_key" in names


def test_every_model_has_unit_tests_and_they_pass(pipeline: Pipeline, tmp_path: Path) -> None:
    """dbt unit tests (fixed fixtures in the models' YAML) for every model, run against the
    built warehouse, whose relations give the fixtures their column types."""
    manifest = json.loads(
        (DBT_PROJECT_DIR / "target" / "manifest.json").read_text(encoding="utf-8")
    )
    models = {n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model"}
    tested = {u["model"] for u in manifest["unit_tests"].values()}
    assert models - tested == set()
    with warehouse_lock(pipeline.layout):
        done = dbt_test("test_type:unit", pipeline.layout.home, tmp_path)
    assert done.returncode == 0, done.stdout[-4000:]
    hooks = [n for n in manifest["nodes"].values() if n["resource_type"] == "operation"]
    assert f"PASS={len(manifest['unit_tests']) + len(hooks)} " in done.stdout


def test_a_repeated_combination_fails_its_unique_combination_test(
    pipeline: Pipeline, tmp_path: Path
) -> None:
    """The test macro runs its exact group by only when the combinations' hashes repeat: a
    copied row must still come back as a failure (a copy of the built warehouse, one row of
    mart_timeliness doubled)."""
    home = tmp_path / "home"
    home.mkdir()
    with warehouse_lock(pipeline.layout):
        shutil.copy2(pipeline.layout.warehouse, home / "warehouse.duckdb")
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute("INSERT INTO marts.mart_timeliness SELECT * FROM marts.mart_timeliness LIMIT 1")
    done = dbt_test("mart_timeliness,test_name:unique_combination", home, tmp_path)
    assert done.returncode == 1, done.stdout[-4000:]
    assert "FAIL 1 unique_combination_mart_timeliness" in done.stdout, done.stdout[-4000:]
    assert "Got 1 result" in done.stdout


def test_manifest_is_read_not_parsed_on_load() -> None:
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    before = manifest.stat().st_mtime_ns
    build_definitions(load_registries([BUILTIN_DIR]), settle_seconds=0)
    assert manifest.stat().st_mtime_ns == before
