"""``write_metadata``: generate every metadata output under ``KVALREG_HOME/metadata``.

* ``variables.json`` / ``.csv`` / ``.parquet``: the variable catalogue;
* ``lineage.json``: every column-lineage edge, dump column to mart column;
* ``dcat/<registry>.ttl`` and ``.jsonld``: DCAT-AP-NO per registry, with
  ``<registry>.shacl.txt``, the SHACL validation report;
* ``html/index.html`` and ``html/<registry>/index.html``: the browsable catalogue;
* ``dbt-docs/``: ``dbt docs generate`` output (needs the built warehouse).

With no warehouse yet, the catalogue covers the raw tables from the codebooks alone.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

from kvalreg.atomic import write_public
from kvalreg.metadata.catalogue import Catalogue, build_catalogue
from kvalreg.metadata.dbt_docs import DbtDocs, generate_dbt_docs
from kvalreg.metadata.dcat import (
    ACCESS_RIGHTS,
    MartFacts,
    RegistryMetadata,
    Validation,
    registry_graph,
    validate,
)
from kvalreg.metadata.html import SHARED_PAGE, index_page, registry_page
from kvalreg.metadata.indicators import IndicatorLineage, indicator_lineage
from kvalreg.metadata.lineage import ColumnRef, DbtLineage, dbt_lineage, raw_relation
from kvalreg.metadata.releases import load_releases
from kvalreg.metadata.warehouse_facts import (
    DumpSpan,
    column_dump_spans,
    coverage,
    registry_stats,
)
from kvalreg.paths import Layout
from kvalreg.registry import Registry, load_registries
from kvalreg.warehouse import connect


@dataclass
class MetadataSummary:
    out: Path
    variables: int = 0
    lineage_edges: int = 0
    files: list[Path] = field(default_factory=list)
    validation: dict[str, Validation] = field(default_factory=dict)  # registry -> SHACL result
    skipped: dict[str, str] = field(default_factory=dict)  # registry -> why it has no DCAT
    problems: list[str] = field(default_factory=list)
    dbt_docs: Path | None = None
    dbt_docs_reused: bool = False  # models and tables unchanged since the last build

    @property
    def conforms(self) -> bool:
        return all(v.conforms for v in self.validation.values())

    def describe(self) -> str:
        lines = [
            f"metadata written to {self.out}: {self.variables} variables, "
            f"{self.lineage_edges} lineage edges",
            f"  catalogue   {self.out / 'variables.json'} (.csv, .parquet)",
            f"  html        {self.out / 'html' / 'index.html'}",
        ]
        for name, v in sorted(self.validation.items()):
            lines.append(
                f"  dcat        {self.out / 'dcat' / (name + '.ttl')} (.jsonld): SHACL "
                f"{'conforms' if v.conforms else 'FAILS'}, {v.violations} violation(s), "
                f"{v.warnings} warning(s)"
            )
        lines += [f"  no dcat     {name}: {why}" for name, why in sorted(self.skipped.items())]
        if self.dbt_docs:
            unchanged = " (models and tables unchanged: kept)" if self.dbt_docs_reused else ""
            lines.append(f"  dbt docs    {self.dbt_docs / 'index.html'}{unchanged}")
        lines += [f"  problem     {p}" for p in self.problems]
        return "\n".join(lines)


def write_metadata(
    layout: Layout,
    registries: Mapping[str, Registry] | None = None,
    *,
    with_dbt_docs: bool = True,
) -> MetadataSummary:
    regs = load_registries() if registries is None else registries
    out = layout.metadata
    summary = MetadataSummary(out)
    dbt: DbtLineage | None = None
    if layout.warehouse.is_file() and with_dbt_docs:
        docs = generate_dbt_docs(layout, out / "dbt-docs")
        summary.dbt_docs = docs.target
        summary.dbt_docs_reused = docs.reused
        dbt = dbt_lineage(docs.manifest(), docs.catalog(), docs.lineage_cache)
    elif with_dbt_docs:
        summary.problems.append("no warehouse yet: dbt docs and model lineage skipped")
    else:
        dbt = _previous_dbt_lineage(layout)

    spans, stats, cov = {}, {}, {}
    if layout.warehouse.is_file():
        with connect(layout, read_only=True) as con:
            spans = _dump_spans(con, regs)
            for reg in regs.values():
                age = (reg.extra.get("metadata") or {}).get("age_variable")
                stats[reg.name] = registry_stats(con, reg, age)
                cov[reg.name] = coverage(con, reg.name)

    catalogue = build_catalogue(regs, dbt, spans)
    summary.variables = len(catalogue.entries)
    summary.lineage_edges = sum(len(e.sources) for e in catalogue.graph.direct.values())
    summary.problems += catalogue.problems
    npr = frozenset(r.name for r in regs.values() if r.system == "npr")
    indicators = {r.name: indicator_lineage(r, catalogue, npr) for r in regs.values()}
    summary.files += _write_catalogue(out, catalogue, indicators)

    marts = _marts(dbt)
    releases = load_releases(layout)
    titles: dict[str, str] = {}
    for reg in regs.values():
        titles[reg.name] = reg.title
        if "metadata" not in reg.extra:
            summary.skipped[reg.name] = f"{reg.folder / 'registry.yaml'} has no `metadata:` section"
            continue
        RegistryMetadata.of(reg)  # an incomplete section is an error naming the file
        stat = stats.get(reg.name)
        graph = registry_graph(
            reg,
            catalogue,
            marts,
            stat,
            cov.get(reg.name),
            releases,
            modified=stat.last_received if stat else None,
        )
        result = validate(graph)
        summary.validation[reg.name] = result
        base = out / "dcat" / reg.name
        ttl, jsonld = base.with_suffix(".ttl"), base.with_suffix(".jsonld")
        write_public(ttl, graph.serialize(format="turtle").encode("utf-8"))
        write_public(jsonld, _stable_jsonld(graph.serialize(format="json-ld")))
        summary.files += [ttl, jsonld]
        report = base.with_suffix(".shacl.txt")
        write_public(report, result.report.encode("utf-8"))
        summary.files.append(report)

    html = out / "html"
    pages = titles | {SHARED_PAGE: "Felles: referansedata, bokføring og definisjoner"}
    for name, title in pages.items():
        path = html / name / "index.html"
        page = registry_page(catalogue, name, title, indicators.get(name, []))
        write_public(path, page.encode("utf-8"))
        summary.files.append(path)
    write_public(html / "index.html", index_page(titles, catalogue).encode("utf-8"))
    summary.files.append(html / "index.html")
    return summary


def load_catalogue(layout: Layout, registries: Mapping[str, Registry]) -> Catalogue:
    """The catalogue as the last metadata build saw the models (its dbt docs on disk), with
    the warehouse's current dump spans; no dbt run. For callers such as the release builder,
    which need a release's codebook (``release_codebook``) without regenerating everything."""
    spans = {}
    if layout.warehouse.is_file():
        with connect(layout, read_only=True) as con:
            spans = _dump_spans(con, registries)
    return build_catalogue(registries, _previous_dbt_lineage(layout), spans)


