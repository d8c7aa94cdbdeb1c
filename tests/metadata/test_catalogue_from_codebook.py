"""A codebook column reaches the variable catalogue, the DCAT output and the HTML with no other
edit; dump spans come from a real warehouse filled through a real Dagster instance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pytest
from rdflib import Graph, Literal
from rdflib import namespace as rdfns

from kvalreg.codebook import IdentifierClass
from kvalreg.fnr import make_tenor
from kvalreg.metadata.build import write_metadata
from kvalreg.metadata.catalogue import ReleasedVariable, build_catalogue, release_codebook
from kvalreg.metadata.dcat import (
    ACCESS,
    CSVW,
    HEALTH,
    MetadataConfigError,
    RegistryMetadata,
    ReleaseDataset,
    registry_graph,
    validate,
)
from kvalreg.metadata.releases import load_releases, register_release
from kvalreg.paths import Layout
from kvalreg.registry import load_registries
from orchestration.process import process_once

FIXTURE = Path(__file__).parents[1] / "fixtures" / "metadata_registries" / "metatest"
HEADER = "PasientID;ForlopsID;Fodselsnummer;AvdRESH;HovedDato;Alder;Kjonn"
RESH = "9900107"  # a unit in kvalreg/reference/units.csv


@pytest.fixture
def metatest(kvalreg_env: Layout, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private copy of the metatest registry, visible through KVALREG_REGISTRIES."""
    regs = tmp_path / "registries"
    shutil.copytree(FIXTURE, regs / "metatest")
    monkeypatch.setenv(
        "KVALREG_REGISTRIES", os.pathsep.join([os.environ["KVALREG_REGISTRIES"], str(regs)])
    )
    kvalreg_env.ensure(sorted(load_registries()))
    return regs / "metatest"


def _rows(n: int, extra: Callable[[int], str] | None = None) -> str:
    lines = []
    for i in range(1, n + 1):
        fnr = make_tenor(date(1940 + i, 1 + i % 12, 1 + i % 28), 100 + i)
        row = f"P{i:04d};{i};{fnr};{RESH};0{1 + i % 9}.02.2024;{60 + i};{1 + i % 2}"
        lines.append(row + (f";{extra(i)}" if extra else ""))
    return "\r\n".join(lines) + "\r\n"


def _land(layout: Layout, name: str, text: str) -> None:
    path = layout.landing_for("metatest") / name
    path.write_text(text, encoding="utf-8")
    stamp = time.time() - 3600
    os.utime(path, (stamp, stamp))


def _variables(layout: Layout) -> dict[str, dict]:
    doc = json.loads((layout.metadata / "variables.json").read_text(encoding="utf-8"))
    return {v["id"]: v for v in doc["variables"]}


def _column_names(ttl: Path) -> set[str]:
    g = Graph().parse(ttl, format="turtle")
    return {str(o) for o in g.objects(None, CSVW.name)}


