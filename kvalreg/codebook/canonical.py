"""The canonical codebook: one row per variable (and per allowed value for coded variables).

The column set follows the Helse Vest statisticians' ``rapwhale`` canonical form
(``skjema_id, variabel_id, variabeletikett, forklaring, variabeltype, eining, unik,
obligatorisk, verdi, verditekst, manglande, desimalar, min, maks, min_rimeleg,
maks_rimeleg, utrekningsformel``) so that registries can recognise it. Every system's
native codebook (MRS ``rapport.xlsx``, OQR klokeboken) is converted into this form, and
everything downstream (validation, generation, documentation) reads only this form.

kvalreg adds two columns after rapwhale's (``KVALREG_COLUMNS``), read when present: the
variable's identifier class (``identifikator``: direkte, kvasi or annan) and whether it may be
released to research projects (``utleverbar``: ja/nei). They live in the codebook because they
are facts about the variable; data releases read them from here and nowhere else. A variable
without them is "annan" and not releasable: nothing leaves by default.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

CANONICAL_COLUMNS = (
    "skjema_id",
    "variabel_id",
    "variabeletikett",
    "forklaring",
    "variabeltype",
    "eining",
    "unik",
    "obligatorisk",
    "verdi",
    "verditekst",
    "manglande",
    "desimalar",
    "min",
    "maks",
    "min_rimeleg",
    "maks_rimeleg",
    "utrekningsformel",
)
KVALREG_COLUMNS = ("identifikator", "utleverbar")


class IdentifierClass(StrEnum):
    """How much a variable identifies a person (data-release rules depend on it).

    direkte: identifies on its own (fnr, name, address, phone, registry-internal ids);
    never released. kvasi: identifies in combination (birth date, municipality, rare
    diagnoses, dates); generalised and checked for k-anonymity. annan: everything else.
    """

    DIRECT = "direkte"
    QUASI = "kvasi"
    OTHER = "annan"


class VarType(StrEnum):
    """rapwhale's variable types."""

    TEXT = "tekst"
    CODED = "kategorisk"
    BOOLEAN = "boolsk"
    DATE = "dato"
    TIME = "kl"
    DATETIME = "dato_kl"
    NUMERIC = "numerisk"
    DERIVED = "utrekna"


@dataclass(frozen=True)
class Variable:
    """One variable of one form. Limits: numbers for numeric variables, ISO dates for dates."""

    form: str
    name: str
    label: str
    type: VarType
    description: str = ""
    unit: str = ""
    unique: bool = False
    mandatory: bool = False
    values: dict[str, str] = field(default_factory=dict)  # code -> label, coded variables only
    missing_codes: tuple[str, ...] = ()  # codes meaning "unknown / not answered"
    decimals: int | None = None
    min: float | str | None = None  # hard limit (value outside = invalid)
    max: float | str | None = None
    min_plausible: float | str | None = None  # plausibility limit (value outside = warning)
    max_plausible: float | str | None = None
    formula: str = ""
    identifier: IdentifierClass = IdentifierClass.OTHER
    releasable: bool = False  # may be released to an approved research project

    def __post_init__(self) -> None:
        if self.identifier is IdentifierClass.DIRECT and self.releasable:
            raise ValueError(
                f"variable {self.form}.{self.name}: a direct identifier cannot be releasable"
            )

    @property
    def is_integer(self) -> bool:
        return self.type is VarType.NUMERIC and (self.decimals or 0) == 0

    def describe(self) -> str:
        """One line for column documentation (the raw assets in Dagster, the dbt sources):
        label, description, unit, codes and whether the variable is mandatory."""
        parts = [self.label]
        if self.description and self.description != self.label:
            parts.append(self.description)
        if self.unit:
            parts.append(f"unit: {self.unit}")
        if self.values:
            parts.append("codes: " + ", ".join(f"{c} = {t}" for c, t in self.values.items()))
        if self.mandatory:
            parts.append("mandatory")
        return "; ".join(parts)


