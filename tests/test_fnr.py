"""Tests for kvalreg.fnr.

Expected values come from a small reference implementation written here with plain loops
straight from the rule text (domain.md §3), deliberately sharing no code or constants with the
module, so a mistake in ``kvalreg.fnr`` cannot cancel itself out.
"""

from __future__ import annotations

import calendar
import itertools
from collections.abc import Iterator
from datetime import date

import duckdb
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from kvalreg import fnr
from kvalreg.fnr import IdKind, PersonId, Rule

# --- reference implementation (straight from the rule text) ----------------------------------

REF_W1 = [3, 7, 6, 1, 8, 9, 4, 5, 2]
REF_W2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]

# kind -> (day offset, month offset)
REF_OFFSETS = {
    IdKind.FNR: (0, 0),
    IdKind.DNR: (40, 0),
    IdKind.HNR: (0, 40),
    IdKind.TENOR: (0, 80),
    IdKind.TENOR_DNR: (40, 80),
}


def ref_check_digits(first9: str) -> tuple[int, int] | None:
    """Classic rule: k = 11 - (sum mod 11), 11 -> 0, 10 -> no valid number."""
    digits = [int(c) for c in first9]
    checks = []
    for weights in (REF_W1, REF_W2):
        total = 0
        for i in range(len(weights)):
            total += weights[i] * digits[i]
        k = 11 - total % 11
        if k == 11:
            k = 0
        if k == 10:
            return None
        digits.append(k)
        checks.append(k)
    return checks[0], checks[1]


def ref_residues(number: str) -> tuple[int, int]:
    """(Σw1·d + k1) mod 11 and (Σw2·d + k2) mod 11."""
    total1 = int(number[9])
    for i in range(9):
        total1 += REF_W1[i] * int(number[i])
    total2 = int(number[10])
    for i in range(10):
        total2 += REF_W2[i] * int(number[i])
    return total1 % 11, total2 % 11


def ref_passes_classic(number: str) -> bool:
    return ref_check_digits(number[:9]) == (int(number[9]), int(number[10]))


def ref_passes_2032(number: str) -> bool:
    r1, r2 = ref_residues(number)
    return r1 in (0, 1, 2, 3) and r2 == 0


def ref_century(individual: int, yy: int) -> int | None:
    if 0 <= individual <= 499:
        return 1900
    if 500 <= individual <= 749 and yy >= 54:
        return 1800
    if 500 <= individual <= 999 and yy < 40:
        return 2000
    if 900 <= individual <= 999 and yy >= 40:
        return 1900
    return None


def ref_individual_ranges(year: int) -> list[range]:
    """Individual numbers allocated to a birth year, read off the century table."""
    if 1854 <= year <= 1899:
        return [range(500, 750)]
    if 1900 <= year <= 1939:
        return [range(0, 500)]
    if 1940 <= year <= 1999:
        return [range(0, 500), range(900, 1000)]
    if 2000 <= year <= 2039:
        return [range(500, 1000)]
    return []


def ref_real_date(year: int, month: int, day: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]


def ref_parse(value: str) -> tuple[IdKind, Rule, date | None] | None:
    if len(value) != 11 or any(c not in "0123456789" for c in value):
        return None
    if ref_passes_classic(value):
        rule = Rule.CLASSIC
    elif ref_passes_2032(value):
        rule = Rule.RULE_2032
    else:
        return None
    dd, mm, yy, individual = int(value[0:2]), int(value[2:4]), int(value[4:6]), int(value[6:9])
    for kind, (day_offset, month_offset) in REF_OFFSETS.items():
        day, month = dd - day_offset, mm - month_offset
        if not (1 <= day <= 31 and 1 <= month <= 12):
            continue
        if rule is Rule.CLASSIC:
            century = ref_century(individual, yy)
            if century is not None and ref_real_date(century + yy, month, day):
                return kind, rule, date(century + yy, month, day)
        # 2032 rule, or a classic checksum without a classic birth date: a new-style number
        if ref_real_date(1900 + yy, month, day) or ref_real_date(2000 + yy, month, day):
            return kind, Rule.RULE_2032, None
        return None
    return None