def test_new_codebook_column_reaches_catalogue_dcat_and_html(
    kvalreg_env: Layout, metatest: Path
) -> None:
    layout = kvalreg_env
    _land(layout, "metatest_basis_20260101.csv", HEADER + "\r\n" + _rows(6))
    first = process_once(layout, load_registries(), settle_seconds=0)
    assert first.ok and len(first.processed) == 1, first.describe()
    summary = write_metadata(layout, load_registries(), with_dbt_docs=False)
    assert summary.conforms, summary.describe()
    variables = _variables(layout)
    assert "raw_metatest.basis.Alder" in variables
    assert "raw_metatest.basis.Royker" not in variables
    ttl = layout.metadata / "dcat" / "metatest.ttl"
    assert "Alder" in _column_names(ttl) and "Royker" not in _column_names(ttl)

    # The only edit: one variable appended to the codebook (and a dump that carries it).
    with (metatest / "codebook.csv").open("a", encoding="utf-8") as fh:
        for code, text in (("1", "Daglig"), ("2", "Aldri")):
            fh.write(
                f'basis;Royker;Røyker <&> "status";Røykestatus;kategorisk;;nei;nei;'
                f"{code};{text};nei;;;;;;\n"
            )
    _land(
        layout,
        "metatest_basis_20260201.csv",
        HEADER + ";Royker\r\n" + _rows(8, lambda i: str(1 + i % 2)),
    )
    second = process_once(layout, load_registries(), settle_seconds=0)
    assert second.ok and len(second.processed) == 1, second.describe()
    summary = write_metadata(layout, load_registries(), with_dbt_docs=False)
    assert summary.conforms, summary.describe()

    variables = _variables(layout)
    new = variables["raw_metatest.basis.Royker"]
    assert new["label"] == 'Røyker <&> "status"'
    assert new["values"] == [
        {"code": "1", "label": "Daglig", "missing": False},
        {"code": "2", "label": "Aldri", "missing": False},
    ]
    assert new["sources"] == ["dump:metatest/basis.Royker"]
    assert new["registry"] == "metatest"
    # First/last dump from the warehouse: the new column only has values in the second dump.
    old = variables["raw_metatest.basis.Alder"]
    assert old["first_dump"].startswith("metatest_basis_20260101@")
    assert old["last_dump"].startswith("metatest_basis_20260201@")
    assert new["first_dump"] == new["last_dump"] == old["last_dump"]
    # Identifier classes derived from the registry keys.
    assert variables["raw_metatest.basis.Fodselsnummer"]["identifier_class"] == "direkte"
    assert variables["raw_metatest.basis.HovedDato"]["identifier_class"] == "kvasi"
    assert new["identifier_class"] == "annan"

    assert "Royker" in _column_names(ttl)
    jsonld = json.loads((layout.metadata / "dcat" / "metatest.jsonld").read_text("utf-8"))
    assert "Royker" in json.dumps(jsonld, ensure_ascii=False)
    csv_text = (layout.metadata / "variables.csv").read_text(encoding="utf-8")
    assert "raw_metatest.basis.Royker" in csv_text
    page = (layout.metadata / "html" / "metatest" / "index.html").read_text(encoding="utf-8")
    assert 'id="v-raw_metatest-basis-Royker"' in page
    assert "Røyker &lt;&amp;&gt; &quot;status&quot;" in page
    assert "<&>" not in page

    # HealthDCAT-AP counts from the latest dump.
    g = Graph().parse(ttl, format="turtle")
    assert {int(o) for o in g.objects(None, HEALTH.numberOfRecords)} == {8}
    assert {int(o) for o in g.objects(None, HEALTH.numberOfUniqueIndividuals)} == {8}


def test_registry_without_metadata_section_is_named(kvalreg_env: Layout) -> None:
    orchtest = load_registries()["orchtest"]
    with pytest.raises(MetadataConfigError, match=r"orchtest/registry.yaml: no `metadata:`"):
        RegistryMetadata.of(orchtest)
    summary = write_metadata(kvalreg_env, load_registries(), with_dbt_docs=False)
    assert "orchtest/registry.yaml has no `metadata:` section" in summary.skipped["orchtest"]
    assert {"hoftebrudd", "hjerneslag", "npr"} <= set(summary.validation)
    assert summary.conforms, summary.describe()


def test_incomplete_metadata_section_is_an_error(kvalreg_env: Layout, metatest: Path) -> None:
    cfg = metatest / "registry.yaml"
    cfg.write_text(
        cfg.read_text(encoding="utf-8").replace("  access_url: https://helsedata.no/\n", ""),
        encoding="utf-8",
    )
    with pytest.raises(MetadataConfigError, match=r"metatest/registry.yaml: .*access_url"):
        write_metadata(kvalreg_env, load_registries(), with_dbt_docs=False)


