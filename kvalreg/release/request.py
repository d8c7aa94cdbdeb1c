"""A release request: one YAML file per approved research project (and version of it).

``load_request`` parses and checks everything the file and the codebook can tell: required
fields, approvals, legal basis, that every variable exists and is classed as releasable in the
codebook, generalisations, cohort filter, linkage. ``check_against_data`` adds what only the
warehouse knows (the period must hold data; derived indicators must exist). Every failure is
collected and reported together, each naming the file and the field; nothing is built from a
request with a failure.

The file format (see ``kvalreg/registries/hoftebrudd/releases/`` for an example)::

    request: hoftebrudd-demo          # request id: [a-z0-9-], the release is <id>@v<version>
    version: 1
    project: {id: ..., title: ...}
    recipient: {organisation: ..., contact: {name: ..., email: ...}}
    approvals: {rek: ..., expires: YYYY-MM-DD}
    legal_basis: {gdpr_art6: ..., gdpr_art9: ..., national: ...}
    registry: hoftebrudd
    period: {from: YYYY-MM-DD, to: YYYY-MM-DD}     # on the registry's main event date
    cohort: {completed_only: true, where: [{variable: Alder, min: 65}, ...]}
    variables: {<form>: [<variable>, ...], ...}
    derived: [<indicator id>, ...]                  # per-episode indicator results (marts)
    generalise: {<variable>: month | year | shift | hf | rhf | {band: N}}
    k_anonymity: {k: 5, action: generalise | suppress, quasi_identifiers: [...]}
    date_shift: {max_days: 180}
    linkage: {mode: none | trusted_third_party, party: ...}
    delivery: {target: ...}
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from kvalreg.codebook import IdentifierClass, Variable, VarType
from kvalreg.indicators import DG_TYPE, load_indicators
from kvalreg.registry import Registry

REQUEST_ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}$")
DATE_KINDS = ("month", "year", "shift")
REGION_KINDS = ("hf", "rhf")
LINKAGE_MODES = ("none", "trusted_third_party")
K_ACTIONS = ("generalise", "suppress")
LEGAL_BASIS_FIELDS = ("gdpr_art6", "gdpr_art9", "national")
DEFAULT_K = 5
DEFAULT_SHIFT_DAYS = 180


class RequestError(ValueError):
    """Every problem of one request, each naming the file and the field."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        super().__init__(
            f"{path}: {len(problems)} problem(s) in the release request:\n"
            + "\n".join(f"  {path}: {p}" for p in problems)
        )


class ReleaseRefused(RuntimeError):
    """The release exists in a state that must not be overwritten (delivered, or built from a
    different request file under the same version)."""


@dataclass(frozen=True)
class Condition:
    """One cohort filter on a base-form variable: ``in`` a code list and/or ``min``/``max``."""

    variable: str
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Generalisation:
    """How one quasi-identifier is coarsened: month/year/shift (dates), band (numbers),
    hf/rhf (municipality → health trust or region)."""

    kind: str
    band: int | None = None

    def describe(self) -> str:
        return {
            "month": "truncated to the month (YYYY-MM)",
            "year": "truncated to the year",
            "shift": "shifted by a per-person random number of days (intervals kept)",
            "hf": "municipality replaced by its health trust (HF)",
            "rhf": "municipality replaced by its regional health authority (RHF)",
            "band": f"grouped in bands {self.band} wide, written 'lower-upper'",
        }[self.kind]


@dataclass(frozen=True)
class ReleaseRequest:
    path: Path
    sha256: str  # of the request file's bytes: the request hash in manifest and log
    request_id: str
    version: int
    project_id: str
    title: str
    organisation: str
    contact_name: str
    contact_email: str
    rek: str
    expires: date
    legal_basis: dict[str, str]
    registry: str
    period_from: date
    period_to: date
    completed_only: bool
    conditions: tuple[Condition, ...]
    variables: dict[str, tuple[str, ...]]  # form -> variables, in request order
    derived: tuple[str, ...]
    generalise: dict[str, Generalisation]
    k: int
    k_action: str
    quasi_identifiers: tuple[str, ...] | None  # None: the codebook's kvasi variables
    shift_max_days: int
    linkage: str
    linkage_party: str
    delivery_target: str
    delivery_recipient: str = ""  # a configured recipient (delivery config); "" = not delivered

    @property
    def release_id(self) -> str:
        """``<request id>@v<version>``: the Dagster partition key and the package name."""
        return f"{self.request_id}@v{self.version}"

    @property
    def wants_linkage(self) -> bool:
        return self.linkage == "trusted_third_party"


