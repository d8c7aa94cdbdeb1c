"""DCAT-AP-NO catalogue per registry, with HealthDCAT-AP properties, in Turtle and JSON-LD.

Everything registry-specific comes from the ``metadata:`` section of the registry's
``registry.yaml`` (publisher, contact, legal basis, descriptions, coding systems); the
datasets, their columns and the counts come from the variable catalogue and the warehouse.
One catalog per registry holds:

* the registry's data (NON_PUBLIC), one distribution per form whose CSVW table schema lists
  every codebook variable, so a new codebook column shows up here with no other edit;
* one dataset per mart the registry feeds, with its Parquet export as distribution;
* one NON_PUBLIC dataset per research release registered for the registry
  (``kvalreg.metadata.releases``).

Validated against the DCAT-AP-NO 2.0 SHACL shapes (``shapes/``, a public standard) by
``validate``; the Dagster asset check blocks on any violation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote

from rdflib import Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS, XSD

from kvalreg.metadata.catalogue import Catalogue, VariableEntry
from kvalreg.metadata.warehouse_facts import Coverage, RegistryStats
from kvalreg.registry import Registry

# Every node gets a URI (hash URIs under its dataset for the small ones), no blank nodes, so
# re-running on the same data writes byte-identical Turtle and JSON-LD.
SHAPES_FILE = Path(__file__).parent / "shapes" / "DCAT-AP-NO-shacl_shapes_2.00.ttl"

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
DPV = Namespace("https://w3id.org/dpv#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
EU = "http://publications.europa.eu/resource/authority/"
THEME = Namespace(EU + "data-theme/")
ACCESS = Namespace(EU + "access-right/")
FILE_TYPE = Namespace(EU + "file-type/")
LANGUAGE = Namespace(EU + "language/")
COUNTRY = Namespace(EU + "country/")
LICENCE = Namespace(EU + "licence/")
# The EU controlled vocabularies used here; each value is stated to be in its scheme, which is
# how DCAT-AP-NO's shapes recognise a controlled-vocabulary value.
_SCHEMES = (THEME, ACCESS, FILE_TYPE, LANGUAGE, COUNTRY, LICENCE)
ORG_BASE = "https://data.brreg.no/enhetsregisteret/api/enheter/"
ACCESS_RIGHTS = ("PUBLIC", "RESTRICTED", "NON_PUBLIC")

PREFIXES = {
    "dcat": DCAT,
    "dct": DCTERMS,
    "foaf": FOAF,
    "vcard": VCARD,
    "dcatap": DCATAP,
    "healthdcatap": HEALTH,
    "dpv": DPV,
    "csvw": CSVW,
    "adms": ADMS,
}


class MetadataConfigError(ValueError):
    """A registry's ``metadata:`` section is missing or incomplete."""


@dataclass(frozen=True)
class RegistryMetadata:
    """The ``metadata:`` section of a ``registry.yaml``."""

    uri: str
    description: dict[str, str]  # language -> text; ``nb`` required
    publisher_uri: str
    publisher_name: str
    contact_name: str
    contact_email: str
    contact_url: str
    access_url: str
    legal_basis_uri: str
    legal_basis_title: str
    purpose: str = ""
    keywords: dict[str, list[str]] = field(default_factory=dict)
    coding_systems: tuple[tuple[str, str], ...] = ()  # (name, uri)
    age_variable: str | None = None
    licence: str | None = None  # EU licence code for PUBLIC distributions, e.g. CC_BY_4_0

    @classmethod
    def of(cls, registry: Registry) -> RegistryMetadata:
        where = registry.folder / "registry.yaml"
        cfg = registry.extra.get("metadata")
        if not isinstance(cfg, Mapping):
            raise MetadataConfigError(f"{where}: no `metadata:` section (needed for DCAT-AP-NO)")
        try:
            publisher, contact, legal = cfg["publisher"], cfg["contact"], cfg["legal_basis"]
            description = dict(cfg["description"])
            if "nb" not in description:
                raise KeyError("description.nb")
            return cls(
                uri=str(cfg["uri"]).rstrip("/"),
                description=description,
                publisher_uri=publisher.get("uri") or ORG_BASE + str(publisher["orgnr"]),
                publisher_name=str(publisher["name"]),
                contact_name=str(contact["name"]),
                contact_email=str(contact["email"]),
                contact_url=str(contact.get("url", "")),
                access_url=str(cfg["access_url"]),
                legal_basis_uri=str(legal["uri"]),
                legal_basis_title=str(legal["title"]),
                purpose=str(cfg.get("purpose", "")),
                keywords={k: list(v) for k, v in (cfg.get("keywords") or {}).items()},
                coding_systems=tuple((c["name"], c["uri"]) for c in cfg.get("coding_systems", [])),
                age_variable=cfg.get("age_variable"),
                licence=cfg.get("licence"),
            )
        except (KeyError, TypeError) as exc:
            raise MetadataConfigError(f"{where}: metadata section lacks {exc}") from None


