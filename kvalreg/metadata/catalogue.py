"""The variable catalogue: one entry per column of the raw tables, staging, intermediate and marts.

Raw entries come from the registries' canonical codebooks (label, description, type, unit,
value set); model entries from the dbt manifest, inheriting the codebook documentation through
column lineage when a model passes a column on unchanged. Identifier class, owning registry
and the first/last dump are derived through the same lineage from the raw columns, so a
column added to a codebook reaches every output with no second copy anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from graphlib import TopologicalSorter

from kvalreg.codebook import IdentifierClass
from kvalreg.ingest.validate import sql_type
from kvalreg.metadata.identifiers import classify, strongest
from kvalreg.metadata.lineage import (
    ColumnLineage,
    ColumnRef,
    DbtLineage,
    LineageGraph,
    ingestion_lineage,
    layer_of,
    raw_relation,
)
from kvalreg.metadata.warehouse_facts import DumpSpan
from kvalreg.registry import Registry

_RAW_SCHEMA = re.compile(r"^raw_([a-z][a-z0-9_]*)$")
_BOOKKEEPING = {
    "_dump_id": ("Dump-ID", "the dump (Dagster partition key) the row came from", "VARCHAR"),
    "_source_row": ("Record number", "data record number in the dump (1 = first)", "BIGINT"),
    "_source_line": ("Line number", "physical line where the record starts", "BIGINT"),
    "_loaded_at": ("Loaded at", "when the dump was loaded", "TIMESTAMP"),
}


@dataclass(frozen=True)
class CodeValue:
    code: str
    label: str
    missing: bool = False


@dataclass(frozen=True)
class VariableEntry:
    """One column of one relation, documented."""

    relation: str  # ``raw_hoftebrudd.operasjon``, ``marts.mart_indicators`` ...
    name: str
    layer: str
    registries: tuple[str, ...]  # owning registries (several for cross-registry marts)
    label: str
    description: str
    type: str  # warehouse type
    codebook_type: str  # rapwhale variabeltype, where the column carries a codebook variable
    unit: str
    values: tuple[CodeValue, ...]
    identifier_class: IdentifierClass
    identifier_class_basis: str
    sources: tuple[str, ...]  # direct source columns, ``relation.column``
    transformation: str
    dump_columns: tuple[str, ...]  # the delivered dump columns it ultimately comes from
    first_dump: str | None = None
    last_dump: str | None = None

    @property
    def ref(self) -> ColumnRef:
        return ColumnRef(self.relation, self.name)

    @property
    def id(self) -> str:
        return str(self.ref)

    @property
    def registry(self) -> str:
        """The owning registry, or ``""`` when the column mixes several."""
        return self.registries[0] if len(self.registries) == 1 else ""

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        d["identifier_class"] = self.identifier_class.value
        d["values"] = [asdict(v) for v in self.values]
        return {"id": self.id, "registry": self.registry, **d}

    def to_row(self) -> dict[str, str]:
        """Flat form for CSV and Parquet: lists joined with `` | ``."""
        d = self.to_dict()
        d["registries"] = " | ".join(self.registries)
        d["values"] = " | ".join(
            f"{v.code}={v.label}" + (" (missing)" if v.missing else "") for v in self.values
        )
        d["sources"] = " | ".join(self.sources)
        d["dump_columns"] = " | ".join(self.dump_columns)
        return {k: "" if v is None else str(v) for k, v in d.items()}


@dataclass
class Catalogue:
    entries: list[VariableEntry]
    graph: LineageGraph
    relation_docs: dict[str, str] = field(default_factory=dict)  # relation -> description
    problems: list[str] = field(default_factory=list)

    def by_ref(self) -> dict[ColumnRef, VariableEntry]:
        return {e.ref: e for e in self.entries}

    def for_registry(self, registry: str) -> list[VariableEntry]:
        return [e for e in self.entries if registry in e.registries]


def build_catalogue(
    registries: Mapping[str, Registry],
    dbt: DbtLineage | None = None,
    spans: Mapping[ColumnRef, DumpSpan] | None = None,
) -> Catalogue:
    """The catalogue of every registry's raw tables and, given the dbt lineage, every model."""
    spans = spans or {}
    edges: list[ColumnLineage] = [e for r in registries.values() for e in ingestion_lineage(r)]
    if dbt is not None:
        edges += dbt.edges
    graph = LineageGraph(edges)
    entries: dict[ColumnRef, VariableEntry] = {}
    docs: dict[str, str] = {}
    for reg in registries.values():
        for form in reg.forms:
            relation = raw_relation(reg.name, form.name)
            docs[relation] = f"{reg.title}: form '{form.name}' ({form.role}), every accepted dump"
            for entry in _raw_entries(reg, form.name, graph, spans):
                entries[entry.ref] = entry
    if dbt is not None:
        order = TopologicalSorter({n: r.depends_on for n, r in dbt.relations.items()})
        for name in order.static_order():
            rel = dbt.relations.get(name)
            if rel is None or name in docs or _RAW_SCHEMA.match(name.split(".")[0]):
                continue
            docs[name] = rel.description
            for column, type_ in rel.columns.items():
                ref = ColumnRef(name, column)
                entries[ref] = _model_entry(
                    ref, type_, rel.column_docs.get(column, ""), graph, entries, spans
                )
    return Catalogue(
        list(entries.values()), graph, docs, list(dbt.problems) if dbt is not None else []
    )