class _Fields:
    """Reads fields from the parsed YAML, collecting problems instead of stopping at one."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []

    def problem(self, field: str, message: str) -> None:
        self.problems.append(f"field {field!r}: {message}")

    def get(self, field: str, default: Any = None) -> Any:
        node: Any = self.data
        for part in field.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    def text(self, field: str, required: bool = True) -> str:
        value = self.get(field)
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.problem(field, "is missing")
            return ""
        if not isinstance(value, str | int | float):
            self.problem(field, f"expected text, got {type(value).__name__}")
            return ""
        return str(value).strip()

    def day(self, field: str) -> date | None:
        value = self.get(field)
        if isinstance(value, date):
            return value
        if value is None:
            self.problem(field, "is missing (a date, YYYY-MM-DD)")
            return None
        try:
            return date.fromisoformat(str(value))
        except ValueError:
            self.problem(field, f"expected a date YYYY-MM-DD, got {value!r}")
            return None

    def integer(self, field: str, default: int, minimum: int) -> int:
        value = self.get(field, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.problem(field, f"expected an integer >= {minimum}, got {value!r}")
            return default
        return value


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise RequestError(path, [f"{where}not valid YAML: {exc.problem}"]) from None
    except UnicodeDecodeError:
        raise RequestError(path, ["not UTF-8 text"]) from None
    if not isinstance(data, dict):
        raise RequestError(path, ["expected a mapping of fields at the top level"])
    return data


def request_identity(path: Path) -> tuple[str, int]:
    """Only ``request`` and ``version``: what the sensor needs to name the partition."""
    data = read_yaml(path)
    f = _Fields(data)
    request_id = f.text("request")
    version = f.integer("version", 0, 1)
    if request_id and not REQUEST_ID_RE.match(request_id):
        f.problem("request", f"must match {REQUEST_ID_RE.pattern}")
    if f.problems:
        raise RequestError(path, f.problems)
    return request_id, version


def load_request(
    path: Path, registries: dict[str, Registry], today: date | None = None
) -> ReleaseRequest:
    """Parse and check a request against the codebook; raise ``RequestError`` listing all
    problems. ``today`` decides whether the approval has expired."""
    raw = path.read_bytes()
    data = read_yaml(path)
    f = _Fields(data)
    today = today or date.today()

    request_id = f.text("request")
    if request_id and not REQUEST_ID_RE.match(request_id):
        f.problem("request", f"must match {REQUEST_ID_RE.pattern}")
    version = f.integer("version", 1, 1)
    project_id, title = f.text("project.id"), f.text("project.title")
    organisation = f.text("recipient.organisation")
    contact_name = f.text("recipient.contact.name")
    contact_email = f.text("recipient.contact.email")
    if contact_email and "@" not in contact_email:
        f.problem("recipient.contact.email", "is not an e-mail address")
    rek = f.text("approvals.rek")
    expires = f.day("approvals.expires")
    if expires is not None and expires < today:
        f.problem("approvals.expires", f"the approval expired on {expires.isoformat()}")
    legal_basis = {k: f.text(f"legal_basis.{k}") for k in LEGAL_BASIS_FIELDS}
    period_from, period_to = f.day("period.from"), f.day("period.to")
    if period_from and period_to and period_from > period_to:
        f.problem("period", "'from' is after 'to'")

    registry_name = f.text("registry")
    registry = registries.get(registry_name)
    if registry_name and registry is None:
        f.problem("registry", f"unknown registry {registry_name!r}")
    variables: dict[str, tuple[str, ...]] = {}
    conditions: tuple[Condition, ...] = ()
    generalise: dict[str, Generalisation] = {}
    quasi: tuple[str, ...] | None = None
    if registry is not None:
        if not registry.keys.fnr:
            f.problem("registry", "has no fnr key: releases and their log need one")
        variables = _variables(f, registry)
        conditions = _conditions(f, registry)
        generalise = _generalisations(f, registry, variables)
        quasi = _quasi_identifiers(f, registry, variables)
    derived = _string_list(f, "derived")
    if registry is not None and derived:
        _check_derived(f, registry, derived)
    k = f.integer("k_anonymity.k", DEFAULT_K, 2)
    k_action = f.text("k_anonymity.action", required=False) or "generalise"
    if k_action not in K_ACTIONS:
        f.problem("k_anonymity.action", f"expected one of {', '.join(K_ACTIONS)}")
    linkage = f.text("linkage.mode")
    if linkage and linkage not in LINKAGE_MODES:
        f.problem("linkage.mode", f"expected one of {', '.join(LINKAGE_MODES)}")
    party = f.text("linkage.party", required=linkage == "trusted_third_party")
    completed = f.get("cohort.completed_only", True)
    if not isinstance(completed, bool):
        f.problem("cohort.completed_only", "expected true or false")
    known = {
        "request", "version", "project", "recipient", "approvals", "legal_basis", "registry",
        "period", "cohort", "variables", "derived", "generalise", "k_anonymity", "date_shift",
        "linkage", "delivery",
    }  # fmt: skip
    for extra in sorted(set(data) - known):
        f.problem(extra, "unknown field")
    shift_days = f.integer("date_shift.max_days", DEFAULT_SHIFT_DAYS, 1)
    delivery = f.text("delivery.target")
    delivery_recipient = f.text("delivery.recipient", required=False)
    if f.problems:
        raise RequestError(path, f.problems)
    assert expires and period_from and period_to  # checked above
    return ReleaseRequest(
        path=path,
        sha256=hashlib.sha256(raw).hexdigest(),
        request_id=request_id,
        version=version,
        project_id=project_id,
        title=title,
        organisation=organisation,
        contact_name=contact_name,
        contact_email=contact_email,
        rek=rek,
        expires=expires,
        legal_basis=legal_basis,
        registry=registry_name,
        period_from=period_from,
        period_to=period_to,
        completed_only=bool(completed),
        conditions=conditions,
        variables=variables,
        derived=derived,
        generalise=generalise,
        k=k,
        k_action=k_action,
        quasi_identifiers=quasi,
        shift_max_days=shift_days,
        linkage=linkage,
        linkage_party=party,
        delivery_target=delivery,
        delivery_recipient=delivery_recipient,
    )


def base_form(registry: Registry) -> str:
    """The form whose rows are the episodes (role ``base``) and that holds the fnr."""
    for form in registry.forms:
        if form.role == "base" and registry.keys.fnr in form.columns:
            return form.name
    return next(f.name for f in registry.forms if f.role == "base")


def _string_list(f: _Fields, field: str) -> tuple[str, ...]:
    value = f.get(field, [])
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        f.problem(field, "expected a list of names")
        return ()
    return tuple(str(v) for v in value)


def _variables(f: _Fields, registry: Registry) -> dict[str, tuple[str, ...]]:
    spec = f.get("variables")
    if not isinstance(spec, dict) or not spec:
        f.problem("variables", "expected a mapping form -> list of variables")
        return {}
    forms = {form.name: form for form in registry.forms}
    key_columns = {registry.keys.patient, registry.keys.episode, registry.keys.fnr}
    out: dict[str, tuple[str, ...]] = {}
    for form_name in spec:
        field = f"variables.{form_name}"
        form = forms.get(str(form_name))
        if form is None:
            f.problem(field, f"registry {registry.name!r} has no form {form_name!r}")
            continue
        by_name = {v.name: v for v in form.variables}
        chosen: list[str] = []
        for i, name in enumerate(_string_list(f, field)):
            var = by_name.get(name)
            at = f"{field}[{i}]"
            if var is None:
                f.problem(at, f"unknown variable {name!r} in form {form_name!r}")
            elif var.identifier is IdentifierClass.DIRECT or name in key_columns:
                f.problem(at, f"{name!r} is a direct identifier and is never released")
            elif not var.releasable:
                f.problem(at, f"{name!r} is not classed as releasable in the codebook")
            elif name in chosen:
                f.problem(at, f"{name!r} listed twice")
            else:
                chosen.append(name)
        out[str(form_name)] = tuple(chosen)
    return out


def _check_derived(f: _Fields, registry: Registry, derived: tuple[str, ...]) -> None:
    """Derived variables are the registry's indicators with per-episode results."""
    found = load_indicators(registry.name, registry.folder)
    per_episode = {i.id for i in (found.indicators if found else ()) if i.type != DG_TYPE}
    for i, ind in enumerate(derived):
        if ind not in per_episode:
            f.problem(
                f"derived[{i}]",
                f"{ind!r} is not an indicator of {registry.name!r} with per-episode results "
                f"(known: {', '.join(sorted(per_episode)) or 'none'})",
            )