def complete_2032_only(first9: str) -> list[str]:
    """Every completion valid under the 2032 rule but not the classic one."""
    total1 = 0
    for i in range(9):
        total1 += REF_W1[i] * int(first9[i])
    total2 = 0
    for i in range(9):
        total2 += REF_W2[i] * int(first9[i])
    out = []
    for k1 in range(10):
        if (total1 + k1) % 11 not in (1, 2, 3):  # residue 0 would be the classic rule
            continue
        k2 = -(total2 + REF_W2[9] * k1) % 11
        if k2 <= 9:
            number = f"{first9}{k1}{k2}"
            assert ref_passes_2032(number) and not ref_passes_classic(number)
            out.append(number)
    return out


def classic(prefix6: str, individuals: range) -> str:
    """The first classic-valid number with this date part and an individual number in range."""
    for individual in individuals:
        first9 = f"{prefix6}{individual:03d}"
        check = ref_check_digits(first9)
        if check is not None:
            return f"{first9}{check[0]}{check[1]}"
    raise AssertionError("no check digits in range")


def new_only(prefix6: str, individuals: range) -> str:
    """The first number valid only under the 2032 rule with this date part."""
    for individual in individuals:
        numbers = complete_2032_only(f"{prefix6}{individual:03d}")
        if numbers:
            return numbers[0]
    raise AssertionError("no 2032-only completion in range")


# --- strategies -------------------------------------------------------------------------------


@st.composite
def valid_ids(draw: st.DrawFn) -> tuple[str, IdKind, Rule, date | None]:
    """A valid number of any kind under either rule, with what parse() must say about it."""
    kind = draw(st.sampled_from(list(IdKind)))
    rule = draw(st.sampled_from(list(Rule)))
    day_offset, month_offset = REF_OFFSETS[kind]
    if rule is Rule.CLASSIC:
        birth = draw(st.dates(date(1854, 1, 1), date(2039, 12, 31)))
        individual = draw(
            st.sampled_from(ref_individual_ranges(birth.year)).flatmap(st.sampled_from)
        )
    else:
        # A real date in 1900+yy or 2000+yy; no century information is kept.
        birth = draw(st.dates(date(1900, 1, 1), date(2099, 12, 31)))
        individual = draw(st.integers(0, 999))
    first9 = (
        f"{birth.day + day_offset:02d}{birth.month + month_offset:02d}"
        f"{birth.year % 100:02d}{individual:03d}"
    )
    if rule is Rule.CLASSIC:
        check = ref_check_digits(first9)
        assume(check is not None)
        assert check is not None
        return f"{first9}{check[0]}{check[1]}", kind, rule, birth
    candidates = complete_2032_only(first9)
    assume(candidates)
    return draw(st.sampled_from(candidates)), kind, rule, None


@st.composite
def valid_classic(draw: st.DrawFn) -> str:
    number, _, rule, _ = draw(valid_ids())
    assume(rule is Rule.CLASSIC)
    return number


eleven_digits = st.text(alphabet="0123456789", min_size=11, max_size=11)
near_misses = st.text(alphabet="0123456789 a\u0663\uff11", min_size=10, max_size=12)
any_input = st.one_of(
    valid_ids().map(lambda t: t[0]), eleven_digits, near_misses, st.text(max_size=15), st.none()
)

# --- constants and reference self-checks -----------------------------------------------------


def test_weights_match_rule_text() -> None:
    assert list(fnr.K1_WEIGHTS) == REF_W1
    assert list(fnr.K2_WEIGHTS) == REF_W2


def test_2032_example_is_what_the_rule_text_says() -> None:
    # Guards the reference itself: the documented example must pass only the new rule.
    assert ref_passes_2032("30108299939")
    assert not ref_passes_classic("30108299939")


@given(st.text(alphabet="0123456789", min_size=9, max_size=9))
def test_classic_check_digits_match_reference(first9: str) -> None:
    assert fnr.classic_check_digits(first9) == ref_check_digits(first9)


@pytest.mark.parametrize("bad", ["", "12345678", "1234567890", "12345678a", "12345678\u0663"])
def test_classic_check_digits_rejects_malformed_prefix(bad: str) -> None:
    with pytest.raises(ValueError):
        fnr.classic_check_digits(bad)


