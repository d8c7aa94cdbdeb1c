"""MRS (HEMIT) codebook ``rapport.xlsx`` <-> canonical codebook.

MRS ships its codebook as a one-sheet workbook with one row per variable; the allowed values
of a list variable sit in one cell, one ``code = text`` per line. Registries keep the same sheet
as ``;``-separated UTF-8 CSV in their repository folder so it can be reviewed as text, so the
reader accepts both; the writer produces the ``.xlsx`` that MRS ships with a dump.

MRS has no columns for three canonical attributes that our registries need (``unik``, the
"unknown" codes and a formula for derived fields). They travel in optional trailing columns
``Unik``, ``Ukjentkoder`` and ``Beregning``; a sheet without them reads as "not unique, no
unknown codes, no formula", exactly as a plain MRS export would. kvalreg's identifier class and
release permission (canonical ``identifikator``/``utleverbar``) travel in ``Identifikator`` and
``Utleverbar``; without them a variable is "annan" and not releasable.
"""

from __future__ import annotations

import csv
import io
import re
import zipfile
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
    "Skjemanavn",
    "Visningsnavn",
    "Variabelnavn",
    "Felttype",
    "Mulige verdier",
    "Obligatorisk",
    "Min",
    "Maks",
    "Min rimelig",
    "Maks rimelig",
    "Desimaler",
    "Enhet",
    "Hjelpetekst",
)
EXTRA_COLUMNS = ("Unik", "Ukjentkoder", "Beregning", "Identifikator", "Utleverbar")
REQUIRED = frozenset(COLUMNS[:6])

# Felttype -> canonical type. The first spelling of each type is the one the writer uses.
FIELD_TYPES: dict[str, VarType] = {
    "Tekst": VarType.TEXT,
    "Tall": VarType.NUMERIC,
    "Desimaltall": VarType.NUMERIC,
    "Dato": VarType.DATE,
    "Dato/tid": VarType.DATETIME,
    "Klokkeslett": VarType.TIME,
    "Listevariabel": VarType.CODED,
    "Avkrysningsboks": VarType.BOOLEAN,
    "Sjekkboks": VarType.BOOLEAN,
    "Beregnet": VarType.DERIVED,
    "Tekstfelt": VarType.TEXT,
    "Dato/Tid": VarType.DATETIME,
}
_VALUE_LINE = re.compile(r"^\s*(?P<code>[^=\s]+)\s*=\s*(?P<text>.*?)\s*$")
_FIXED_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_CORE_TIMES = re.compile(rb"(<dcterms:(created|modified)[^>]*>)[^<]*(</dcterms:\2>)")


class MrsCodebookError(ValueError):
    """A codebook cell that cannot be converted; the message names file, row and column."""