def _conditions(f: _Fields, registry: Registry) -> tuple[Condition, ...]:
    where = f.get("cohort.where", [])
    if where is None:
        return ()
    if not isinstance(where, list):
        f.problem("cohort.where", "expected a list of conditions")
        return ()
    base = {v.name: v for v in registry.form(base_form(registry)).variables}
    out = []
    for i, cond in enumerate(where):
        at = f"cohort.where[{i}]"
        if not isinstance(cond, dict) or "variable" not in cond:
            f.problem(at, "expected {variable: NAME, in: [...]} or {variable: NAME, min/max: N}")
            continue
        var = base.get(str(cond["variable"]))
        if var is None:
            f.problem(f"{at}.variable", f"unknown variable {cond['variable']!r} in the base form")
            continue
        extra = set(cond) - {"variable", "in", "min", "max"}
        if extra or not set(cond) & {"in", "min", "max"}:
            f.problem(at, "use 'in' (codes) and/or 'min'/'max' (numbers)")
            continue
        values = cond.get("in", [])
        if not isinstance(values, list):
            f.problem(f"{at}.in", "expected a list of codes")
            continue
        bounds = [cond.get("min"), cond.get("max")]
        if any(b is not None and not isinstance(b, int | float) for b in bounds):
            f.problem(at, "min/max must be numbers")
            continue
        if bounds != [None, None] and var.type is not VarType.NUMERIC:
            f.problem(at, f"min/max need a numeric variable; {var.name!r} is {var.type.value}")
            continue
        out.append(Condition(var.name, tuple(str(v) for v in values), bounds[0], bounds[1]))
    return tuple(out)