def test_classic_check_digits_none_when_a_check_digit_would_be_10() -> None:
    first9 = next(
        f"01019{i:04d}" for i in range(10_000) if ref_check_digits(f"01019{i:04d}") is None
    )
    assert fnr.classic_check_digits(first9) is None


# --- known values -----------------------------------------------------------------------------


def test_2032_example() -> None:
    assert fnr.is_valid("30108299939")
    assert fnr.parse("30108299939") == PersonId(IdKind.FNR, Rule.RULE_2032, None)


@pytest.mark.parametrize(
    ("number", "kind", "birth"),
    [
        (classic("010190", range(500)), IdKind.FNR, date(1990, 1, 1)),
        (classic("410190", range(500)), IdKind.DNR, date(1990, 1, 1)),
        (classic("710190", range(500)), IdKind.DNR, date(1990, 1, 31)),
        (classic("014190", range(500)), IdKind.HNR, date(1990, 1, 1)),
        (classic("015290", range(500)), IdKind.HNR, date(1990, 12, 1)),
        (classic("018190", range(500)), IdKind.TENOR, date(1990, 1, 1)),
        (classic("019290", range(500)), IdKind.TENOR, date(1990, 12, 1)),
        (classic("418190", range(500)), IdKind.TENOR_DNR, date(1990, 1, 1)),
        (classic("150660", range(500, 750)), IdKind.FNR, date(1860, 6, 15)),
        (classic("150654", range(500, 750)), IdKind.FNR, date(1854, 6, 15)),
        (classic("150610", range(500, 750)), IdKind.FNR, date(2010, 6, 15)),
        (classic("150610", range(900, 1000)), IdKind.FNR, date(2010, 6, 15)),
        (classic("150639", range(750, 900)), IdKind.FNR, date(2039, 6, 15)),
        (classic("150645", range(900, 1000)), IdKind.FNR, date(1945, 6, 15)),
        (classic("150645", range(500)), IdKind.FNR, date(1945, 6, 15)),
        (classic("150610", range(500)), IdKind.FNR, date(1910, 6, 15)),
        (classic("290200", range(500, 1000)), IdKind.FNR, date(2000, 2, 29)),
        (classic("290296", range(500)), IdKind.FNR, date(1996, 2, 29)),
        (classic("698200", range(500, 1000)), IdKind.TENOR_DNR, date(2000, 2, 29)),
    ],
)
def test_valid_classic(number: str, kind: IdKind, birth: date) -> None:
    assert fnr.parse(number) == PersonId(kind, Rule.CLASSIC, birth)
    assert fnr.is_valid(number)
    assert fnr.classic_check_digits(number[:9]) == (int(number[9]), int(number[10]))


@pytest.mark.parametrize(
    ("number", "kind"),
    [
        (new_only("290200", range(500)), IdKind.FNR),  # 2000 is a leap year
        (new_only("290204", range(1000)), IdKind.FNR),
        (new_only("150645", range(600, 750)), IdKind.FNR),  # no classic century, still fine
        (new_only("150645", range(750, 900)), IdKind.FNR),
        (new_only("410190", range(1000)), IdKind.DNR),
        (new_only("014190", range(1000)), IdKind.HNR),
        (new_only("018190", range(1000)), IdKind.TENOR),
        (new_only("418190", range(1000)), IdKind.TENOR_DNR),
    ],
)
def test_valid_2032_only(number: str, kind: IdKind) -> None:
    assert fnr.parse(number) == PersonId(kind, Rule.RULE_2032, None)


@pytest.mark.parametrize(
    "number",
    [
        classic("150645", range(500, 750)),  # no classic century for 500-749 with yy 40-53
        classic("150653", range(500, 750)),
        classic("150640", range(750, 900)),  # no classic century for 750-899 with yy >= 40
        classic("290200", range(500)),  # 29.02.1900 does not exist, 29.02.2000 does
    ],
)
def test_classic_checksum_without_classic_century_is_a_new_style_number(number: str) -> None:
    """From 2032 a new number can pass the classic check by chance; it must not be rejected."""
    assert ref_passes_classic(number)
    assert fnr.parse(number) == PersonId(IdKind.FNR, Rule.RULE_2032, None)