def _previous_dbt_lineage(layout: Layout) -> DbtLineage | None:
    docs = DbtDocs(layout.metadata / "dbt-docs")
    if not (docs.target / "manifest.json").is_file():
        return None
    return dbt_lineage(docs.manifest(), docs.catalog(), docs.lineage_cache)


def _dump_spans(
    con: duckdb.DuckDBPyConnection, registries: Mapping[str, Registry]
) -> dict[ColumnRef, DumpSpan]:
    spans = {}
    for reg in registries.values():
        for form in reg.forms:
            for column, span in column_dump_spans(con, reg.name, form.name).items():
                spans[ColumnRef(raw_relation(reg.name, form.name), column)] = span
    return spans


def _stable_jsonld(text: str) -> bytes:
    """JSON-LD with its (unordered) arrays sorted, so the same graph gives the same bytes;
    rdflib's order follows Python's set hashing, which changes from run to run."""

    def canon(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: canon(v) for k, v in sorted(value.items())}
        if isinstance(value, list):
            items = [canon(v) for v in value]
            return sorted(items, key=lambda v: json.dumps(v, sort_keys=True, ensure_ascii=False))
        return value

    return json.dumps(canon(json.loads(text)), ensure_ascii=False, indent=1).encode("utf-8")


def _marts(dbt: DbtLineage | None) -> list[MartFacts]:
    """Every mart with its access right from the model's ``meta.kvalreg.access_rights``."""
    if dbt is None:
        return []
    out = []
    for name, rel in dbt.relations.items():
        if not name.startswith("marts.") or rel.resource_type != "model":
            continue
        access = str(rel.meta.get("kvalreg", {}).get("access_rights", "RESTRICTED"))
        if access not in ACCESS_RIGHTS:
            raise ValueError(
                f"dbt model {name}: meta.kvalreg.access_rights {access!r} is not one of "
                f"{', '.join(ACCESS_RIGHTS)}"
            )
        out.append(MartFacts(name, rel.description, access))
    return out


def _write_catalogue(
    out: Path, catalogue: Catalogue, indicators: Mapping[str, list[IndicatorLineage]]
) -> list[Path]:
    entries = [e.to_dict() for e in catalogue.entries]
    rows = [e.to_row() for e in catalogue.entries]
    lineage = [
        {
            "column": str(e.column),
            "sources": [str(s) for s in e.sources],
            "transformation": e.transformation,
            "aggregated": e.aggregated,
        }
        for e in catalogue.graph.direct.values()
    ]
    doc = {
        "relations": catalogue.relation_docs,
        "variables": entries,
        "indicators": [i.to_dict() for name in sorted(indicators) for i in indicators[name]],
        "problems": catalogue.problems,
    }
    files = {
        out / "variables.json": json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"),
        out / "lineage.json": json.dumps(lineage, ensure_ascii=False, indent=1).encode("utf-8"),
    }
    frame = pl.DataFrame(rows, schema=list(rows[0]) if rows else None)
    csv = io.BytesIO()
    frame.write_csv(csv, separator=";")
    files[out / "variables.csv"] = csv.getvalue()
    parquet = io.BytesIO()
    frame.write_parquet(parquet)
    files[out / "variables.parquet"] = parquet.getvalue()
    for path, data in files.items():
        write_public(path, data)
    return list(files)