@dataclass(frozen=True)
class ReleaseDataset:
    """A research release (utlevering) as a non-public dataset of its registry's catalog."""

    registry: str
    identifier: str  # release id, unique within the registry
    title: str
    description: str
    issued: date
    project: str = ""  # approved project, e.g. the REK reference
    legal_basis: str = ""  # e.g. "helseregisterloven § 19 a, REK 2026/12345"
    variables: tuple[str, ...] = ()  # catalogue ids (``relation.column``) of the released columns
    period_start: date | None = None
    period_end: date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "registry": self.registry,
            "identifier": self.identifier,
            "title": self.title,
            "description": self.description,
            "issued": self.issued.isoformat(),
            "project": self.project,
            "legal_basis": self.legal_basis,
            "variables": list(self.variables),
            "period_start": self.period_start.isoformat() if self.period_start else None,
            "period_end": self.period_end.isoformat() if self.period_end else None,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReleaseDataset:
        def day(v: str | None) -> date | None:
            return date.fromisoformat(v) if v else None

        return cls(
            registry=d["registry"],
            identifier=d["identifier"],
            title=d["title"],
            description=d["description"],
            issued=date.fromisoformat(d["issued"]),
            project=d.get("project", ""),
            legal_basis=d.get("legal_basis", ""),
            variables=tuple(d.get("variables", ())),
            period_start=day(d.get("period_start")),
            period_end=day(d.get("period_end")),
        )


@dataclass(frozen=True)
class MartFacts:
    """What the DCAT output says about one mart: its access level and export file."""

    relation: str  # ``marts.mart_indicators``
    description: str
    access_rights: str  # PUBLIC | RESTRICTED | NON_PUBLIC, from the model's ``meta``


def _text(g: Graph, s: URIRef, p: URIRef, texts: Mapping[str, str]) -> None:
    for lang, text in texts.items():
        if text:
            g.add((s, p, Literal(text.strip(), lang=lang)))


def _slug(text: str) -> str:
    return quote(text.replace("/", "-").replace(".", "-"), safe="-_")