@pytest.mark.parametrize(
    "number",
    [
        classic("310290", range(500)),  # 31 February
        classic("300290", range(500)),
        classic("310490", range(500)),  # 31 April
        classic("290290", range(500)),  # 1990 is no leap year
        classic("011390", range(500)),  # month 13
        classic("015390", range(500)),  # H: month 13 after offset
        classic("019390", range(500)),  # Tenor: month 13 after offset
        classic("010090", range(500)),  # month 0
        classic("014090", range(500)),  # H: month 0 after offset
        classic("018090", range(500)),  # Tenor: month 0 after offset
        classic("016090", range(500)),  # month 60: no such offset
        classic("000190", range(500)),  # day 0
        classic("400190", range(500)),  # D: day 0 after offset
        classic("320190", range(500)),  # day 32
        classic("720190", range(500)),  # D: day 32 after offset
        classic("810190", range(500)),  # day 81
        classic("414190", range(500)),  # D + H does not exist
        new_only("310290", range(1000)),
        new_only("290201", range(1000)),  # neither 1901 nor 2001 is a leap year
        new_only("011390", range(1000)),
        new_only("414190", range(1000)),
    ],
)
def test_invalid_date_or_kind(number: str) -> None:
    assert ref_passes_2032(number)  # the check digits are fine: the date is what fails
    assert fnr.parse(number) is None
    assert not fnr.is_valid(number)


def _swap_last_digit(number: str) -> str:
    return number[:10] + str((int(number[10]) + 1) % 10)


def _to_arabic_indic(number: str) -> str:
    return number.translate({ord("0") + i: 0x0660 + i for i in range(10)})


VALID = classic("010190", range(500))


@pytest.mark.parametrize(
    "value",
    [
        _swap_last_digit(VALID),
        _swap_last_digit("30108299939"),
        "",
        VALID[:10],
        VALID + "0",
        " " + VALID[1:],
        VALID[:10] + "a",
        "abcdefghijk",
        _to_arabic_indic(VALID),  # str.isdigit() is true for these
        "00000000000",
    ],
)
def test_invalid_format_or_check_digits(value: str) -> None:
    assert fnr.parse(value) is None
    assert not fnr.is_valid(value)


def test_repr_reveals_no_digits() -> None:
    for number in (VALID, "30108299939", classic("698200", range(500, 1000))):
        person = fnr.parse(number)
        assert person is not None
        assert not any(c.isdigit() for c in repr(person))
        assert not any(c.isdigit() for c in str(person))


# --- make_tenor -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("birth", "individual"),
    [
        (date(1990, 1, 1), 600),
        (date(1990, 1, 1), 800),
        (date(2000, 1, 1), 100),
        (date(1870, 1, 1), 100),
        (date(1850, 1, 1), 600),  # before any allocated century
        (date(2040, 1, 1), 600),
        (date(1990, 1, 1), -1),
        (date(1990, 1, 1), 1000),
    ],
)
def test_make_tenor_rejects_individual_outside_century(birth: date, individual: int) -> None:
    with pytest.raises(ValueError):
        fnr.make_tenor(birth, individual)


def test_make_tenor_none_when_no_check_digits() -> None:
    individual = next(i for i in range(500) if ref_check_digits(f"018190{i:03d}") is None)
    assert fnr.make_tenor(date(1990, 1, 1), individual) is None


@st.composite
def births_with_individual(draw: st.DrawFn) -> tuple[date, int]:
    birth = draw(st.dates(date(1854, 1, 1), date(2039, 12, 31)))
    ranges = ref_individual_ranges(birth.year)
    return birth, draw(st.sampled_from(ranges).flatmap(st.sampled_from))


@given(births_with_individual(), st.booleans())
def test_make_tenor_round_trips(birth_individual: tuple[date, int], dnr: bool) -> None:
    birth, individual = birth_individual
    number = fnr.make_tenor(birth, individual, dnr=dnr)
    first9 = (
        f"{birth.day + (40 if dnr else 0):02d}{birth.month + 80:02d}"
        f"{birth.year % 100:02d}{individual:03d}"
    )
    check = ref_check_digits(first9)
    if check is None:
        assert number is None
        return
    assert number == f"{first9}{check[0]}{check[1]}"
    kind = IdKind.TENOR_DNR if dnr else IdKind.TENOR
    assert fnr.parse(number) == PersonId(kind, Rule.CLASSIC, birth)