def test_rerun_writes_identical_bytes(kvalreg_env: Layout) -> None:
    """Two `kvalreg metadata` processes (different hash seeds, so different set orders)."""

    def snapshot(seed: str) -> dict[Path, bytes]:
        done = subprocess.run(
            [sys.executable, "-m", "kvalreg.cli", "metadata", "--no-dbt-docs"],
            env=os.environ | {"PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert f"metadata written to {kvalreg_env.metadata}" in done.stdout
        return {p: p.read_bytes() for p in kvalreg_env.metadata.rglob("*") if p.is_file()}

    first = snapshot("1")
    assert any(p.suffix == ".jsonld" for p in first)
    assert snapshot("2") == first


def test_shacl_reports_violations(kvalreg_env: Layout, metatest: Path) -> None:
    regs = load_registries()
    catalogue = build_catalogue(regs)
    graph = registry_graph(regs["metatest"], catalogue)
    assert validate(graph).conforms
    # A dataset without a theme breaks one of DCAT-AP-NO's mandatory properties.
    broken = Graph()
    for triple in graph:
        broken.add(triple)
    dataset = next(graph.subjects(rdfns.RDF.type, rdfns.DCAT.Dataset))
    broken.remove((dataset, rdfns.DCAT.theme, None))
    result = validate(broken)
    assert not result.conforms and result.violations >= 1
    assert "dcat:theme" in result.report


def test_release_is_a_non_public_dataset_with_its_codebook(
    kvalreg_env: Layout, metatest: Path
) -> None:
    regs = load_registries()
    catalogue = build_catalogue(regs)
    release = ReleaseDataset(
        registry="metatest",
        identifier="2026-001",
        title="Utlevering til prosjekt X",
        description="Alder og kjønn for kohort X.",
        issued=date(2026, 3, 1),
        project="REK 2026/12345",
        legal_basis="helseregisterloven § 19 a; REK 2026/12345",
        variables=("raw_metatest.basis.Alder", "raw_metatest.basis.Kjonn"),
        period_start=date(2020, 1, 1),
        period_end=date(2024, 12, 31),
    )
    path = register_release(
        kvalreg_env,
        release,
        catalogue,
        [
            ReleasedVariable("metatest", "basis", "Alder"),
            ReleasedVariable("metatest", "basis", "Kjonn"),
        ],
    )
    assert load_releases(kvalreg_env) == [release]
    codebook = json.loads(path.with_suffix(".codebook.json").read_text(encoding="utf-8"))
    assert [v["name"] for v in codebook["variables"]] == ["Alder", "Kjonn"]
    assert {e["column"] for e in codebook["lineage"]} == {
        "raw_metatest.basis.Alder",
        "raw_metatest.basis.Kjonn",
    }
    with pytest.raises(KeyError, match=r"metatest/basis\.Nope"):
        release_codebook(catalogue, [ReleasedVariable("metatest", "basis", "Nope")])

    summary = write_metadata(kvalreg_env, regs, with_dbt_docs=False)
    assert summary.validation["metatest"].conforms
    g = Graph().parse(kvalreg_env.metadata / "dcat" / "metatest.ttl", format="turtle")
    (ds,) = [s for s in g.subjects(rdfns.DCAT.keyword, Literal("raw_metatest.basis.Alder"))]
    assert (ds, rdfns.DCAT.theme, None) in g
    assert set(g.objects(ds, rdfns.DCTERMS.accessRights)) == {ACCESS.NON_PUBLIC}


def test_identifier_class_from_codebook_and_keys(kvalreg_env: Layout, metatest: Path) -> None:
    """The codebook's identifikator counts; the key-derived class wins only when stronger."""
    from kvalreg.codebook import Variable, VarType
    from kvalreg.metadata.identifiers import classify

    keys = load_registries()["metatest"].keys

    def var(name: str, stated: IdentifierClass, vtype: VarType = VarType.TEXT) -> Variable:
        return Variable(form="basis", name=name, label=name, type=vtype, identifier=stated)

    assert classify(var("Notat", IdentifierClass.QUASI), keys) == (
        IdentifierClass.QUASI,
        "codebook (identifikator)",
    )
    assert classify(var("Notat", IdentifierClass.OTHER), keys)[0] is IdentifierClass.OTHER
    assert classify(var("Alder", IdentifierClass.OTHER), keys)[0] is IdentifierClass.QUASI
    assert classify(var("Fodselsnummer", IdentifierClass.QUASI), keys)[0] is IdentifierClass.DIRECT
    assert classify(var("Dato", IdentifierClass.DIRECT, VarType.DATE), keys) == (
        IdentifierClass.DIRECT,
        "codebook (identifikator)",
    )