def _raw_entries(
    reg: Registry, form: str, graph: LineageGraph, spans: Mapping[ColumnRef, DumpSpan]
) -> Iterable[VariableEntry]:
    relation = raw_relation(reg.name, form)
    for v in reg.form(form).variables:
        ref = ColumnRef(relation, v.name)
        cls, basis = classify(v, reg.keys)
        lin = graph.direct[ref]
        span = spans.get(ref)
        yield VariableEntry(
            relation=relation,
            name=v.name,
            layer="raw",
            registries=(reg.name,),
            label=v.label,
            description=v.description,
            type=sql_type(v),
            codebook_type=v.type.value,
            unit=v.unit,
            values=tuple(CodeValue(c, t, c in v.missing_codes) for c, t in v.values.items()),
            identifier_class=cls,
            identifier_class_basis=basis,
            sources=tuple(str(s) for s in lin.sources),
            transformation=lin.transformation,
            dump_columns=tuple(str(s) for s in lin.sources),
            first_dump=span.first_dump if span else None,
            last_dump=span.last_dump if span else None,
        )
    for name, (label, description, type_) in _BOOKKEEPING.items():
        ref = ColumnRef(relation, name)
        yield VariableEntry(
            relation=relation,
            name=name,
            layer="raw",
            registries=(reg.name,),
            label=label,
            description=description,
            type=type_,
            codebook_type="",
            unit="",
            values=(),
            identifier_class=IdentifierClass.OTHER,
            identifier_class_basis="platform bookkeeping column",
            sources=(),
            transformation=graph.direct[ref].transformation,
            dump_columns=(),
        )