# --- properties -------------------------------------------------------------------------------


@given(valid_ids())
def test_generated_valid_numbers_parse(case: tuple[str, IdKind, Rule, date | None]) -> None:
    number, kind, rule, birth = case
    assert fnr.parse(number) == PersonId(kind, rule, birth)


@given(valid_classic(), st.integers(0, 10), st.integers(1, 9))
def test_single_digit_change_breaks_classic_rule(number: str, position: int, delta: int) -> None:
    new_digit = (int(number[position]) + delta) % 10
    mutated = f"{number[:position]}{new_digit}{number[position + 1 :]}"
    assert not ref_passes_classic(mutated)
    assert fnr.classic_check_digits(mutated[:9]) != (int(mutated[9]), int(mutated[10]))
    parsed = fnr.parse(mutated)
    # It may still be a valid 2032-rule number (with a real date); nothing else.
    assert parsed is None or parsed.rule is Rule.RULE_2032
    if not ref_passes_2032(mutated):
        assert parsed is None


@given(st.one_of(eleven_digits, near_misses, st.text(max_size=15)))
def test_parse_matches_reference(value: str) -> None:
    expected = ref_parse(value)
    assert fnr.parse(value) == (None if expected is None else PersonId(*expected))


# --- SQL --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def con() -> Iterator[duckdb.DuckDBPyConnection]:
    connection = duckdb.connect()
    yield connection
    connection.close()


def sql_verdicts(con: duckdb.DuckDBPyConnection, values: list[str | None]) -> list[bool | None]:
    """sql_with_validity over ``values`` in one query, in input order."""
    source = "(SELECT unnest($1::INTEGER[]) AS i, unnest($2::VARCHAR[]) AS v)"
    rows = con.execute(
        f"SELECT i, ok FROM ({fnr.sql_with_validity(source, 'v', 'ok')}) ORDER BY i",
        [list(range(len(values))), values],
    ).fetchall()
    return [verdict for _, verdict in rows]


def python_verdicts(values: list[str | None]) -> list[bool | None]:
    return [None if v is None or v == "" else fnr.is_valid(v) for v in values]


@settings(max_examples=60, deadline=None)
@given(st.lists(any_input, min_size=1, max_size=300))
def test_sql_agrees_with_python(con: duckdb.DuckDBPyConnection, values: list[str | None]) -> None:
    assert sql_verdicts(con, values) == python_verdicts(values)


def boundary_grid() -> list[str]:
    """Every field at and around its boundaries, each prefix with its classic completion and
    all its 2032-only completions: the cases random sampling rarely hits."""
    days = [0, 1, 28, 29, 30, 31, 32, 39, 40, 41, 68, 69, 70, 71, 72, 80, 81, 99]
    months = [
        0,
        1,
        2,
        4,
        6,
        9,
        11,
        12,
        13,
        39,
        40,
        41,
        42,
        51,
        52,
        53,
        79,
        80,
        81,
        82,
        91,
        92,
        93,
        99,
    ]
    years = [0, 4, 39, 40, 53, 54, 96, 99]
    individuals = [0, 499, 500, 749, 750, 899, 900, 999]
    out = []
    for dd, mm, yy, individual in itertools.product(days, months, years, individuals):
        first9 = f"{dd:02d}{mm:02d}{yy:02d}{individual:03d}"
        check = ref_check_digits(first9)
        if check is not None:
            out.append(f"{first9}{check[0]}{check[1]}")
        out.extend(complete_2032_only(first9))
    return out


def test_boundary_grid_python_sql_and_reference_agree(con: duckdb.DuckDBPyConnection) -> None:
    values: list[str | None] = list(boundary_grid())
    python = python_verdicts(values)
    assert sum(bool(v) for v in python) > 1000  # the grid really exercises valid numbers
    assert python == [ref_parse(v) is not None for v in values if v is not None]
    assert sql_verdicts(con, values) == python


def test_sql_null_and_empty_are_null(con: duckdb.DuckDBPyConnection) -> None:
    assert sql_verdicts(con, [None, "", "30108299939", "x"]) == [None, None, True, False]
