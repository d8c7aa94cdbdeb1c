"""The package's own documentation: codebook of released variables, value labels, README.

A researcher must understand every column from the package alone, so each released column
gets its label, type, unit, identifier class and derivation (as registered, pseudonym,
generalisation, k-anonymity blanking), and coded columns their value labels. Everything is
derived from the request and the codebook: no dates of building, so the bytes repeat.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from kvalreg.codebook import Variable, VarType
from kvalreg.indicators import Indicator
from kvalreg.registry import Registry
from kvalreg.release.kanon import KReport
from kvalreg.release.request import ReleaseRequest

PERSON = "person_pseudonym"
EPISODE = "episode_pseudonym"
CODEBOOK_COLUMNS = (
    "table", "variable", "label", "type", "unit", "identifier_class", "derivation", "description",
)  # fmt: skip

_TYPES = {
    pl.String: "string",
    pl.Boolean: "boolean",
    pl.Date: "date (YYYY-MM-DD)",
    pl.Time: "time (HH:MM:SS)",
    pl.Float64: "double",
}


def _type_name(dtype: pl.DataType) -> str:
    if dtype.is_integer():
        return "integer"
    if isinstance(dtype, pl.Datetime):
        return "datetime (YYYY-MM-DD HH:MM:SS)"
    return _TYPES.get(type(dtype), _TYPES.get(dtype, str(dtype)))  # type: ignore[call-overload]


def _key_rows(table: str, frame: pl.DataFrame, request: ReleaseRequest) -> list[dict[str, str]]:
    return [
        {
            "table": table, "variable": PERSON, "label": "Person (pseudonym)",
            "type": _type_name(frame[PERSON].dtype), "unit": "", "identifier_class": "pseudonym",
            "derivation": "keyed pseudonym of the registry's patient id (replaces PasientID and "
            f"the fødselsnummer): one value per person in every table of project "
            f"{request.project_id}, not linkable to other projects",
            "description": "",
        },
        {
            "table": table, "variable": EPISODE, "label": "Episode (pseudonym)",
            "type": _type_name(frame[EPISODE].dtype), "unit": "", "identifier_class": "pseudonym",
            "derivation": "keyed pseudonym of the registry's episode id (ForlopsID); links an "
            "episode's rows across tables of this package",
            "description": "",
        },
    ]  # fmt: skip


def _derivation(var: Variable, request: ReleaseRequest, qis: set[str]) -> str:
    how = request.generalise.get(var.name)
    parts = [how.describe() if how else "as registered"]
    if var.name in qis:
        parts.append(f"blank where needed for {request.k}-anonymity (see k_anonymity.json)")
    return "; ".join(parts)


def codebook_frames(
    request: ReleaseRequest,
    variables: Mapping[str, list[Variable]],
    tables: Mapping[str, pl.DataFrame],
    indicators: Mapping[str, Indicator],
    qis: set[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``codebook.csv`` (one row per released column) and ``value_labels.csv``."""
    rows: list[dict[str, str]] = []
    labels: list[dict[str, str]] = []
    qis = qis or set()
    for table, frame in tables.items():
        rows += _key_rows(table, frame, request)
        for var in variables.get(table, []):
            how = request.generalise.get(var.name)
            rows.append(
                {
                    "table": table, "variable": var.name, "label": var.label,
                    "type": _type_name(frame[var.name].dtype), "unit": var.unit,
                    "identifier_class": var.identifier.value,
                    "derivation": _derivation(var, request, qis),
                    "description": var.description,
                }
            )  # fmt: skip
            if var.values and (how is None or how.kind == "shift"):
                labels += [
                    {"table": table, "variable": var.name, "value": code, "label": text}
                    for code, text in var.values.items()
                ]
            elif var.type is VarType.BOOLEAN:
                labels += [
                    {"table": table, "variable": var.name, "value": v, "label": t}
                    for v, t in (("true", "Ja"), ("false", "Nei"))
                ]
        if table not in variables:  # the derived indicator table
            rows += _indicator_rows(table, frame)
            labels += [
                {"table": table, "variable": "ind_id", "value": i.id, "label": i.title}
                for i in sorted(indicators.values(), key=lambda i: i.id)
                if i.id in request.derived
            ]
    return (
        pl.DataFrame(rows, schema=dict.fromkeys(CODEBOOK_COLUMNS, pl.String)),
        pl.DataFrame(labels, schema=dict.fromkeys(("table", "variable", "value", "label"),
                                                  pl.String)),
    )  # fmt: skip


