"""Lineage per quality indicator: which delivered dump columns each indicator is computed from.

Column lineage ends in ``int_indicator_observations``, where every indicator shares the same
columns (``hit``, ``value``), so it cannot tell indicators apart. Each indicator is declared
in ``indicators.yaml`` as SQL over the registry's episodes model; the columns those
expressions name are read with sqlglot and followed back through the column lineage to the
dump. Coverage indicators (``dg_andel``) come from ``mart_coverage.dg_registry``.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlglot
from sqlglot import exp

from kvalreg.indicators import Indicator, load_indicators
from kvalreg.metadata.catalogue import Catalogue
from kvalreg.metadata.lineage import ColumnRef
from kvalreg.registry import Registry

COVERAGE = ColumnRef("marts.mart_coverage", "dg_registry")


@dataclass(frozen=True)
class IndicatorLineage:
    registry: str
    id: str
    title: str
    type: str
    columns: tuple[str, ...]  # the episodes (or coverage) columns the definition names
    dump_columns: tuple[str, ...]  # the delivered dump columns they come from

    def to_dict(self) -> dict[str, object]:
        return {
            "registry": self.registry,
            "id": self.id,
            "title": self.title,
            "type": self.type,
            "columns": list(self.columns),
            "dump_columns": list(self.dump_columns),
        }


def _named_columns(ind: Indicator) -> set[str]:
    names: set[str] = set()
    for text in (ind.population, ind.outcome, ind.unit, ind.period):
        if text:
            tree = sqlglot.parse_one(text, dialect="duckdb")
            names |= {c.name.lower() for c in tree.find_all(exp.Column)}
    return names


def indicator_lineage(
    registry: Registry, catalogue: Catalogue, npr_registries: frozenset[str] = frozenset()
) -> list[IndicatorLineage]:
    """One entry per indicator of the registry (none without ``indicators.yaml`` or marts).

    ``npr_registries`` (registries of system ``npr``) are the other side of the coverage
    analysis: their dump columns count for a ``dg_andel`` indicator, other registries' don't.
    """
    definitions = load_indicators(registry.name, registry.folder)
    if definitions is None:
        return []
    episodes = f"intermediate.int_{registry.name}__episodes"
    columns = {r.column.lower(): r for r in catalogue.graph.direct if r.relation == episodes}
    if not columns:
        return []
    own = {f"dump:{name}/" for name in {registry.name, *npr_registries}}
    out = []
    for ind in definitions.indicators:
        if ind.type == "dg_andel":
            refs = [COVERAGE]
        else:
            refs = sorted(columns[n] for n in _named_columns(ind) if n in columns)
        dumps = {
            str(d)
            for ref in refs
            for d in catalogue.graph.roots(ref, "dump")
            if any(d.relation.startswith(prefix) for prefix in own)
        }
        out.append(
            IndicatorLineage(
                registry=registry.name,
                id=ind.id,
                title=ind.title,
                type=ind.type,
                columns=tuple(str(r) for r in refs),
                dump_columns=tuple(sorted(dumps)),
            )
        )
    return out
