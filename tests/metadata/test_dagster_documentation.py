"""The Dagster asset graph as documentation: dump → raw column lineage, owners, and a metadata
asset that depends on the raw assets and marts and goes stale when a codebook changes."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import dagster as dg
import pytest

from assets.dbt import manifest_ready
from assets.metadata import METADATA_KEY, SHACL_CHECK, build_metadata_asset, registries_version
from assets.raw import dump_asset_key, raw_asset_key
from kvalreg.paths import Layout
from kvalreg.registry import load_registries
from orchestration.definitions import build_definitions
from orchestration.instance import open_instance
from resources import WarehouseResource

FIXTURE = Path(__file__).parents[1] / "fixtures" / "metadata_registries" / "metatest"


@pytest.fixture
def metatest(kvalreg_env: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    regs = tmp_path / "registries"
    shutil.copytree(FIXTURE, regs / "metatest")
    monkeypatch.setenv(
        "KVALREG_REGISTRIES", os.pathsep.join([os.environ["KVALREG_REGISTRIES"], str(regs)])
    )
    return regs / "metatest"


def _graph(layout: Layout):
    defs = build_definitions(
        load_registries(), WarehouseResource(kvalreg_home=str(layout.home)), settle_seconds=0
    )
    return defs, defs.resolve_asset_graph()


def test_raw_asset_documents_its_dump_columns_and_owner(
    kvalreg_env: Layout, metatest: Path
) -> None:
    defs, graph = _graph(kvalreg_env)
    raw = graph.get(raw_asset_key("metatest", "basis"))
    dump = dump_asset_key("metatest", "basis")
    assert raw.parent_keys == {dump}
    assert raw.owners == ["metatest@kvalreg.example.no"]
    spec = defs.resolve_assets_def(raw.key).specs_by_key[raw.key]
    lineage = spec.metadata["dagster/column_lineage"]
    assert lineage.deps_by_column["Alder"] == [dg.TableColumnDep(dump, "Alder")]
    dump_spec = defs.resolve_assets_def(dump).specs_by_key[dump]
    names = [c.name for c in dump_spec.metadata["dagster/column_schema"].columns]
    assert names == [
        "PasientID",
        "ForlopsID",
        "Fodselsnummer",
        "AvdRESH",
        "HovedDato",
        "Alder",
        "Kjonn",
    ]
    # A registry without a metadata section simply has no owner.
    assert graph.get(raw_asset_key("orchtest", "basis")).owners == []


@pytest.mark.skipif(not manifest_ready(), reason="dbt manifest not prepared")
def test_metadata_asset_follows_raw_assets_and_marts(kvalreg_env: Layout) -> None:
    defs, graph = _graph(kvalreg_env)
    node = graph.get(METADATA_KEY)
    parents = {k.to_user_string() for k in node.parent_keys}
    assert "raw/orchtest/basis" in parents and "marts/mart_indicators" in parents
    assert dg.AssetCheckKey(METADATA_KEY, SHACL_CHECK) in node.check_keys
    check = defs.resolve_assets_def(METADATA_KEY).get_spec_for_check_key(
        dg.AssetCheckKey(METADATA_KEY, SHACL_CHECK)
    )
    assert check.blocking
    job = defs.resolve_job_def("build_marts")
    assert METADATA_KEY in job.asset_layer.executable_asset_keys
    # A registry's models are owned by the registry's contact; shared marts by nobody.
    staging = graph.get(dg.AssetKey(["staging", "stg_hoftebrudd__operasjon"]))
    assert staging.owners == ["hoftebrudd@kvalreg.example.no"]
    assert graph.get(dg.AssetKey(["marts", "mart_indicators"])).owners == []


def test_code_version_changes_with_the_codebook(kvalreg_env: Layout, metatest: Path) -> None:
    before = registries_version(load_registries())
    assert registries_version(load_registries()) == before
    with (metatest / "codebook.csv").open("a", encoding="utf-8") as fh:
        fh.write("basis;Ny;Ny variabel;;tekst;;nei;nei;;;nei;;;;;;\n")
    assert registries_version(load_registries()) != before


def test_shacl_violation_fails_the_metadata_asset(kvalreg_env: Layout, metatest: Path) -> None:
    """No description breaks DCAT-AP-NO: the blocking check fails and the run fails."""
    cfg = metatest / "registry.yaml"
    text = cfg.read_text(encoding="utf-8")
    text = text.replace("nb: Testregister for metadata.", 'nb: ""').replace(
        "    en: Test registry for metadata.\n", ""
    )
    cfg.write_text(text, encoding="utf-8")
    regs = load_registries()
    asset = build_metadata_asset(regs, [])
    with open_instance(kvalreg_env) as instance:
        result = dg.materialize(
            [asset],
            resources={"warehouse": WarehouseResource(kvalreg_home=str(kvalreg_env.home))},
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    (evaluation,) = result.get_asset_check_evaluations()
    assert evaluation.check_name == SHACL_CHECK and not evaluation.passed
    assert evaluation.metadata["metatest_violations"].value >= 1
    assert evaluation.metadata["hoftebrudd_violations"].value == 0
    report = (kvalreg_env.metadata / "dcat" / "metatest.shacl.txt").read_text(encoding="utf-8")
    assert "dct:description" in report
