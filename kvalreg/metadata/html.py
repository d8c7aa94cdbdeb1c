"""A static, browsable variable catalogue per registry: plain HTML, every text escaped.

One page per registry lists its tables layer by layer (raw, staging, intermediate, marts);
each variable shows its documentation, value set and identifier class, where it comes from
(direct sources and the delivered dump columns) and where it goes (direct consumers and the
mart columns it ends up in). Variables link to each other, across registry pages too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from html import escape

from kvalreg.metadata.catalogue import Catalogue, VariableEntry
from kvalreg.metadata.indicators import IndicatorLineage
from kvalreg.metadata.lineage import DUMP_PREFIX, ColumnRef, layer_of

SHARED_PAGE = "felles"  # columns no registry owns: reference data, bookkeeping, definitions
LAYERS = ("raw", "staging", "intermediate", "marts", "reference", "meta")
_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem;max-width:80rem;color:#222}
table{border-collapse:collapse;width:100%;margin-bottom:2rem}
th,td{border:1px solid #ccc;padding:.3rem .5rem;vertical-align:top;text-align:left}
th{background:#f3f3f3} code{font-size:.85em} .direkte{color:#b00020;font-weight:bold}
.kvasi{color:#a06000} .small{font-size:.85em;color:#555} nav a{margin-right:1rem}
"""


def anchor(ref: ColumnRef | str) -> str:
    """A stable HTML id for a column (letters, digits, ``-``, ``_`` only)."""
    return "v-" + re.sub(r"[^A-Za-z0-9_-]", "-", str(ref))


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="nb"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>\n"
        f"{body}\n</body></html>\n"
    )


def _links(
    refs: Iterable[ColumnRef | str],
    here: str,
    home_of: Mapping[str, str],
) -> str:
    """Links to the given columns: on this page, on the owning registry's page, or plain."""
    out = []
    for ref in sorted(str(r) for r in refs):
        text = f"<code>{escape(ref)}</code>"
        ref = _raw_of_dump(ref)  # a dump column is documented by the raw column it loads into
        page = home_of.get(ref)
        if page is None:
            out.append(text)
        elif page == here:
            out.append(f'<a href="#{anchor(ref)}">{text}</a>')
        else:
            out.append(f'<a href="../{escape(page)}/index.html#{anchor(ref)}">{text}</a>')
    return "<br>".join(out) or '<span class="small">-</span>'