def registry_graph(
    registry: Registry,
    catalogue: Catalogue,
    marts: Iterable[MartFacts] = (),
    stats: RegistryStats | None = None,
    coverage: Coverage | None = None,
    releases: Iterable[ReleaseDataset] = (),
    modified: date | None = None,
) -> Graph:
    """The registry's DCAT-AP-NO catalog as an rdflib graph."""
    meta = RegistryMetadata.of(registry)
    g = Graph()
    for prefix, ns in PREFIXES.items():
        g.bind(prefix, ns)
    base = meta.uri
    catalog = URIRef(f"{base}/catalog")
    publisher = URIRef(meta.publisher_uri)
    contact = URIRef(f"{base}/contact")
    g.add((publisher, RDF.type, FOAF.Agent))
    g.add((publisher, FOAF.name, Literal(meta.publisher_name, lang="nb")))
    g.add((contact, RDF.type, VCARD.Organization))
    g.add((contact, VCARD.fn, Literal(meta.contact_name, lang="nb")))
    g.add((contact, VCARD.hasEmail, URIRef(f"mailto:{meta.contact_email}")))
    if meta.contact_url:
        g.add((contact, VCARD.hasURL, URIRef(meta.contact_url)))

    def common(s: URIRef, title: Mapping[str, str], description: Mapping[str, str]) -> None:
        _text(g, s, DCTERMS.title, title)
        _text(g, s, DCTERMS.description, description)
        g.add((s, DCTERMS.publisher, publisher))
        g.add((s, DCAT.contactPoint, contact))

    g.add((catalog, RDF.type, DCAT.Catalog))
    common(
        catalog,
        {"nb": f"Datakatalog: {registry.title}"},
        {"nb": f"Datasett fra {registry.title}, generert fra plattformens egen lineage."},
    )
    g.add((catalog, DCTERMS.identifier, Literal(str(catalog))))
    g.add((catalog, DCTERMS.language, LANGUAGE.NOR))
    if modified:
        g.add((catalog, DCTERMS.modified, Literal(modified, datatype=XSD.date)))

    def dataset(ident: str, access: str) -> URIRef:
        ds = URIRef(f"{base}/dataset/{_slug(ident)}")
        g.add((catalog, DCAT.dataset, ds))
        g.add((ds, RDF.type, DCAT.Dataset))
        g.add((ds, DCTERMS.identifier, Literal(str(ds))))
        g.add((ds, DCAT.theme, THEME.HEAL))
        g.add((ds, DCTERMS.accessRights, ACCESS[access]))
        g.add((ds, DCTERMS.language, LANGUAGE.NOR))
        g.add((ds, DCTERMS.spatial, COUNTRY.NOR))
        g.add((ds, DCATAP.applicableLegislation, URIRef(meta.legal_basis_uri)))
        legal = URIRef(f"{ds}#legal-basis")
        g.add((ds, DPV.hasLegalBasis, legal))
        g.add((legal, RDF.type, DPV.LegalBasis))
        g.add((legal, DCTERMS.title, Literal(meta.legal_basis_title, lang="nb")))
        g.add((legal, DCTERMS.source, URIRef(meta.legal_basis_uri)))
        for lang, words in meta.keywords.items():
            for w in words:
                g.add((ds, DCAT.keyword, Literal(w, lang=lang)))
        return ds

    # -- the registry's own data ------------------------------------------------------------
    data = dataset(registry.name, "NON_PUBLIC")
    common(data, {"nb": registry.title}, meta.description)
    if meta.purpose:
        purpose = URIRef(f"{data}#purpose")
        g.add((data, DPV.hasPurpose, purpose))
        g.add((purpose, RDF.type, DPV.Purpose))
        g.add((purpose, DCTERMS.description, Literal(meta.purpose, lang="nb")))
    for _name, uri in meta.coding_systems:
        g.add((data, HEALTH.hasCodingSystem, URIRef(uri)))
    if stats is not None:
        _stats(g, data, stats)
    if coverage is not None:
        g.add(
            (
                data,
                HEALTH.populationCoverage,
                Literal(
                    f"Dekningsgrad mot Norsk pasientregister {coverage.year}: "
                    f"{coverage.dg_registry:.1%} (DG = (a+b)/(a+b+c), alle enheter).",
                    lang="nb",
                ),
            )
        )
    entries = catalogue.for_registry(registry.name)
    for form in registry.forms:
        relation = f"raw_{registry.name}.{form.name}"
        columns = [e for e in entries if e.relation == relation]
        dist = _distribution(
            g,
            data,
            URIRef(f"{base}/distribution/{_slug(form.name)}"),
            {"nb": f"Skjema {form.name} ({form.role})"},
            f"Rader fra siste godkjente datadump av skjema {form.name}; tabell {relation}.",
            meta.access_url,
            FILE_TYPE.CSV,
        )
        _table_schema(g, dist, columns)

    # -- marts fed by this registry ---------------------------------------------------------
    by_relation: dict[str, list[VariableEntry]] = {}
    for e in entries:
        by_relation.setdefault(e.relation, []).append(e)
    for mart in marts:
        columns = by_relation.get(mart.relation)
        if not columns:
            continue
        name = mart.relation.split(".", 1)[1]
        ds = dataset(name, mart.access_rights)
        common(
            ds,
            {"nb": f"{name} ({registry.name})", "en": name},
            {
                "nb": f"Datamart {name} med data fra {registry.title}, bygget med dbt.",
                "en": mart.description,
            },
        )
        g.add((ds, DCTERMS.source, data))
        dist = _distribution(
            g,
            ds,
            URIRef(f"{base}/distribution/{_slug(name)}-parquet"),
            {"nb": f"{name} (Parquet)"},
            f"Parquet-eksport av {mart.relation} (exports/parquet/{name}.parquet).",
            meta.access_url,
            FILE_TYPE.PARQUET,
        )
        if mart.access_rights == "PUBLIC" and meta.licence:
            g.add((dist, DCTERMS.license, LICENCE[meta.licence]))
        _table_schema(g, dist, columns)

    # -- research releases (non-public) -----------------------------------------------------
    for release in releases:
        if release.registry != registry.name:
            continue
        ds = dataset(f"release-{release.identifier}", "NON_PUBLIC")
        common(ds, {"nb": release.title}, {"nb": release.description})
        g.add((ds, DCTERMS.source, data))
        g.add((ds, DCTERMS.issued, Literal(release.issued, datatype=XSD.date)))
        if release.project:
            g.add((ds, DCTERMS.relation, URIRef(f"{base}/project/{_slug(release.project)}")))
        if release.legal_basis:
            g.add((ds, DCTERMS.rights, _rights(g, ds, release.legal_basis)))
        if release.period_start or release.period_end:
            _period(g, ds, release.period_start, release.period_end)
        for var in release.variables:
            g.add((ds, DCAT.keyword, Literal(var)))
    _vocabulary_schemes(g)
    return g


