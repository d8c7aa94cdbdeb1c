"""National reference data: treating units (RESH) and municipalities (kommune -> catchment HF).

Kept as plain CSV beside this module so that re-codings and new units are data edits, not
code changes. RESH ids and organisation numbers in ``units.csv`` are synthetic (marked in the
``synthetic`` column); names of hospitals, HFs, RHFs and municipalities are real public names.
Units are history-tracked: a re-coded unit keeps its ``unit_key`` and gets a new row with a new
``resh`` whose validity starts the day after the old one ends.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

REFERENCE_DIR = Path(__file__).parent
UNITS_FILE = REFERENCE_DIR / "units.csv"
MUNICIPALITIES_FILE = REFERENCE_DIR / "municipalities.csv"

ORGNR_WEIGHTS: tuple[int, ...] = (3, 2, 7, 6, 5, 4, 3, 2)


@dataclass(frozen=True)
class Unit:
    """One RESH id of a treating unit, valid from ``valid_from`` to ``valid_to`` (inclusive)."""

    resh: str
    unit_key: str  # stable across RESH re-codings of the same unit
    unit_name: str
    hospital: str
    hospital_orgnr: str
    hf: str
    hf_orgnr: str
    rhf: str
    rhf_orgnr: str
    valid_from: date
    valid_to: date | None  # None = still valid
    synthetic: bool

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


@dataclass(frozen=True)
class Municipality:
    kommunenummer: str
    name: str
    hf: str  # the HF whose catchment area holds the municipality (resident context)
    rhf: str


def orgnr_is_valid(orgnr: str) -> bool:
    """Brønnøysund mod-11 check on a 9-digit organisation number (remainder 1 is never issued)."""
    if len(orgnr) != 9 or not (orgnr.isascii() and orgnr.isdigit()):
        return False
    total = sum(int(d) * w for d, w in zip(orgnr[:8], ORGNR_WEIGHTS, strict=True))
    check = (11 - total % 11) % 11
    return check != 10 and check == int(orgnr[8])


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter=";"))


def _date_or_none(text: str) -> date | None:
    return date.fromisoformat(text) if text.strip() else None


@cache
def load_units() -> tuple[Unit, ...]:
    """All RESH rows of ``units.csv`` in file order (cached: the file is part of the package)."""
    units = []
    for lineno, row in enumerate(_read(UNITS_FILE), start=2):
        try:
            units.append(
                Unit(
                    resh=row["resh"],
                    unit_key=row["unit_key"],
                    unit_name=row["unit_name"],
                    hospital=row["hospital"],
                    hospital_orgnr=row["hospital_orgnr"],
                    hf=row["hf"],
                    hf_orgnr=row["hf_orgnr"],
                    rhf=row["rhf"],
                    rhf_orgnr=row["rhf_orgnr"],
                    valid_from=date.fromisoformat(row["valid_from"]),
                    valid_to=_date_or_none(row["valid_to"]),
                    synthetic=row["synthetic"].strip().lower() == "ja",
                )
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"{UNITS_FILE}: row {lineno}: {exc}") from None
    return tuple(units)


def known_resh() -> set[str]:
    """Every RESH id that has ever been valid; a value outside this set is ``resh_unknown``."""
    return {u.resh for u in load_units()}


@cache
def load_municipalities() -> tuple[Municipality, ...]:
    return tuple(
        Municipality(r["kommunenummer"], r["kommune"], r["hf"], r["rhf"])
        for r in _read(MUNICIPALITIES_FILE)
    )