def registry_page(
    catalogue: Catalogue,
    registry: str,
    title: str,
    indicators: Iterable[IndicatorLineage] = (),
) -> str:
    """The page of one registry (or of ``SHARED_PAGE``: the columns no registry owns)."""
    entries = (
        [e for e in catalogue.entries if not e.registries]
        if registry == SHARED_PAGE
        else catalogue.for_registry(registry)
    )
    home_of = _homes(catalogue.entries)
    # Columns of this page link here; shared marts also appear on this registry's page.
    home_of |= {e.id: registry for e in entries}
    graph = catalogue.graph
    by_relation: dict[str, list[VariableEntry]] = {}
    for e in entries:
        by_relation.setdefault(e.relation, []).append(e)
    relations = sorted(by_relation, key=lambda r: (_layer_rank(r), r))
    nav = " ".join(f'<a href="#{anchor(r)}">{escape(r)}</a>' for r in relations)
    parts = [
        f"<h1>Variabelkatalog: {escape(title)}</h1>",
        '<p class="small">Generert av kvalreg fra kodebøker, dbt-manifestet og lageret; '
        "ikke rediger for hånd. Linjen går fra kolonnen i datadumpen via råtabellen og dbt "
        'til indikatorene. <a href="../index.html">Alle registre</a></p>',
        f"<nav>{nav}</nav>",
    ]
    indicators = list(indicators)
    if indicators:
        parts.append(
            "<h2>Indikatorer</h2><table><tr><th>Indikator</th><th>Type</th>"
            "<th>Definisjonen bruker</th><th>Fra dumpkolonnene</th></tr>"
        )
        parts += [
            f"<tr><td><b>{escape(i.id)}</b><br>{escape(i.title)}</td><td>{escape(i.type)}</td>"
            f"<td>{_links(i.columns, registry, home_of)}</td>"
            f"<td>{_links(i.dump_columns, registry, home_of)}</td></tr>"
            for i in indicators
        ]
        parts.append("</table>")
    for relation in relations:
        doc = catalogue.relation_docs.get(relation, "")
        parts.append(
            f'<h2 id="{anchor(relation)}">{escape(relation)} '
            f'<span class="small">({escape(layer_of(relation))})</span></h2>'
        )
        if doc:
            parts.append(f"<p>{escape(doc)}</p>")
        parts.append(
            "<table><tr><th>Variabel</th><th>Beskrivelse</th><th>Type</th>"
            "<th>Verdier</th><th>Identifikator</th><th>Kommer fra</th><th>Går til</th>"
            "<th>Dumper</th></tr>"
        )
        for e in by_relation[relation]:
            down = graph.downstream(e.ref)
            marts = {r for r in down if layer_of(r.relation) == "marts"}
            direct_down = graph.consumers(e.ref)
            values = "<br>".join(
                f"<code>{escape(v.code)}</code> = {escape(v.label)}"
                + (" <i>(ukjent)</i>" if v.missing else "")
                for v in e.values
            )
            dumps = (
                f"første: <code>{escape(e.first_dump)}</code><br>"
                f"siste: <code>{escape(e.last_dump or '')}</code>"
                if e.first_dump
                else '<span class="small">-</span>'
            )
            parts.append(
                f'<tr id="{anchor(e.ref)}"><td><b>{escape(e.name)}</b><br>'
                f"{escape(e.label)}</td>"
                f"<td>{escape(e.description)}"
                + (f"<br>Enhet: {escape(e.unit)}" if e.unit else "")
                + f'<br><span class="small">{escape(e.transformation)}</span></td>'
                f"<td><code>{escape(e.type)}</code>"
                + (f"<br>{escape(e.codebook_type)}" if e.codebook_type else "")
                + f"</td><td>{values}</td>"
                f'<td class="{escape(e.identifier_class.value)}">'
                f"{escape(e.identifier_class.value)}</td>"
                f"<td>{_links(e.sources, registry, home_of)}"
                + (
                    f'<br><span class="small">dump:</span> '
                    f"{_links(e.dump_columns, registry, home_of)}"
                    if e.layer != "raw" and e.dump_columns
                    else ""
                )
                + f"</td><td>{_links(direct_down, registry, home_of)}"
                + (
                    f'<br><span class="small">i marts:</span> {_links(marts, registry, home_of)}'
                    if marts - direct_down
                    else ""
                )
                + f"</td><td>{dumps}</td></tr>"
            )
        parts.append("</table>")
    return _page(f"Variabelkatalog: {title}", "\n".join(parts))


def index_page(titles: Mapping[str, str], catalogue: Catalogue) -> str:
    """Links to every registry page and the shared page."""
    shared = sum(1 for e in catalogue.entries if not e.registries)
    rows = "".join(
        f'<li><a href="{escape(name)}/index.html">{escape(title)}</a> '
        f'<span class="small">({len(catalogue.for_registry(name))} variabler)</span></li>'
        for name, title in sorted(titles.items())
    ) + (
        f'<li><a href="{SHARED_PAGE}/index.html">Felles: referansedata og definisjoner</a> '
        f'<span class="small">({shared} variabler)</span></li>'
    )
    return _page(
        "Variabelkataloger",
        f"<h1>Variabelkataloger</h1><ul>{rows}</ul>"
        '<p><a href="../dbt-docs/index.html">dbt docs</a> (modeller og tester)</p>',
    )


def _raw_of_dump(ref: str) -> str:
    """``dump:<registry>/<form>.<column>`` → ``raw_<registry>.<form>.<column>``; else as is."""
    if not ref.startswith(DUMP_PREFIX):
        return ref
    registry, rest = ref[len(DUMP_PREFIX) :].split("/", 1)
    return f"raw_{registry}.{rest}"


def _homes(entries: Iterable[VariableEntry]) -> dict[str, str]:
    """The page each column lives on: its owning registry, or the first of several."""
    return {e.id: e.registries[0] if e.registries else SHARED_PAGE for e in entries}


def _layer_rank(relation: str) -> int:
    layer = layer_of(relation)
    return LAYERS.index(layer) if layer in LAYERS else len(LAYERS)