def _vocabulary_schemes(g: Graph) -> None:
    for obj in set(g.objects()):
        for ns in _SCHEMES:
            if isinstance(obj, URIRef) and obj.startswith(str(ns)):
                g.add((obj, SKOS.inScheme, URIRef(str(ns).rstrip("/"))))


def _rights(g: Graph, ds: URIRef, text: str) -> URIRef:
    node = URIRef(f"{ds}#rights")
    g.add((node, RDF.type, DCTERMS.RightsStatement))
    g.add((node, DCTERMS.description, Literal(text, lang="nb")))
    return node


def _stats(g: Graph, ds: URIRef, stats: RegistryStats) -> None:
    g.add((ds, HEALTH.numberOfRecords, Literal(stats.records, datatype=XSD.nonNegativeInteger)))
    g.add(
        (
            ds,
            HEALTH.numberOfUniqueIndividuals,
            Literal(stats.individuals, datatype=XSD.nonNegativeInteger),
        )
    )
    if stats.min_typical_age is not None and stats.max_typical_age is not None:
        g.add(
            (
                ds,
                HEALTH.minTypicalAge,
                Literal(int(stats.min_typical_age), datatype=XSD.nonNegativeInteger),
            )
        )
        g.add(
            (
                ds,
                HEALTH.maxTypicalAge,
                Literal(round(stats.max_typical_age), datatype=XSD.nonNegativeInteger),
            )
        )
    if stats.first_event or stats.last_event:
        _period(g, ds, stats.first_event, stats.last_event)


def _period(g: Graph, ds: URIRef, start: date | None, end: date | None) -> None:
    period = URIRef(f"{ds}#period")
    g.add((ds, DCTERMS.temporal, period))
    g.add((period, RDF.type, DCTERMS.PeriodOfTime))
    if start:
        g.add((period, DCAT.startDate, Literal(start, datatype=XSD.date)))
    if end:
        g.add((period, DCAT.endDate, Literal(end, datatype=XSD.date)))


def _distribution(
    g: Graph,
    ds: URIRef,
    dist: URIRef,
    title: Mapping[str, str],
    description: str,
    access_url: str,
    file_type: URIRef,
) -> URIRef:
    g.add((ds, DCAT.distribution, dist))
    g.add((dist, RDF.type, DCAT.Distribution))
    _text(g, dist, DCTERMS.title, title)
    g.add((dist, DCTERMS.description, Literal(description, lang="nb")))
    g.add((dist, DCAT.accessURL, URIRef(access_url)))
    g.add((dist, DCTERMS.format, file_type))
    return dist


def _table_schema(g: Graph, dist: URIRef, columns: Iterable[VariableEntry]) -> None:
    """The columns as a CSVW table schema: name, label, type and description."""
    schema = URIRef(f"{dist}#schema")
    g.add((dist, CSVW.tableSchema, schema))
    g.add((schema, RDF.type, CSVW.Schema))
    for e in columns:
        col = URIRef(f"{dist}#{_slug(e.name)}")
        g.add((schema, CSVW.column, col))
        g.add((col, RDF.type, CSVW.Column))
        g.add((col, CSVW.name, Literal(e.name)))
        g.add((col, CSVW.titles, Literal(e.label, lang="nb")))
        g.add((col, CSVW.datatype, Literal(e.type)))
        if e.description:
            g.add((col, DCTERMS.description, Literal(e.description, lang="nb")))


@cache
def _shapes() -> Graph:
    return Graph().parse(SHAPES_FILE, format="turtle")


@dataclass(frozen=True)
class Validation:
    conforms: bool
    violations: int
    warnings: int
    report: str  # pyshacl's text report (no data values beyond the catalogue's own text)


def validate(graph: Graph) -> Validation:
    """SHACL validation against the DCAT-AP-NO 2.0 shapes; only violations fail."""
    from pyshacl import validate as shacl_validate

    _conforms, results, text = shacl_validate(
        graph, shacl_graph=_shapes(), inference="none", abort_on_first=False, allow_warnings=True
    )
    sh = Namespace("http://www.w3.org/ns/shacl#")
    severities = list(results.objects(None, sh.resultSeverity))
    violations = sum(1 for s in severities if s == sh.Violation)
    warnings = sum(1 for s in severities if s == sh.Warning)
    return Validation(violations == 0, violations, warnings, str(text))
