"""Typed column values for one chunk, and their formatting as a registry writes them.

Values stay numeric while generating (dates as days since 1970, timestamps as minutes,
clock times as minutes of the day) so that limits, date rules and ground truth are computed
on numbers; only the writer turns them into the registry's text conventions (decimal comma,
``dd.mm.yyyy``, ``1``/``0`` for checkboxes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache

import numpy as np

from kvalreg.codebook import Variable, VarType

EPOCH = date(1970, 1, 1)
_TABLE_FIRST = date(1900, 1, 1)
_TABLE_DAYS = (date(2070, 12, 31) - _TABLE_FIRST).days + 1
_TABLE_OFFSET = (_TABLE_FIRST - EPOCH).days


def day_of(d: date | str) -> int:
    return ((date.fromisoformat(d) if isinstance(d, str) else d) - EPOCH).days


def date_of(day: int) -> date:
    return EPOCH + timedelta(days=int(day))


@dataclass
class Column:
    """Raw values plus a missing mask (True = the cell is empty)."""

    values: np.ndarray
    missing: np.ndarray

    @classmethod
    def full(cls, values: np.ndarray) -> Column:
        return cls(values, np.zeros(len(values), dtype=bool))

    def take(self, index: np.ndarray) -> Column:
        return Column(self.values[index], self.missing[index])


@dataclass
class Table:
    """One chunk of one form: columns in codebook order and string overrides from defects."""

    n: int
    columns: dict[str, Column] = field(default_factory=dict)
    overrides: dict[str, dict[int, str]] = field(default_factory=dict)

    def append_copies(self, rows: np.ndarray) -> Table:
        """Append exact copies of ``rows`` at the end; existing rows (and overrides) stay put."""
        index = np.concatenate([np.arange(self.n), rows])
        return Table(
            len(index), {k: c.take(index) for k, c in self.columns.items()}, self.overrides
        )


@cache
def _date_table(fmt: str) -> np.ndarray:
    return np.array([(_TABLE_FIRST + timedelta(days=i)).strftime(fmt) for i in range(_TABLE_DAYS)])


@cache
def _clock_table(fmt: str) -> np.ndarray:
    return np.array([datetime(2000, 1, 1, m // 60, m % 60).strftime(fmt) for m in range(1440)])


def format_dates(days: np.ndarray, fmt: str) -> np.ndarray:
    return _date_table(fmt)[days - _TABLE_OFFSET]


def format_datetimes(minutes: np.ndarray, fmt: str) -> np.ndarray:
    """``fmt`` is split at the first time directive: a date table and a clock table."""
    cut = min(i for i in (fmt.find("%H"), fmt.find("%I")) if i >= 0)
    day, minute = np.divmod(minutes, 1440)
    return np.char.add(_date_table(fmt[:cut])[day - _TABLE_OFFSET], _clock_table(fmt[cut:])[minute])


def format_number(values: np.ndarray, decimals: int, decimal_mark: str) -> np.ndarray:
    if decimals == 0:
        return np.round(values).astype(np.int64).astype(str)
    text = np.char.mod(f"%.{decimals}f", values)
    return np.char.replace(text, ".", decimal_mark) if decimal_mark != "." else text


@dataclass(frozen=True)
class TextFormat:
    """The text conventions of one export file."""

    date: str
    datetime: str
    decimal: str
    true: str
    false: str

    def values(self, var: Variable, col: Column) -> np.ndarray:
        v = col.values
        match var.type:
            case VarType.DATE:
                return format_dates(v, self.date)
            case VarType.DATETIME:
                return format_datetimes(v, self.datetime)
            case VarType.TIME:
                return _clock_table("%H:%M")[v]
            case VarType.NUMERIC:
                return format_number(v, var.decimals or 0, self.decimal)
            case VarType.BOOLEAN:
                return np.where(v.astype(bool), self.true, self.false)
            case _:
                return v

    def table(self, variables: tuple[Variable, ...], table: Table) -> dict[str, list[str | None]]:
        out: dict[str, list[str | None]] = {}
        for var in variables:
            col = table.columns[var.name]
            text = self.values(var, col).astype(object)
            text[col.missing] = None
            for row, override in table.overrides.get(var.name, {}).items():
                text[row] = override
            out[var.name] = text.tolist()
        return out
