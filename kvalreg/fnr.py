"""Norwegian person identifiers: fødselsnummer, D-, H- and synthetic (Tenor/Dolly) numbers.

Layout: 11 digits ``d1 d2 m1 m2 y1 y2 i1 i2 i3 k1 k2`` (date, individual number, two check
digits). We implement the rules ourselves because ``python-stdnum`` rejects both the check-digit
rule Skatteetaten introduces in 2032 and Tenor synthetic numbers, and generated data consists
*only* of Tenor numbers (domain.md §3).

There are two implementations of the same predicate: Python (:func:`parse`, :func:`is_valid`)
for single values, and DuckDB SQL (:func:`sql_with_validity`) for data-quality checks over millions
of rows. Both are derived from the constants below so they cannot drift apart silently, and
the test suite checks that they agree.

Identifiers are personal data: nothing here puts a number into a log line, an exception message
or a ``repr``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

K1_WEIGHTS: tuple[int, ...] = (3, 7, 6, 1, 8, 9, 4, 5, 2)
"""Weights for ``d1 .. i3`` when computing ``k1``."""
K2_WEIGHTS: tuple[int, ...] = (5, 4, 3, 2, 7, 6, 5, 4, 3, 2)
"""Weights for ``d1 .. i3, k1`` when computing ``k2`` (the last weight applies to ``k1``)."""

LENGTH = 11
_MODULUS = 11

# From 2032, ``(Σw1·d + k1) mod 11`` may be any of these (classic numbers always give 0), which
# quadruples the number space per birth date; ``(Σw2·d + k2) mod 11`` must still be 0.
_RULE_2032_K1_RESIDUES: tuple[int, ...] = (0, 1, 2, 3)

D_DAY_OFFSET = 40
H_MONTH_OFFSET = 40  # also NAV Dolly synthetic numbers, which are indistinguishable from H
TENOR_MONTH_OFFSET = 80
# Month offsets, largest first, so the first one that fits ``mm >= offset`` is the one used.
_MONTH_OFFSETS: tuple[int, ...] = (TENOR_MONTH_OFFSET, H_MONTH_OFFSET, 0)

# (individual from, individual to, yy from, yy to, century) — Skatteetaten's allocation of
# individual numbers to birth centuries for numbers issued under the classic rule. The ranges
# are disjoint; a combination outside all of them was never issued.
_CENTURY_RANGES: tuple[tuple[int, int, int, int, int], ...] = (
    (0, 499, 0, 99, 1900),
    (500, 749, 54, 99, 1800),
    (500, 999, 0, 39, 2000),
    (900, 999, 40, 99, 1900),
)

# Numbers issued without century information (2032 rule) count as having a real birth date if
# the day and month exist in either of these centuries; this only matters for 29 February.
_RULE_2032_CENTURIES: tuple[int, ...] = (1900, 2000)


class IdKind(StrEnum):
    """Which family a number belongs to; decides whether it can be a real person."""

    FNR = "fnr"
    DNR = "dnr"
    HNR = "hnr"  # includes NAV Dolly synthetic numbers (same month + 40 offset)
    TENOR = "tenor"
    TENOR_DNR = "tenor_dnr"


class Rule(StrEnum):
    """Which check-digit rule the number satisfies (a classic number satisfies both; we say
    classic, because only classic numbers carry century information)."""

    CLASSIC = "classic"
    RULE_2032 = "2032"


# (day has the D offset, month offset) -> kind. Other combinations (e.g. D + H) do not exist.
_KINDS: dict[tuple[bool, int], IdKind] = {
    (False, 0): IdKind.FNR,
    (True, 0): IdKind.DNR,
    (False, H_MONTH_OFFSET): IdKind.HNR,
    (False, TENOR_MONTH_OFFSET): IdKind.TENOR,
    (True, TENOR_MONTH_OFFSET): IdKind.TENOR_DNR,
}

# ``repr`` must hold no digits at all, so the 2032 rule gets a digit-free label there.
_REPR_RULE: dict[Rule, str] = {Rule.CLASSIC: "classic", Rule.RULE_2032: "new-style"}


@dataclass(frozen=True, repr=False)
class PersonId:
    """What a valid identifier tells us, without the identifier itself.

    ``birth_date`` is ``None`` for numbers valid only under the 2032 rule, which carry no
    century information.
    """

    kind: IdKind
    rule: Rule
    birth_date: date | None

    def __repr__(self) -> str:
        # The birth date is quasi-identifying and would end up in logs and tracebacks.
        birth = "None" if self.birth_date is None else "<hidden>"
        return f"PersonId(kind={self.kind.value}, rule={_REPR_RULE[self.rule]}, birth_date={birth})"


def _weighted_sum(weights: tuple[int, ...], digits: tuple[int, ...]) -> int:
    return sum(w * d for w, d in zip(weights, digits[: len(weights)], strict=True))


def _digits(value: str, length: int) -> tuple[int, ...] | None:
    """ASCII digits only: ``str.isdigit`` alone would accept e.g. Arabic-Indic digits."""
    if len(value) != length or not (value.isascii() and value.isdigit()):
        return None
    return tuple(ord(c) - ord("0") for c in value)


def classic_check_digits(first9: str) -> tuple[int, int] | None:
    """``(k1, k2)`` under the classic rule, or ``None`` when either would be 10 (no valid
    number has that prefix, which is why individual numbers get skipped when issuing).

    Raises ``ValueError`` if ``first9`` is not nine ASCII digits.
    """
    digits = _digits(first9, len(K1_WEIGHTS))
    if digits is None:
        raise ValueError("expected exactly nine ASCII digits")
    k1 = (_MODULUS - _weighted_sum(K1_WEIGHTS, digits) % _MODULUS) % _MODULUS
    if k1 == 10:
        return None
    k2 = (_MODULUS - _weighted_sum(K2_WEIGHTS, (*digits, k1)) % _MODULUS) % _MODULUS
    if k2 == 10:
        return None
    return k1, k2


def _rule(digits: tuple[int, ...]) -> Rule | None:
    r1 = (_weighted_sum(K1_WEIGHTS, digits) + digits[9]) % _MODULUS
    r2 = (_weighted_sum(K2_WEIGHTS, digits) + digits[10]) % _MODULUS
    if r2 != 0 or r1 not in _RULE_2032_K1_RESIDUES:
        return None
    return Rule.CLASSIC if r1 == 0 else Rule.RULE_2032


def _century(individual: int, yy: int) -> int | None:
    for ind_lo, ind_hi, yy_lo, yy_hi, century in _CENTURY_RANGES:
        if ind_lo <= individual <= ind_hi and yy_lo <= yy <= yy_hi:
            return century
    return None


def _month_offset(mm: int) -> int:
    return next(offset for offset in _MONTH_OFFSETS if mm >= offset)


def _real_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def parse(value: str) -> PersonId | None:
    """Classify a person identifier, or ``None`` if it is invalid in any way (length,
    non-digits, check digits, kind, birth date, century)."""
    digits = _digits(value, LENGTH)
    if digits is None:
        return None
    rule = _rule(digits)
    if rule is None:
        return None
    dd, mm, yy = (10 * digits[i] + digits[i + 1] for i in (0, 2, 4))
    d_number = dd >= D_DAY_OFFSET
    month_offset = _month_offset(mm)
    kind = _KINDS.get((d_number, month_offset))
    if kind is None:
        return None
    day = dd - D_DAY_OFFSET if d_number else dd
    month = mm - month_offset
    if rule is Rule.CLASSIC:
        century = _century(100 * digits[6] + 10 * digits[7] + digits[8], yy)
        birth = None if century is None else _real_date(century + yy, month, day)
        if birth is not None:
            return PersonId(kind, rule, birth)
        # From 2032 about one new number in eleven passes the classic check by chance; with
        # no century allocated to it, it can only be a new-style number, so judge it as one.
    if all(_real_date(c + yy, month, day) is None for c in _RULE_2032_CENTURIES):
        return None
    return PersonId(kind, Rule.RULE_2032, None)


def is_valid(value: str) -> bool:
    """``True`` iff :func:`parse` accepts ``value``."""
    return parse(value) is not None


def make_tenor(birth: date, individual: int, *, dnr: bool = False) -> str | None:
    """A Tenor-style synthetic number (month + 80; day + 40 too if ``dnr``) under the classic
    rule, so generated data can never collide with a real person.

    Returns ``None`` when the classic check digits do not exist for this prefix (callers try
    another ``individual``). Raises ``ValueError`` if ``individual`` is not one that
    Skatteetaten allocates to ``birth.year`` — otherwise the number would not round-trip
    through :func:`parse` to the same birth date.
    """
    yy = birth.year % 100
    if not 0 <= individual <= 999 or _century(individual, yy) != birth.year - yy:
        raise ValueError("individual number does not fit the birth year's century ranges")
    day = birth.day + (D_DAY_OFFSET if dnr else 0)
    first9 = f"{day:02d}{birth.month + TENOR_MONTH_OFFSET:02d}{yy:02d}{individual:03d}"
    check = classic_check_digits(first9)
    if check is None:
        return None
    return f"{first9}{check[0]}{check[1]}"


# --- SQL --------------------------------------------------------------------------------------
# The SQL mirrors the Python above term by term, with two deliberate differences:
# - Date validity is computed arithmetically (days in month, Gregorian leap years) instead of via
#   make_date: integer arithmetic is vectorised and never raises, so no try() is needed. Digits
#   are read with ascii(), which cannot fail either: the expression is error-free on any input.
# - Intermediate values are bound once with _sql_let. DuckDB does not eliminate common
#   subexpressions inside CASE, and writing the digit extraction out at every use made the
#   expression ~13 kB long and about three times slower than it is now.


def _sql_is_leap(year: str) -> str:
    return f"(({year}) % 4 = 0 AND (({year}) % 100 <> 0 OR ({year}) % 400 = 0))"


def _sql_date_ok(year: str, month: str, day: str) -> str:
    """Whether ``year-month-day`` is a real date (``month`` and ``day`` already de-offset)."""
    days_in_month = (
        f"CASE WHEN {month} = 2 THEN CASE WHEN {_sql_is_leap(year)} THEN 29 ELSE 28 END"
        f" WHEN {month} IN (4, 6, 9, 11) THEN 30 ELSE 31 END"
    )
    return f"({month} BETWEEN 1 AND 12 AND {day} BETWEEN 1 AND {days_in_month})"


def _sql_century(individual: str, yy: str) -> str:
    """Birth century for a classic number, NULL when none applies."""
    whens = " ".join(
        f"WHEN {individual} BETWEEN {ind_lo} AND {ind_hi} AND {yy} BETWEEN {yy_lo} AND {yy_hi}"
        f" THEN {century}"
        for ind_lo, ind_hi, yy_lo, yy_hi, century in _CENTURY_RANGES
    )
    return f"CASE {whens} END"


def sql_with_validity(source_sql: str, column_sql: str, alias: str) -> str:
    """A SELECT of every column of ``source_sql`` plus boolean ``alias``: :func:`is_valid`
    applied to ``column_sql``.

    NULL or empty input gives NULL rather than false: missingness is reported by a separate
    check, and counting it twice would inflate error rates. ``source_sql`` is a table name or a
    parenthesised query; ``column_sql`` is pasted in verbatim, so pass a quoted identifier or a
    simple expression, never untrusted text.

    The digits, then the fields and check residues, then the de-offset date parts are columns
    of three nested projections, each computed once per row; binding them inside one
    expression (a lambda over a struct) runs three times slower in DuckDB, and inlining them
    ten times slower. The intermediate columns (prefixed ``__fnr_``) are dropped again.
    """
    col = f"({column_sql})"
    p, n, v = "__fnr_p_", "__fnr_n_", "__fnr_v_"
    digits = {f"{p}{i}": f"ascii(substr({col}, {i}, 1)) - 48" for i in range(1, LENGTH + 1)}

    def number(first: int, count: int) -> str:
        terms = [f"{10 ** (count - 1 - i)} * {p}{first + i}" for i in range(count)]
        return f"({' + '.join(terms)})"

    def residue(weights: tuple[int, ...]) -> str:
        """``(Σ weights·digits + next digit) mod 11``; both are 0 under the classic rule."""
        terms = [f"{w} * {p}{i + 1}" for i, w in enumerate(weights)]
        terms.append(f"{p}{len(weights) + 1}")
        return f"({' + '.join(terms)}) % {_MODULUS}"

    fields = {
        f"{n}dd": number(1, 2),
        f"{n}mm": number(3, 2),
        f"{n}yy": number(5, 2),
        f"{n}individual": number(7, 3),
        f"{n}r1": residue(K1_WEIGHTS),
        f"{n}r2": residue(K2_WEIGHTS),
    }
    month_offset_whens = " ".join(
        f"WHEN {n}mm >= {offset} THEN {offset}" for offset in _MONTH_OFFSETS
    )
    values = {
        f"{v}d_number": f"{n}dd >= {D_DAY_OFFSET}",
        f"{v}day": f"CASE WHEN {n}dd >= {D_DAY_OFFSET} THEN {n}dd - {D_DAY_OFFSET} ELSE {n}dd END",
        f"{v}month_offset": f"CASE {month_offset_whens} END",
        f"{v}century": _sql_century(f"{n}individual", f"{n}yy"),
    }
    month = f"({n}mm - {v}month_offset)"
    kind_ok = " OR ".join(
        f"({'' if has_d else 'NOT '}{v}d_number AND {v}month_offset = {offset})"
        for has_d, offset in _KINDS
    )
    residues_2032 = ", ".join(str(r) for r in _RULE_2032_K1_RESIDUES)
    checksum_ok = f"{n}r2 = 0 AND {n}r1 IN ({residues_2032})"
    # Explicit NULL test: inside days_in_month a NULL year would silently fall to ELSE 28.
    classic_date_ok = f"{v}century IS NOT NULL AND " + _sql_date_ok(
        f"{v}century + {n}yy", month, f"{v}day"
    )
    rule_2032_date_ok = " OR ".join(
        _sql_date_ok(f"{century} + {n}yy", month, f"{v}day") for century in _RULE_2032_CENTURIES
    )
    # A classic-checksum number with no classic birth date is judged as a new-style one.
    date_ok = f"({n}r1 = 0 AND {classic_date_ok}) OR ({rule_2032_date_ok})"
    verdict = (
        f"CASE WHEN {col} IS NULL OR {col} = '' THEN NULL"
        f" WHEN NOT regexp_matches({col}, '^[0-9]{{{LENGTH}}}$') THEN false"
        f" ELSE {checksum_ok} AND ({kind_ok}) AND ({date_ok}) END"
    )
    query = source_sql
    for layer in (digits, fields, values):
        columns = ", ".join(f"{expr} AS {name}" for name, expr in layer.items())
        query = f"(SELECT *, {columns} FROM {query})"
    helpers = ", ".join(name for layer in (digits, fields, values) for name in layer)
    return f"SELECT * EXCLUDE ({helpers}), {verdict} AS {alias} FROM {query}"
