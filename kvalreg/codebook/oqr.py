"""OpenQReg (OQR, Helse Nord IKT) codebook "klokeboken" <-> canonical codebook.

The klokebok is a ``;``-separated CSV with one row per variable, except that list variables
get one row per allowed value (``listeverdier``/``listetekst``) with the variable's other
columns repeated. Numeric and date limits have separate columns; ``maksintervall`` is the
hard limit and ``normalintervall`` the plausibility limit.

OQR has no columns for the unit of measure, ``unik``, "unknown" codes or a formula; they
travel in optional columns ``eining``, ``unik``, ``manglande`` and ``utrekningsformel`` (and
the help text in OQR's own ``hjelpetekst``). A klokebok without them reads as "no unit, not
unique, no unknown codes, no formula". kvalreg's identifier class and release permission
travel in ``identifikator`` and ``utleverbar``; without them a variable is "annan" and not
releasable.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from pathlib import Path

from kvalreg.codebook.canonical import (
    Codebook,
    IdentifierClass,
    Variable,
    VarType,
    parse_identifier,
)

COLUMNS = (
    "skjemanavn",
    "navn_i_rapporteket",
    "ledetekst",
    "obligatorisk",
    "type",
    "listeverdier",
    "listetekst",
    "normalintervall_start_numerisk",
    "normalintervall_slutt_numerisk",
    "maksintervall_start_numerisk",
    "maksintervall_slutt_numerisk",
    "normalintervall_start_dato",
    "normalintervall_slutt_dato",
    "maksintervall_start_dato",
    "maksintervall_slutt_dato",
    "desimaler",
    "innfoert_dato",
    "utfaset_dato",
    "variabel_id",
)
EXTRA_COLUMNS = (
    "hjelpetekst",
    "eining",
    "unik",
    "manglande",
    "utrekningsformel",
    "identifikator",
    "utleverbar",
)
REQUIRED = frozenset(COLUMNS[:7])

# type -> canonical type; "Numerisk (heltall)" and "(flyttall)" differ only in decimals.
TYPES: dict[str, VarType] = {
    "Tekstvariabel": VarType.TEXT,
    "Numerisk (heltall)": VarType.NUMERIC,
    "Numerisk (flyttall)": VarType.NUMERIC,
    "Datovariabel": VarType.DATE,
    "Tidspunkt": VarType.DATETIME,
    "Klokkeslett": VarType.TIME,
    "Listevariabel": VarType.CODED,
    "Avkrysningsboks": VarType.BOOLEAN,
    "Beregnet variabel": VarType.DERIVED,
}
_ENCODINGS = ("utf-8-sig", "cp1252")  # OQR exports in either


class OqrCodebookError(ValueError):
    """A klokebok cell that cannot be converted; the message names file, row and column."""


def _at(source: str, rowno: int, column: str) -> str:
    return f"{source}: row {rowno}, column {column!r}"


def _number(text: str, where: str) -> float | None:
    if not text:
        return None
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise OqrCodebookError(f"{where}: expected a number, got {text!r}") from None


def _day(text: str, where: str) -> str | None:
    if not text:
        return None
    for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
        try:
            return datetime.strptime(text, fmt).date().isoformat()
        except ValueError:
            continue
    raise OqrCodebookError(f"{where}: expected a date (dd.mm.yyyy), got {text!r}")


def _yes_no(text: str, where: str) -> bool:
    t = text.lower()
    if t in ("ja", "j", "1", "true"):
        return True
    if t in ("", "nei", "n", "0", "false"):
        return False
    raise OqrCodebookError(f"{where}: expected ja/nei, got {text!r}")


def _limits(row: dict[str, str], vtype: VarType, source: str, rowno: int) -> dict[str, object]:
    """min/max from maksintervall, plausibility from normalintervall, by type family."""
    suffix = "dato" if vtype in (VarType.DATE, VarType.DATETIME) else "numerisk"
    parse = _day if suffix == "dato" else _number
    out: dict[str, object] = {}
    for key, prefix in (
        ("min", "maksintervall_start"),
        ("max", "maksintervall_slutt"),
        ("min_plausible", "normalintervall_start"),
        ("max_plausible", "normalintervall_slutt"),
    ):
        col = f"{prefix}_{suffix}"
        out[key] = parse(row.get(col, ""), _at(source, rowno, col))
    return out


def _release_class(row: dict[str, str], source: str, rowno: int) -> dict[str, object]:
    where = _at(source, rowno, "identifikator")
    try:
        identifier = parse_identifier(row.get("identifikator", ""), where)
    except ValueError as exc:
        raise OqrCodebookError(str(exc)) from None
    releasable = _yes_no(row.get("utleverbar", ""), _at(source, rowno, "utleverbar"))
    if identifier is IdentifierClass.DIRECT and releasable:
        raise OqrCodebookError(
            f"{_at(source, rowno, 'utleverbar')}: a direct identifier cannot be releasable"
        )
    return {"identifier": identifier, "releasable": releasable}


def rows_to_codebook(rows: Iterable[dict[str, str]], source: str) -> Codebook:
    """Group the klokebok rows (value rows follow their variable) into canonical variables."""
    entries: dict[tuple[str, str], dict] = {}
    last: tuple[str, str] | None = None
    for rowno, row in enumerate(rows, start=2):
        if not any(row.values()):
            continue
        key = (row.get("skjemanavn", ""), row.get("navn_i_rapporteket", ""))
        if not key[0]:
            raise OqrCodebookError(f"{_at(source, rowno, 'skjemanavn')}: form name is required")
        if not key[1]:
            raise OqrCodebookError(
                f"{_at(source, rowno, 'navn_i_rapporteket')}: variable name is required"
            )
        type_text = row.get("type", "")
        if type_text not in TYPES:
            raise OqrCodebookError(
                f"{_at(source, rowno, 'type')}: unknown type {type_text!r} "
                f"(known: {', '.join(TYPES)})"
            )
        vtype = TYPES[type_text]
        if key not in entries:
            decimals_text = row.get("desimaler", "")
            try:
                decimals = int(decimals_text) if decimals_text else None
            except ValueError:
                raise OqrCodebookError(
                    f"{_at(source, rowno, 'desimaler')}: expected an integer, got {decimals_text!r}"
                ) from None
            entries[key] = {
                "form": key[0],
                "name": key[1],
                "label": row.get("ledetekst", ""),
                "type": vtype,
                "description": row.get("hjelpetekst", ""),
                "unit": row.get("eining", ""),
                "unique": _yes_no(row.get("unik", ""), _at(source, rowno, "unik")),
                "mandatory": _yes_no(
                    row.get("obligatorisk", ""), _at(source, rowno, "obligatorisk")
                ),
                "values": {},
                "missing_codes": [],
                "decimals": decimals,
                "formula": row.get("utrekningsformel", ""),
                **_limits(row, vtype, source, rowno),
                **_release_class(row, source, rowno),
            }
        elif key != last or vtype is not VarType.CODED:
            raise OqrCodebookError(
                f"{_at(source, rowno, 'navn_i_rapporteket')}: {key[1]!r} defined twice "
                f"in form {key[0]!r} (only list values may repeat a variable, on adjacent rows)"
            )
        last = key
        code = row.get("listeverdier", "")
        if vtype is VarType.CODED:
            if not code:
                raise OqrCodebookError(
                    f"{_at(source, rowno, 'listeverdier')}: list variable without a value"
                )
            if code in entries[key]["values"]:
                raise OqrCodebookError(
                    f"{_at(source, rowno, 'listeverdier')}: code {code!r} listed twice"
                )
            entries[key]["values"][code] = row.get("listetekst", "")
            if _yes_no(row.get("manglande", ""), _at(source, rowno, "manglande")):
                entries[key]["missing_codes"].append(code)
        elif code:
            raise OqrCodebookError(
                f"{_at(source, rowno, 'listeverdier')}: value given for a {type_text}"
            )
    if not entries:
        raise OqrCodebookError(f"{source}: no variables")
    return Codebook(
        tuple(
            Variable(**(e | {"missing_codes": tuple(e["missing_codes"])})) for e in entries.values()
        )
    )


def _decode(path: Path) -> str:
    data = path.read_bytes()
    for encoding in _ENCODINGS:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise OqrCodebookError(f"{path}: neither UTF-8 nor cp1252 text")


def read_klokebok(path: Path) -> Codebook:
    reader = csv.DictReader(io.StringIO(_decode(path), newline=""), delimiter=";")
    header = reader.fieldnames or ()
    missing = REQUIRED - set(header)
    if missing:
        raise OqrCodebookError(f"{path}: row 1: missing columns {sorted(missing)}")
    rows = ({k: (v or "").strip() for k, v in r.items() if k} for r in reader)
    return rows_to_codebook(rows, str(path))


# -- writing -------------------------------------------------------------------------------


def _type_name(v: Variable) -> str:
    if v.type is VarType.NUMERIC:
        return "Numerisk (flyttall)" if (v.decimals or 0) > 0 else "Numerisk (heltall)"
    return next(name for name, t in TYPES.items() if t is v.type)


def _fmt_number(value: float | str | None) -> str:
    if value is None:
        return ""
    number = float(value)
    return (str(int(number)) if number.is_integer() else repr(number)).replace(".", ",")


def _fmt_day(value: float | str | None) -> str:
    return "" if value is None else date.fromisoformat(str(value)).strftime("%d.%m.%Y")


def codebook_to_rows(codebook: Codebook) -> Iterator[dict[str, str]]:
    for index, v in enumerate(codebook.variables, start=1):
        dated = v.type in (VarType.DATE, VarType.DATETIME)
        fmt = _fmt_day if dated else _fmt_number
        suffix = "dato" if dated else "numerisk"
        base = {
            "skjemanavn": v.form,
            "navn_i_rapporteket": v.name,
            "ledetekst": v.label,
            "obligatorisk": "Ja" if v.mandatory else "Nei",
            "type": _type_name(v),
            f"normalintervall_start_{suffix}": fmt(v.min_plausible),
            f"normalintervall_slutt_{suffix}": fmt(v.max_plausible),
            f"maksintervall_start_{suffix}": fmt(v.min),
            f"maksintervall_slutt_{suffix}": fmt(v.max),
            "desimaler": "" if v.decimals is None else str(v.decimals),
            "variabel_id": str(index),
            "hjelpetekst": v.description,
            "eining": v.unit,
            "unik": "Ja" if v.unique else "Nei",
            "utrekningsformel": v.formula,
            "identifikator": v.identifier.value,
            "utleverbar": "Ja" if v.releasable else "Nei",
        }
        if not v.values:
            yield base
        for code, text in v.values.items():
            yield base | {
                "listeverdier": code,
                "listetekst": text,
                "manglande": "Ja" if code in v.missing_codes else "Nei",
            }


def write_klokebok(codebook: Codebook, path: Path, *, encoding: str = "utf-8") -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(
        buf, fieldnames=[*COLUMNS, *EXTRA_COLUMNS], delimiter=";", lineterminator="\r\n"
    )
    writer.writeheader()
    writer.writerows(codebook_to_rows(codebook))
    path.write_bytes(buf.getvalue().encode(encoding))
