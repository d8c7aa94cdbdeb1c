"""The metadata end to end: generated dumps → ingestion → dbt marts → metadata asset.

One module-scoped pipeline on a real Dagster instance and DuckDB file: ``process_once``
ingests the two demo registries and runs the marts job, which now ends in the metadata asset
(catalogue, lineage, DCAT-AP-NO with its blocking SHACL check, HTML, dbt docs).
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pytest
from rdflib import Graph

from assets.dbt import manifest_ready
from assets.metadata import METADATA_KEY, SHACL_CHECK
from kvalreg import warehouse
from kvalreg.drop import drop
from kvalreg.generate.engine import generate
from kvalreg.metadata.build import load_catalogue
from kvalreg.metadata.catalogue import ReleasedVariable, release_codebook
from kvalreg.metadata.dbt_docs import generate_dbt_docs
from kvalreg.metadata.dcat import HEALTH
from kvalreg.metadata.lineage import ColumnLineage, ColumnRef, LineageGraph, dbt_lineage
from kvalreg.paths import Layout
from kvalreg.registry import BUILTIN_DIR, load_registries
from orchestration.instance import open_instance
from orchestration.process import ProcessSummary, process_once

pytestmark = pytest.mark.skipif(
    not manifest_ready(), reason="dbt manifest not prepared: run `make dbt-manifest`"
)

ROWS = 600
SEEDS = {"hoftebrudd": 1, "hjerneslag": 2}


@dataclass(frozen=True)
class Pipeline:
    layout: Layout
    summary: ProcessSummary


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pipeline]:
    root = tmp_path_factory.mktemp("metadata")
    home = root / "home"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("KVALREG_HOME", str(home))
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        mp.delenv("KVALREG_REGISTRIES", raising=False)
        regs = load_registries([BUILTIN_DIR])
        layout = Layout(home.resolve())
        layout.ensure(sorted(regs))
        for name, seed in SEEDS.items():
            out = root / "generated" / name
            generate(regs[name], out, rows=ROWS, seed=seed, defects=False)
            drop(sorted(p for p in out.iterdir() if p.suffix == ".csv"), layout, regs)
        summary = process_once(layout, regs, settle_seconds=0)
        yield Pipeline(layout, summary)


def _lineage(layout: Layout) -> LineageGraph:
    edges = json.loads((layout.metadata / "lineage.json").read_text(encoding="utf-8"))

    def ref(text: str) -> ColumnRef:
        relation, column = text.rsplit(".", 1)
        return ColumnRef(relation, column)

    return LineageGraph(
        ColumnLineage(ref(e["column"]), tuple(ref(s) for s in e["sources"]), e["transformation"])
        for e in edges
    )


def _variables(layout: Layout) -> dict[str, dict]:
    doc = json.loads((layout.metadata / "variables.json").read_text(encoding="utf-8"))
    return {v["id"]: v for v in doc["variables"]}


def test_marts_job_writes_metadata_and_passes_its_shacl_check(pipeline: Pipeline) -> None:
    assert pipeline.summary.ok and pipeline.summary.marts_built, pipeline.summary.describe()
    meta = pipeline.layout.metadata
    for path in (
        "variables.json",
        "variables.csv",
        "variables.parquet",
        "lineage.json",
        "html/index.html",
        "html/hoftebrudd/index.html",
        "dbt-docs/index.html",
        "dbt-docs/catalog.json",
    ):
        assert (meta / path).is_file(), path
    for registry in ("hoftebrudd", "hjerneslag", "npr"):
        assert (meta / "dcat" / f"{registry}.ttl").is_file()
        assert (meta / "dcat" / f"{registry}.jsonld").is_file()
    with open_instance(pipeline.layout) as instance:
        assert instance.fetch_materializations(METADATA_KEY, limit=1).records
        check = dg.AssetCheckKey(METADATA_KEY, SHACL_CHECK)
        (record,) = instance.event_log_storage.get_asset_check_execution_history(check, limit=1)
        assert record.status.value == "SUCCEEDED"


def test_lineage_runs_from_dump_column_to_indicator_mart(pipeline: Pipeline) -> None:
    graph = _lineage(pipeline.layout)
    dump = ColumnRef("dump:hoftebrudd/operasjon", "Antibiotikaprofylakse")
    down = graph.downstream(dump)
    path = [
        ColumnRef("raw_hoftebrudd.operasjon", "Antibiotikaprofylakse"),
        ColumnRef("staging.stg_hoftebrudd__operasjon", "Antibiotikaprofylakse"),
        ColumnRef("intermediate.int_hoftebrudd__episodes", "Antibiotikaprofylakse"),
        ColumnRef("intermediate.int_indicator_observations", "hit"),
        ColumnRef("marts.mart_indicators", "numerator"),
        ColumnRef("marts.mart_imongr_upload", "var"),
    ]
    missing = [str(r) for r in path if r not in down]
    assert not missing, missing
    entry = _variables(pipeline.layout)["marts.mart_indicators.numerator"]
    assert str(dump) in entry["dump_columns"]
    assert entry["identifier_class"] == "annan"  # an aggregate identifies nobody


def test_each_indicator_names_its_dump_columns(pipeline: Pipeline) -> None:
    doc = json.loads((pipeline.layout.metadata / "variables.json").read_text(encoding="utf-8"))
    by_id = {i["id"]: i for i in doc["indicators"]}
    assert (
        "dump:hoftebrudd/operasjon.Antibiotikaprofylakse"
        in (by_id["hoftebrudd_antibiotika"]["dump_columns"])
    )
    assert "dump:hoftebrudd/oppfolging.Reoperert" in by_id["hoftebrudd_reoperasjon"]["dump_columns"]
    coverage = set(by_id["hjerneslag_dg"]["dump_columns"])
    assert "dump:npr/aktivitet.Fnr" in coverage
    assert not any(c.startswith("dump:hoftebrudd/") for c in coverage)
    page = (pipeline.layout.metadata / "html" / "hoftebrudd" / "index.html").read_text("utf-8")
    assert "hoftebrudd_antibiotika" in page
    assert 'href="#v-raw_hoftebrudd-operasjon-Antibiotikaprofylakse"' in page


def test_staging_inherits_codebook_documentation(pipeline: Pipeline) -> None:
    variables = _variables(pipeline.layout)
    raw = variables["raw_hoftebrudd.operasjon.ASA"]
    staged = variables["staging.stg_hoftebrudd__operasjon.ASA"]
    assert staged["label"] == raw["label"] and staged["values"] == raw["values"]
    assert staged["sources"] == ["raw_hoftebrudd.operasjon.ASA"]
    assert staged["first_dump"] == raw["first_dump"] is not None
    person = variables["staging.stg_hoftebrudd__operasjon.person_key"]
    assert person["sources"] == ["raw_hoftebrudd.operasjon.Fodselsnummer"]
    assert person["identifier_class"] == "direkte"
    assert "SHA256" in person["transformation"].upper()


def test_dcat_carries_health_dcat_facts_from_the_warehouse(pipeline: Pipeline) -> None:
    layout = pipeline.layout
    g = Graph().parse(layout.metadata / "dcat" / "hoftebrudd.ttl", format="turtle")
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        ((records, persons),) = con.execute(
            "SELECT count(*), count(DISTINCT Fodselsnummer) FROM raw_hoftebrudd.operasjon"
        ).fetchall()
    assert {int(o) for o in g.objects(None, HEALTH.numberOfRecords)} == {records}
    assert {int(o) for o in g.objects(None, HEALTH.numberOfUniqueIndividuals)} == {persons}
    (coverage,) = list(g.objects(None, HEALTH.populationCoverage))
    assert "Dekningsgrad" in str(coverage)
    (lo,) = list(g.objects(None, HEALTH.minTypicalAge))
    (hi,) = list(g.objects(None, HEALTH.maxTypicalAge))
    assert 0 < int(lo) < int(hi) <= 120


def test_no_fnr_in_any_metadata_output(pipeline: Pipeline) -> None:
    layout = pipeline.layout
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        fnrs = {
            r[0]
            for r in con.execute(
                "SELECT Fodselsnummer FROM raw_hoftebrudd.operasjon USING SAMPLE 50 ROWS"
            ).fetchall()
        }
    assert fnrs
    outputs = [
        p
        for p in layout.metadata.rglob("*")
        if p.is_file()
        and p.suffix in (".json", ".csv", ".ttl", ".jsonld", ".html", ".txt")
        and "dbt-docs" not in p.parts
    ]
    assert len(outputs) > 8
    for path in outputs:
        text = Path(path).read_text(encoding="utf-8")
        leaked = [f for f in fnrs if f in text]
        assert not leaked, path


def test_release_codebook_from_the_catalogue_on_disk(pipeline: Pipeline) -> None:
    """What the release builder calls: no dbt run, lineage from the last metadata build."""
    catalogue = load_catalogue(pipeline.layout, load_registries([BUILTIN_DIR]))
    codebook = release_codebook(
        catalogue,
        [
            ReleasedVariable("hoftebrudd", "operasjon", "ASA"),
            ReleasedVariable("hoftebrudd", "stg_hoftebrudd__operasjon", "ASA_label"),
        ],
    )
    ids = [v.id for v in codebook.variables]
    assert ids == [
        "raw_hoftebrudd.operasjon.ASA",
        "staging.stg_hoftebrudd__operasjon.ASA_label",
    ]
    edges = {str(e.column): [str(s) for s in e.sources] for e in codebook.lineage}
    assert edges["staging.stg_hoftebrudd__operasjon.ASA_label"] == ["raw_hoftebrudd.operasjon.ASA"]
    assert edges["raw_hoftebrudd.operasjon.ASA"] == ["dump:hoftebrudd/operasjon.ASA"]
    assert codebook.variables[0].first_dump is not None


def test_dbt_docs_and_lineage_are_kept_until_a_table_changes(pipeline: Pipeline) -> None:
    """Models and tables unchanged: the docs and the lineage cache are reused as they are. A new
    column regenerates the docs (it shows in the catalog) and re-derives the lineage."""
    layout = pipeline.layout
    target = layout.metadata / "dbt-docs"
    kept = generate_dbt_docs(layout, target)
    assert kept.reused
    before = json.loads(kept.lineage_cache.read_text(encoding="utf-8"))["key"]
    assert dbt_lineage(kept.manifest(), kept.catalog(), kept.lineage_cache).edges
    with warehouse.connect(layout) as con:
        con.execute("ALTER TABLE marts.mart_timeliness ADD COLUMN kv_probe INTEGER")
    try:
        fresh = generate_dbt_docs(layout, target)
        assert not fresh.reused
        columns = fresh.catalog()["nodes"]["model.kvalreg.mart_timeliness"]["columns"]
        assert "kv_probe" in {c.lower() for c in columns}
        assert dbt_lineage(fresh.manifest(), fresh.catalog(), fresh.lineage_cache).edges
        after = json.loads(fresh.lineage_cache.read_text(encoding="utf-8"))["key"]
        assert after != before
    finally:
        with warehouse.connect(layout) as con:
            con.execute("ALTER TABLE marts.mart_timeliness DROP COLUMN kv_probe")
        assert not generate_dbt_docs(layout, target).reused