def _cell_text(value: object) -> str:
    """Cells from openpyxl arrive as str/int/float/datetime; CSV cells are always str."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _parse_limit(text: str, vtype: VarType, where: str) -> float | str | None:
    if not text:
        return None
    if vtype in (VarType.DATE, VarType.DATETIME):
        for fmt in ("%Y-%m-%d", "%d.%m.%Y"):
            try:
                return datetime.strptime(text[:10], fmt).date().isoformat()
            except ValueError:
                continue
        raise MrsCodebookError(f"{where}: expected a date (dd.mm.yyyy), got {text!r}")
    try:
        return float(text.replace(",", "."))
    except ValueError:
        raise MrsCodebookError(f"{where}: expected a number, got {text!r}") from None


def _parse_values(text: str, where: str) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in text.splitlines():
        if not line.strip():
            continue
        m = _VALUE_LINE.match(line)
        if m is None:
            raise MrsCodebookError(f"{where}: expected 'code = text' per line, got {line!r}")
        if m["code"] in values:
            raise MrsCodebookError(f"{where}: code {m['code']!r} listed twice")
        values[m["code"]] = m["text"]
    return values


def _parse_yes_no(text: str, where: str) -> bool:
    t = text.lower()
    if t in ("ja", "j", "1", "true", "sann"):
        return True
    if t in ("", "nei", "n", "0", "false", "usann"):
        return False
    raise MrsCodebookError(f"{where}: expected Ja/Nei, got {text!r}")


class _Cells:
    """One sheet row with the position of each cell, for error messages."""

    def __init__(self, row: dict[str, str], source: str, rowno: int) -> None:
        self.row, self.source, self.rowno = row, source, rowno

    def text(self, column: str) -> str:
        return self.row.get(column, "") or ""

    def at(self, column: str) -> str:
        return f"{self.source}: row {self.rowno}, column {column!r}"

    def limit(self, column: str, vtype: VarType) -> float | str | None:
        return _parse_limit(self.text(column), vtype, self.at(column))

    def yes_no(self, column: str) -> bool:
        return _parse_yes_no(self.text(column), self.at(column))


def rows_to_codebook(rows: Iterable[dict[str, str]], source: str) -> Codebook:
    """Convert sheet rows (header already applied; values as text) to the canonical form."""
    variables: list[Variable] = []
    seen: set[tuple[str, str]] = set()
    for rowno, row in enumerate(rows, start=2):
        if not any(row.values()):
            continue  # blank spacer rows are common in hand-edited sheets
        c = _Cells(row, source, rowno)
        form, name = c.text("Skjemanavn"), c.text("Variabelnavn")
        if not form:
            raise MrsCodebookError(f"{c.at('Skjemanavn')}: form name is required")
        if not name:
            raise MrsCodebookError(f"{c.at('Variabelnavn')}: variable name is required")
        if (form, name) in seen:
            raise MrsCodebookError(
                f"{c.at('Variabelnavn')}: {name!r} defined twice in form {form!r}"
            )
        seen.add((form, name))
        ftype = c.text("Felttype")
        try:
            vtype = FIELD_TYPES[ftype]
        except KeyError:
            raise MrsCodebookError(
                f"{c.at('Felttype')}: unknown field type {ftype!r} "
                f"(known: {', '.join(FIELD_TYPES)})"
            ) from None
        values = _parse_values(c.text("Mulige verdier"), c.at("Mulige verdier"))
        if vtype is VarType.CODED and not values:
            raise MrsCodebookError(
                f"{c.at('Mulige verdier')}: Listevariabel {name!r} has no values"
            )
        missing = tuple(x.strip() for x in c.text("Ukjentkoder").split(",") if x.strip())
        if not set(missing) <= set(values):
            raise MrsCodebookError(
                f"{c.at('Ukjentkoder')}: unknown codes {missing} not among the values"
            )
        decimals_text = c.text("Desimaler")
        try:
            decimals = int(decimals_text) if decimals_text else None
        except ValueError:
            raise MrsCodebookError(
                f"{c.at('Desimaler')}: expected an integer, got {decimals_text!r}"
            ) from None
        identifier = _identifier(c)
        releasable = c.yes_no("Utleverbar")
        if identifier is IdentifierClass.DIRECT and releasable:
            raise MrsCodebookError(
                f"{c.at('Utleverbar')}: {name!r} is a direct identifier and cannot be releasable"
            )
        variables.append(
            Variable(
                form=form,
                name=name,
                label=c.text("Visningsnavn"),
                type=vtype,
                description=c.text("Hjelpetekst"),
                unit=c.text("Enhet"),
                unique=c.yes_no("Unik"),
                mandatory=c.yes_no("Obligatorisk"),
                values=values,
                missing_codes=missing,
                decimals=decimals,
                min=c.limit("Min", vtype),
                max=c.limit("Maks", vtype),
                min_plausible=c.limit("Min rimelig", vtype),
                max_plausible=c.limit("Maks rimelig", vtype),
                formula=c.text("Beregning"),
                identifier=identifier,
                releasable=releasable,
            )
        )
    if not variables:
        raise MrsCodebookError(f"{source}: no variables")
    return Codebook(tuple(variables))


def _identifier(c: _Cells) -> IdentifierClass:
    try:
        return parse_identifier(c.text("Identifikator"), c.at("Identifikator"))
    except ValueError as exc:
        raise MrsCodebookError(str(exc)) from None


def _check_header(header: Iterable[str], source: str) -> None:
    missing = REQUIRED - set(header)
    if missing:
        raise MrsCodebookError(f"{source}: row 1: missing columns {sorted(missing)}")


def _xlsx_rows(path: Path) -> Iterator[dict[str, str]]:
    from openpyxl import load_workbook

    wb = load_workbook(path, read_only=True, data_only=True)
    try:
        sheet = wb.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = [_cell_text(c) for c in next(rows, ())]
        _check_header(header, str(path))
        for values in rows:
            yield {h: _cell_text(v) for h, v in zip(header, values, strict=False) if h}
    finally:
        wb.close()


def _csv_rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=";")
        _check_header(reader.fieldnames or (), str(path))
        for row in reader:
            yield {k: (v or "").strip() for k, v in row.items() if k}


def read_rapport(path: Path) -> Codebook:
    """Read ``rapport.xlsx`` or the same sheet saved as ``;``-separated UTF-8 ``.csv``."""
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        return rows_to_codebook(_xlsx_rows(path), str(path))
    if suffix == ".csv":
        return rows_to_codebook(_csv_rows(path), str(path))
    raise MrsCodebookError(f"{path}: expected .xlsx or .csv")


# -- writing -------------------------------------------------------------------------------


def _field_type(v: Variable) -> str:
    if v.type is VarType.NUMERIC:
        return "Desimaltall" if (v.decimals or 0) > 0 else "Tall"
    return next(name for name, t in FIELD_TYPES.items() if t is v.type)


def _limit_cell(value: float | str | None, vtype: VarType, for_xlsx: bool) -> object:
    """Numbers as numbers (xlsx) or with decimal comma (csv); dates as dates / dd.mm.yyyy."""
    if value is None:
        return None if for_xlsx else ""
    if vtype in (VarType.DATE, VarType.DATETIME):
        day = date.fromisoformat(str(value))
        return datetime(day.year, day.month, day.day) if for_xlsx else day.strftime("%d.%m.%Y")
    number = float(value)
    if for_xlsx:
        return int(number) if number.is_integer() else number
    return (str(int(number)) if number.is_integer() else repr(number)).replace(".", ",")


def codebook_to_rows(codebook: Codebook, *, for_xlsx: bool) -> Iterator[list[object]]:
    """The sheet as rows of cells, header first."""
    yield [*COLUMNS, *EXTRA_COLUMNS]
    empty: object = None if for_xlsx else ""
    for v in codebook.variables:
        yield [
            v.form,
            v.label,
            v.name,
            _field_type(v),
            "\n".join(f"{code} = {text}" for code, text in v.values.items()) or empty,
            "Ja" if v.mandatory else "Nei",
            _limit_cell(v.min, v.type, for_xlsx),
            _limit_cell(v.max, v.type, for_xlsx),
            _limit_cell(v.min_plausible, v.type, for_xlsx),
            _limit_cell(v.max_plausible, v.type, for_xlsx),
            empty if v.decimals is None else v.decimals if for_xlsx else str(v.decimals),
            v.unit or empty,
            v.description or empty,
            "Ja" if v.unique else "Nei",
            ",".join(v.missing_codes) or empty,
            v.formula or empty,
            v.identifier.value,
            "Ja" if v.releasable else "Nei",
        ]


def write_rapport_csv(codebook: Codebook, path: Path) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=";", lineterminator="\n")
    writer.writerows(codebook_to_rows(codebook, for_xlsx=False))
    path.write_text(buf.getvalue(), encoding="utf-8")


def write_rapport_xlsx(codebook: Codebook, path: Path, *, timestamp: datetime) -> None:
    """Write ``rapport.xlsx`` with byte-identical output for identical input.

    openpyxl stamps the workbook and every zip member with the current time, which would make
    two generator runs with the same seed differ; the package is therefore re-zipped with
    fixed member times and ``timestamp`` (taken from the data) as the document time.
    """
    from openpyxl import Workbook

    wb = Workbook(write_only=True)
    sheet = wb.create_sheet("Rapport")
    for row in codebook_to_rows(codebook, for_xlsx=True):
        sheet.append(row)
    raw = io.BytesIO()
    wb.save(raw)
    stamp = timestamp.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with (
        zipfile.ZipFile(raw) as src,
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as dst,
    ):
        for info in src.infolist():
            data = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                data = _CORE_TIMES.sub(lambda m: m.group(1) + stamp + m.group(3), data)
            member = zipfile.ZipInfo(info.filename, date_time=_FIXED_ZIP_TIME)
            member.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(member, data)
    path.write_bytes(out.getvalue())