@dataclass(frozen=True)
class Codebook:
    """All forms of one registry, variables in export column order."""

    variables: tuple[Variable, ...]

    @property
    def forms(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(v.form for v in self.variables))

    def form(self, form: str) -> tuple[Variable, ...]:
        found = tuple(v for v in self.variables if v.form == form)
        if not found:
            raise KeyError(f"codebook has no form {form!r}; forms: {', '.join(self.forms)}")
        return found

    def variable(self, form: str, name: str) -> Variable:
        for v in self.form(form):
            if v.name == name:
                return v
        raise KeyError(f"form {form!r} has no variable {name!r}")

    # -- canonical CSV (UTF-8, ';', one row per variable or per allowed value) --------------

    def to_rows(self) -> Iterable[dict[str, str]]:
        for v in self.variables:
            base = {
                "skjema_id": v.form,
                "variabel_id": v.name,
                "variabeletikett": v.label,
                "forklaring": v.description,
                "variabeltype": v.type.value,
                "eining": v.unit,
                "unik": _yn(v.unique),
                "obligatorisk": _yn(v.mandatory),
                "verdi": "",
                "verditekst": "",
                "manglande": "nei",
                "desimalar": "" if v.decimals is None else str(v.decimals),
                "min": _fmt(v.min),
                "maks": _fmt(v.max),
                "min_rimeleg": _fmt(v.min_plausible),
                "maks_rimeleg": _fmt(v.max_plausible),
                "utrekningsformel": v.formula,
                "identifikator": v.identifier.value,
                "utleverbar": _yn(v.releasable),
            }
            if not v.values:
                yield base
                continue
            for code, text in v.values.items():
                yield base | {
                    "verdi": code,
                    "verditekst": text,
                    "manglande": _yn(code in v.missing_codes),
                }

    def write_csv(self, path: Path) -> None:
        buf = io.StringIO()
        writer = csv.DictWriter(
            buf,
            fieldnames=(*CANONICAL_COLUMNS, *KVALREG_COLUMNS),
            delimiter=";",
            lineterminator="\n",
        )
        writer.writeheader()
        writer.writerows(self.to_rows())
        path.write_text(buf.getvalue(), encoding="utf-8")

    @classmethod
    def from_rows(cls, rows: Iterable[dict[str, str]], source: str = "<rows>") -> Codebook:
        """Build from canonical rows; consecutive rows of one variable carry its value list."""
        variables: dict[tuple[str, str], dict] = {}
        for lineno, row in enumerate(rows, start=2):
            key = (row["skjema_id"].strip(), row["variabel_id"].strip())
            if not all(key):
                raise ValueError(f"{source}:{lineno}: skjema_id and variabel_id are required")
            try:
                vtype = VarType(row["variabeltype"].strip())
            except ValueError:
                raise ValueError(
                    f"{source}:{lineno}: unknown variabeltype {row['variabeltype']!r} "
                    f"(expected one of {', '.join(t.value for t in VarType)})"
                ) from None
            entry = variables.get(key)
            if entry is None:
                entry = variables[key] = {
                    "form": key[0],
                    "name": key[1],
                    "label": row["variabeletikett"],
                    "type": vtype,
                    "description": row.get("forklaring", ""),
                    "unit": row.get("eining", ""),
                    "unique": _parse_yn(row.get("unik", ""), source, lineno),
                    "mandatory": _parse_yn(row.get("obligatorisk", ""), source, lineno),
                    "values": {},
                    "missing_codes": [],
                    "decimals": int(row["desimalar"]) if row.get("desimalar", "").strip() else None,
                    "min": _parse_limit(row.get("min", ""), vtype),
                    "max": _parse_limit(row.get("maks", ""), vtype),
                    "min_plausible": _parse_limit(row.get("min_rimeleg", ""), vtype),
                    "max_plausible": _parse_limit(row.get("maks_rimeleg", ""), vtype),
                    "formula": row.get("utrekningsformel", ""),
                    "identifier": parse_identifier(row.get("identifikator", ""), source, lineno),
                    "releasable": _parse_yn(row.get("utleverbar", ""), source, lineno),
                }
            code = row.get("verdi", "").strip()
            if code:
                entry["values"][code] = row.get("verditekst", "")
                if _parse_yn(row.get("manglande", ""), source, lineno):
                    entry["missing_codes"].append(code)
        try:
            return cls(
                tuple(
                    Variable(**(e | {"missing_codes": tuple(e["missing_codes"])}))
                    for e in variables.values()
                )
            )
        except ValueError as exc:
            raise ValueError(f"{source}: {exc}") from None

    @classmethod
    def read_csv(cls, path: Path) -> Codebook:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh, delimiter=";")
            missing = set(CANONICAL_COLUMNS) - set(reader.fieldnames or ())
            if missing:
                raise ValueError(f"{path}: canonical codebook lacks columns {sorted(missing)}")
            return cls.from_rows(reader, source=str(path))


def parse_identifier(text: str, where: str, lineno: int | None = None) -> IdentifierClass:
    """``direkte``/``kvasi``/``annan`` (empty = annan); ``where`` (and line) name the cell."""
    t = (text or "").strip().lower()
    if not t:
        return IdentifierClass.OTHER
    try:
        return IdentifierClass(t)
    except ValueError:
        at = f"{where}:{lineno}" if lineno is not None else where
        raise ValueError(
            f"{at}: identifier class {text!r} is not one of "
            f"{', '.join(c.value for c in IdentifierClass)}"
        ) from None


def _yn(flag: bool) -> str:
    return "ja" if flag else "nei"


def _parse_yn(text: str, source: str, lineno: int) -> bool:
    t = text.strip().lower()
    if t in ("ja", "j", "1", "true", "yes"):
        return True
    if t in ("", "nei", "n", "0", "false", "no"):
        return False
    raise ValueError(f"{source}:{lineno}: expected ja/nei, got {text!r}")


def _fmt(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _parse_limit(text: str, vtype: VarType) -> float | str | None:
    """Numeric limits become floats; date limits stay ISO strings (``YYYY-MM-DD``)."""
    t = text.strip()
    if not t:
        return None
    if vtype in (VarType.DATE, VarType.DATETIME):
        return t
    return float(t.replace(",", "."))