def _indicator_rows(table: str, frame: pl.DataFrame) -> list[dict[str, str]]:
    spec = {
        "ind_id": ("Indicator", "the indicator's id (titles in value_labels.csv)"),
        "year": ("Indicator year", "year of the indicator's period date"),
        "hit": ("Meets the indicator", "proportion indicators: the episode is in the numerator"),
        "value": ("Indicator value", "median/mean indicators: the episode's value"),
    }
    return [
        {
            "table": table, "variable": name, "label": label,
            "type": _type_name(frame[name].dtype), "unit": "", "identifier_class": "annan",
            "derivation": "computed by the registry's indicator definition (indicators.yaml) "
            "in the quality marts", "description": text,
        }
        for name, (label, text) in spec.items()
    ]  # fmt: skip


def package_readme(
    request: ReleaseRequest,
    registry: Registry,
    rows: Mapping[str, int],
    persons: int,
    report: KReport,
    dumps: Mapping[str, str],
) -> str:
    lb = request.legal_basis
    tables = "\n".join(f"| `data/{t}.parquet`, `data/{t}.csv` | {n} |" for t, n in rows.items())
    cohort = ", ".join(
        f"{c.variable} in {list(c.values)}" if c.values else f"{c.variable} {c.min}..{c.max}"
        for c in request.conditions
    )
    quasi = ", ".join(report.quasi_identifiers) or "none"
    forms = "completed forms only" if request.completed_only else "all forms"
    linkage = (
        f"key file held by {request.linkage_party} (not in this package)"
        if request.wants_linkage
        else "none"
    )
    return f"""# Data release {request.release_id}: {request.title}

Registry: {registry.title} (`{registry.name}`). Project `{request.project_id}`.

| | |
|---|---|
| Recipient | {request.organisation}; contact {request.contact_name} <{request.contact_email}> |
| Ethics approval (REK) | {request.rek}, valid until {request.expires.isoformat()} |
| Legal basis | GDPR {lb["gdpr_art6"]} and {lb["gdpr_art9"]}; {lb["national"]} |
| Period (main event date) | {request.period_from.isoformat()} to {request.period_to.isoformat()} |
| Cohort | {forms}{"; " + cohort if cohort else ""} |
| Persons | {persons} |
| Linkage | {linkage} |
| Delivery | {request.delivery_target} |
| Request hash (SHA-256) | `{request.sha256}` |

## Files

| file | rows |
|---|---|
{tables}

- `codebook.csv`: every column of every table: label, type, unit, identifier class and how it
  was derived (as registered, pseudonymised, generalised). `value_labels.csv`: the text of
  each code of coded columns.
- `k_anonymity.json`: the k-anonymity check and what it changed.
- `manifest.json`: size and SHA-256 of every file (`sha256sum` to verify).

Tables join on `person_pseudonym` (a person) and `episode_pseudonym` (an episode). The
pseudonyms are specific to this project: they cannot be linked to other projects' data.
Direct identifiers (fødselsnummer, registry ids, free text) are not included.

## Disclosure control

Quasi-identifiers checked for {report.k}-anonymity: {quasi}. Of {report.records_in} episode
records, {report.violating_records} were in groups of fewer than {report.k} persons;
{report.generalised_records} were kept with values blanked and {report.suppressed_records} removed
(action: {report.action}).

## Reading the data

- Python: `pandas.read_parquet("data/<table>.parquet")` or `polars.read_parquet(...)`
- R: `arrow::read_parquet("data/<table>.parquet")`
- CSV: UTF-8, comma-separated, `.` as decimal mark, ISO dates, empty = missing.

## How to cite

{registry.title}. Data release {request.release_id} to project {request.project_id}
("{request.title}"), source dumps {", ".join(f"{f}: {d}" for f, d in sorted(dumps.items()))}.
"""