def _model_entry(
    ref: ColumnRef,
    type_: str,
    declared_doc: str,
    graph: LineageGraph,
    entries: Mapping[ColumnRef, VariableEntry],
    spans: Mapping[ColumnRef, DumpSpan],
) -> VariableEntry:
    lin = graph.direct.get(ref)
    sources = lin.sources if lin else ()
    parents = [entries[s] for s in sources if s in entries]
    # A column passed on under its own name keeps the codebook's documentation.
    same = [p for p in parents if p.name.lower() == ref.column.lower()]
    labelled = [p for p in parents if f"{p.name}_label".lower() == ref.column.lower()]
    inherit = same[0] if len(parents) == 1 and same else None
    if len(parents) == 1 and labelled:
        label = f"{labelled[0].label} (value text)"
        description = f"The codebook's value text of {labelled[0].name}."
    elif inherit is not None:
        label, description = inherit.label, declared_doc or inherit.description
    else:
        label, description = ref.column, declared_doc
    raw_roots = sorted(graph.roots(ref, "raw"))
    root_entries = [entries[r] for r in raw_roots if r in entries]
    registries = sorted({r for e in root_entries for r in e.registries})
    if not registries:
        registries = sorted(
            {m.group(1) for r in raw_roots if (m := _RAW_SCHEMA.match(r.relation.split(".")[0]))}
        )
    # An aggregate (a count, a median) identifies nobody by itself; otherwise a column is as
    # identifying as the most identifying column it is computed from.
    if lin is not None and lin.aggregated:
        identifier_class, basis = IdentifierClass.OTHER, "derived: aggregate"
    elif parents:
        identifier_class = strongest([p.identifier_class for p in parents])
        basis = "derived: strongest class of its source columns"
    else:
        identifier_class, basis = IdentifierClass.OTHER, "derived: no source column"
    root_spans = [spans[r] for r in raw_roots if r in spans]
    first = min(root_spans, key=lambda s: s.first_received, default=None)
    last = max(root_spans, key=lambda s: s.last_received, default=None)
    return VariableEntry(
        relation=ref.relation,
        name=ref.column,
        layer=layer_of(ref.relation),
        registries=tuple(registries),
        label=label,
        description=description,
        type=type_,
        codebook_type=inherit.codebook_type if inherit else "",
        unit=inherit.unit if inherit else "",
        values=inherit.values if inherit else (),
        identifier_class=identifier_class,
        identifier_class_basis=basis,
        sources=tuple(str(s) for s in sources),
        transformation=lin.transformation if lin else "not derivable from the compiled SQL",
        dump_columns=tuple(sorted({str(r) for r in graph.roots(ref, "dump")})),
        first_dump=first.first_dump if first else None,
        last_dump=last.last_dump if last else None,
    )


@dataclass(frozen=True)
class ReleasedVariable:
    """A variable of a research release: a registry form (raw) or a dbt model, and a column."""

    registry: str
    table: str  # form name, or a model name such as ``stg_hoftebrudd__operasjon``
    column: str


@dataclass(frozen=True)
class ReleaseCodebook:
    """A release's codebook: its variables' catalogue entries and the lineage behind them."""

    variables: tuple[VariableEntry, ...]
    upstream: tuple[VariableEntry, ...]  # every catalogued column they are derived from
    lineage: tuple[ColumnLineage, ...]  # the edges from the dump columns to the variables

    def to_dict(self) -> dict[str, object]:
        return {
            "variables": [e.to_dict() for e in self.variables],
            "upstream": [e.to_dict() for e in self.upstream],
            "lineage": [
                {
                    "column": str(e.column),
                    "sources": [str(s) for s in e.sources],
                    "transformation": e.transformation,
                }
                for e in self.lineage
            ],
        }


def release_codebook(
    catalogue: Catalogue, variables: Iterable[ReleasedVariable]
) -> ReleaseCodebook:
    """The catalogue subset for a release's variables, plus their lineage.

    Raises ``KeyError`` naming the first variable the catalogue does not hold.
    """
    by_ref = catalogue.by_ref()
    by_table = {}
    for ref in by_ref:
        by_table.setdefault((ref.relation.split(".")[-1].lower(), ref.column), ref)
    chosen: list[VariableEntry] = []
    for v in variables:
        ref = ColumnRef(raw_relation(v.registry, v.table), v.column)
        if ref not in by_ref:
            found = by_table.get((v.table.lower(), v.column))
            if found is None or v.registry not in by_ref[found].registries:
                raise KeyError(
                    f"release variable {v.registry}/{v.table}.{v.column} is not in the catalogue"
                )
            ref = found
        chosen.append(by_ref[ref])
    upstream_refs = sorted({u for e in chosen for u in catalogue.graph.upstream(e.ref)})
    lineage = [
        catalogue.graph.direct[r]
        for r in [*(e.ref for e in chosen), *upstream_refs]
        if r in catalogue.graph.direct
    ]
    return ReleaseCodebook(
        tuple(chosen),
        tuple(by_ref[r] for r in upstream_refs if r in by_ref),
        tuple(lineage),
    )