def _released(registry: Registry, variables: dict[str, tuple[str, ...]]) -> dict[str, Variable]:
    return {
        v.name: v
        for form, names in variables.items()
        for v in registry.form(form).variables
        if v.name in names
    }


def _generalisations(
    f: _Fields, registry: Registry, variables: dict[str, tuple[str, ...]]
) -> dict[str, Generalisation]:
    spec = f.get("generalise", {}) or {}
    if not isinstance(spec, dict):
        f.problem("generalise", "expected a mapping variable -> generalisation")
        return {}
    released = _released(registry, variables)
    out: dict[str, Generalisation] = {}
    for name, how in spec.items():
        at = f"generalise.{name}"
        var = released.get(str(name))
        if var is None:
            f.problem(at, f"{name!r} is not among the requested variables")
            continue
        dated = var.type in (VarType.DATE, VarType.DATETIME)
        textual = var.type in (VarType.TEXT, VarType.CODED)
        if isinstance(how, dict) and set(how) == {"band"}:
            band = how["band"]
            if var.type is not VarType.NUMERIC or not isinstance(band, int) or band < 1:
                f.problem(at, "band needs a numeric variable and a positive integer width")
                continue
            out[var.name] = Generalisation("band", band)
        elif (how in DATE_KINDS and dated) or (how in REGION_KINDS and textual):
            out[var.name] = Generalisation(str(how))
        else:
            kinds = DATE_KINDS if dated else ("{band: N}",) if var.type is VarType.NUMERIC else ()
            kinds += REGION_KINDS if textual else ()
            f.problem(
                at,
                f"{how!r} does not fit the {var.type.value} variable {name!r}; "
                f"possible: {', '.join(kinds) or 'none'}",
            )
    return out


def _quasi_identifiers(
    f: _Fields, registry: Registry, variables: dict[str, tuple[str, ...]]
) -> tuple[str, ...] | None:
    declared = f.get("k_anonymity.quasi_identifiers")
    if declared is None:
        return None
    base = set(variables.get(base_form(registry), ()))
    names = _string_list(f, "k_anonymity.quasi_identifiers")
    for i, name in enumerate(names):
        if name not in base:
            f.problem(
                f"k_anonymity.quasi_identifiers[{i}]",
                f"{name!r} is not a requested variable of the base form",
            )
    return names
