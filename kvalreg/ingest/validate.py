"""The codebook's rules as SQL over a dump's records, with exact counts and safe examples.

Every rule becomes a pair of boolean SQL expressions (violated, in the denominator) over a
table of typed values (``t<i>``) with a flag per value whose text does not parse (see
:class:`Typed`). One aggregate query with ``GROUPING SETS`` then counts every rule for the whole
dump and per treating unit in a single scan, which keeps validation a small multiple of the
time DuckDB needs to read the file. Only rules that are violated cost a further query, for a
few examples.

Examples carry line, record and column; a value only for columns that are not identifiers
(the registry's key columns and anything named like a personal identification number).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date

import duckdb

from kvalreg.codebook.canonical import Variable, VarType
from kvalreg.dq.checks import Check
from kvalreg.fnr import sql_with_validity
from kvalreg.ingest.problems import Example, Problem
from kvalreg.ingest.reader import Records, lit, trimmed
from kvalreg.registry import Form, FormatHints, Registry

EXAMPLES_PER_PROBLEM = 3
IDENTIFIER_NAME = re.compile(r"(?i)(fnr|f(ø|o|oe)dsels?n(ummer|r)|personn(ummer|r)|ssn)")
TIME_FORMATS = ("%H:%M:%S", "%H:%M")
_INT_CODE = re.compile(r"[+-]?\d{1,18}")
FNR_VALID = "_fnr_valid"  # column of the fnr verdict in :func:`_checked`
ROW_HASH = "_row_hash"  # column of each record's hash in the typed table (duplicate check)


def identifier_columns(registry: Registry, form: Form) -> frozenset[str]:
    """Columns whose values must never appear in a report, log or result."""
    k = registry.keys
    named = {k.patient, k.episode, k.unit, k.fnr, k.event_date, k.registered, k.status}
    return frozenset(c for c in form.columns if c in named or IDENTIFIER_NAME.search(c))


def text_compared_columns(registry: Registry) -> frozenset[str]:
    """Key columns whose rules read the text as written (``resh_unknown`` against the RESH
    list, ``fnr_invalid``): :class:`TypingPlan` keeps their text beside the typed value."""
    return frozenset(c for c in (registry.keys.unit, registry.keys.fnr) if c)


def integer_codes(var: Variable) -> bool:
    return bool(var.values) and all(_INT_CODE.fullmatch(c.strip()) for c in var.values)


def sql_type(var: Variable) -> str:
    """The warehouse type of a variable (docs/architecture.md, raw schema)."""
    match var.type:
        case VarType.DATE:
            return "DATE"
        case VarType.DATETIME:
            return "TIMESTAMP"
        case VarType.TIME:
            return "TIME"
        case VarType.NUMERIC:
            return "BIGINT" if var.is_integer else "DOUBLE"
        case VarType.BOOLEAN:
            return "BOOLEAN"
        case VarType.CODED:
            return "BIGINT" if integer_codes(var) else "VARCHAR"
        case _:
            return "VARCHAR"


def _str_list(values: Sequence[str]) -> str:
    return "[" + ", ".join(lit(v) for v in values) + "]"


def _human_format(fmt: str) -> str:
    for code, human in (("%d", "dd"), ("%m", "mm"), ("%Y", "yyyy"), ("%H", "HH"), ("%M", "MM")):
        fmt = fmt.replace(code, human)
    return fmt.replace("%S", "SS")


def _int_cast(r: str) -> str:
    # An anchored regexp_matches runs about 1.3x faster than regexp_full_match in DuckDB 2.0;
    # RE2's ``$`` is the end of the text, so both accept exactly the same strings.
    return f"CASE WHEN regexp_matches({r}, '^[+-]?[0-9]{{1,18}}$') THEN CAST({r} AS BIGINT) END"


def _int_cast_untrimmed(u: str) -> str:
    """:func:`_int_cast` of the trimmed ``u``, mostly without trimming or a regular expression.

    DuckDB's cast accepts far more than the codebook's integers ('1.5' becomes 2, '1e3',
    '0x10', '1_000', tabs), so its value is taken only where the text is exactly the value's
    own decimal form (``-?[1-9][0-9]*`` or ``0``) of at most 18 digits, which the pattern
    matches too; any other text (spaces, leading zeros, '+') goes through :func:`_int_cast`.
    1M records, 16 integer columns, the parse alone: 0.59 s with the pattern on every value,
    0.25 s so; the whole typed read of that dump 2.87-2.97 s before, 2.71-2.83 s after.
    """
    value = f"TRY_CAST({u} AS BIGINT)"
    return (
        f"CASE WHEN CAST({value} AS VARCHAR) = {u} AND length({u}) <= 18 + "
        f"starts_with({u}, '-')::INT THEN {value} ELSE {_int_cast(trimmed(u))} END"
    )


def parse_sql(var: Variable, r: str, hints: FormatHints) -> tuple[str, str]:
    """SQL turning trimmed text ``r`` into the typed value (NULL if it does not parse), and a
    description of what a conforming value looks like, for messages."""
    match sql_type(var), var.type:
        case "DATE", _:
            fmts = hints.date_formats
            human = " or ".join(_human_format(f) for f in fmts)
            return f"CAST(try_strptime({r}, {_str_list(fmts)}) AS DATE)", f"a date in {human}"
        case "TIMESTAMP", _:
            fmts = hints.datetime_formats
            human = " or ".join(_human_format(f) for f in fmts)
            return f"try_strptime({r}, {_str_list(fmts)})", f"a date and time in {human}"
        case "TIME", _:
            human = " or ".join(_human_format(f) for f in TIME_FORMATS)
            return (
                f"CAST(try_strptime({r}, {_str_list(TIME_FORMATS)}) AS TIME)",
                f"a time in {human}",
            )
        case "BIGINT", VarType.CODED:
            return _int_cast(r), "an integer code"
        case "BIGINT", _:
            return _int_cast(r), "an integer"
        case "DOUBLE", _:
            d = re.escape(hints.decimal)
            pattern = lit(f"[+-]?[0-9]+({d}[0-9]+)?")
            value = f"replace({r}, {lit(hints.decimal)}, '.')" if hints.decimal != "." else r
            return (
                f"CASE WHEN regexp_full_match({r}, {pattern}) THEN CAST({value} AS DOUBLE) END",
                f"a number with decimal separator '{hints.decimal}'",
            )
        case "BOOLEAN", _:
            values = "/".join((*hints.true_values, *hints.false_values))
            # A simple CASE, not ``IN (...)``: DuckDB plans a long IN list as a join, and the
            # typed table would lose file order (see ``TypingPlan.select``).
            whens = [(v, "true") for v in hints.true_values]
            whens += [(v, "false") for v in hints.false_values]
            cases = " ".join(f"WHEN {lit(v)} THEN {b}" for v, b in whens)
            return f"CASE {r} {cases} END", f"one of {values}"
        case _:
            return r, "text"


@dataclass(frozen=True)
class TypedColumn:
    var: Variable
    typed: str  # column of the typed value
    sql_type: str
    expected: str  # what a conforming value looks like
    source: str  # scratch column of the trimmed text (``c<pos>``), for example values
    text: str | None  # column of the trimmed text in the typed table, if it is there
    bad: str | None  # column flagging text that does not parse; None for text variables

    @property
    def present(self) -> str:
        """SQL: the value is not empty, whether or not it parses."""
        if self.bad is None:
            return f"{self.typed} IS NOT NULL"
        return f"({self.typed} IS NOT NULL OR {self.bad})"


@dataclass(frozen=True)
class Typed:
    """The table validation and load both read (``table``, a view of ``records``): the
    ``_source_row``, the typed value ``t<i>`` per codebook variable, a ``_bad<i>`` flag per
    typed (non-text) variable whose text does not parse, the ``_uniq<i>`` flags, each record's
    hash, and the text ``r<i>`` only of the typed variables rules compare as text (unit,
    fnr); lines come from ``records.lines``.

    Built while the file is read (:meth:`TypingPlan.select`): parsing dates and numbers is the
    expensive part of validation, and the counts, the examples and the load all need the typed
    values. The text of every variable is not kept: a copy of it doubled the memory of a dump
    and, beyond DuckDB's memory bound, the time; reports read what they show from the file
    (``records.texts``)."""

    table: str
    records: Records
    columns: tuple[TypedColumn, ...]
    # A unique column none of whose values repeat: records repeating each other exactly can
    # only be among those where it is empty or does not parse (typed NULL).
    distinct_key: TypedColumn | None = None

    def column(self, name: str) -> TypedColumn | None:
        return next((c for c in self.columns if c.var.name == name), None)


@dataclass(frozen=True)
class TypingPlan:
    """How a form's columns become typed values; :func:`read_records` runs :meth:`select`."""

    columns: tuple[TypedColumn, ...]
    # SQL of t<i> over the trimmed text r<i>, or over the untrimmed text w<i> for the integer
    # columns in ``untrimmed`` (see :func:`_int_cast_untrimmed`).
    parsers: tuple[str, ...]
    untrimmed: frozenset[int] = frozenset()

    @classmethod
    def of(
        cls,
        form: Form,
        hints: FormatHints,
        positions: Mapping[str, int],
        keep_text: frozenset[str] = frozenset(),
    ) -> TypingPlan:
        """The plan for ``form``, whose columns sit at ``positions`` of the file; the text of
        the typed variables named in ``keep_text``, and of unique ones, is kept too."""
        cols: list[TypedColumn] = []
        parsers: list[str] = []
        untrimmed: set[int] = set()
        for i, var in enumerate(form.variables):
            parse, expected = parse_sql(var, f"r{i}", hints)
            kind = sql_type(var)
            if kind == "BIGINT" and var.name not in keep_text:
                untrimmed.add(i)
                parse = _int_cast_untrimmed(f"w{i}")
            text = f"t{i}" if kind == "VARCHAR" else (f"r{i}" if var.name in keep_text else None)
            bad = None if kind == "VARCHAR" else f"_bad{i}"
            source = f"c{positions[var.name]}"
            cols.append(TypedColumn(var, f"t{i}", kind, expected, source, text, bad))
            parsers.append(f"{parse} AS t{i}")
        return cls(tuple(cols), tuple(parsers), frozenset(untrimmed))

    def select(self, relation: str, carry: Sequence[str]) -> str:
        """The query over ``relation`` (text ``c<pos>`` trimmed, ``u<pos>`` as read) giving the
        typed table's rows in file order, keeping ``carry``. Only projections keep DuckDB's
        insertion order: no window, join, or anything the planner makes one (an ``IN`` list of
        six values was).

        The row hash covers the trimmed text, or the typed value where the text is not read
        trimmed: equal texts parse to equal values, so equal records still hash alike. The
        ``_uniq<i>`` flags start false; :meth:`typed` sets them where values repeat."""
        cols, raw = self.columns, self.untrimmed
        extra = "".join(f", {c}" for c in carry)
        texts = [f"w{i}" if i in raw else f"r{i}" for i in range(len(cols))]
        inner = ", ".join(
            f"u{c.source[1:]} AS {t}" if i in raw else f"{c.source} AS {t}"
            for (i, c), t in zip(enumerate(cols), texts, strict=True)
        )
        kept = "".join(f", r{i}" for i, c in enumerate(cols) if c.text == f"r{i}")
        bad = "".join(f", {self._unparsed(i)} AS {c.bad}" for i, c in enumerate(cols) if c.bad)
        uniq = "".join(f", false AS _uniq{i}" for i, c in enumerate(cols) if c.var.unique)
        typed = ", ".join(c.typed for c in cols)
        hashed = ", ".join(f"t{i}" if i in raw else f"r{i}" for i in range(len(cols)))
        return (
            f"SELECT {typed}{kept}{bad}{uniq}, hash({hashed}) AS {ROW_HASH}{extra} "
            f"FROM (SELECT {', '.join(texts)}, {', '.join(self.parsers)}{extra} "
            f"FROM (SELECT {inner}{extra} FROM {relation}))"
        )

    def _unparsed(self, i: int) -> str:
        """SQL: column ``i`` holds text that does not parse (trimmed only where it did not)."""
        if i in self.untrimmed:
            return f"CASE WHEN t{i} IS NULL THEN {trimmed(f'w{i}')} IS NOT NULL ELSE false END"
        return f"r{i} IS NOT NULL AND t{i} IS NULL"

    def typed(self, con: duckdb.DuckDBPyConnection, records: Records) -> Typed:
        """The typed table of ``records`` (read with :meth:`select`), uniqueness flagged.

        A unique column's values are compared as written. Equal texts parse to equal values
        (or both fail), so distinct typed values and at most one unparsable text prove there
        is no repeat, in a cheap aggregate over the typed column; only otherwise is the text
        read again and the window that finds each repeating record run.
        """
        unique = [(i, c) for i, c in enumerate(self.columns) if c.var.unique]
        if not unique:
            return Typed(records.view, records, self.columns)
        counts = ", ".join(
            f"count({c.typed}) - count(DISTINCT {c.typed}) + "
            + (f"greatest(count_if({c.bad}) - 1, 0)" if c.bad else "0")
            for _, c in unique
        )
        found = con.execute(f"SELECT {counts} FROM {records.table}").fetchone() or ()
        repeating = [c for (_, c), n in zip(unique, found, strict=True) if n]
        texts = records.texts(con, [c.source for c in repeating]) if repeating else ""
        for i, c in unique:
            if c in repeating:
                con.execute(
                    f"UPDATE {records.table} SET _uniq{i} = true WHERE rowid IN ("
                    f"SELECT _source_row - 1 FROM (SELECT _source_row, row_number() OVER "
                    f"(PARTITION BY {c.source} ORDER BY _source_row) AS k FROM {texts} "
                    f"WHERE {c.source} IS NOT NULL) WHERE k > 1)"
                )
        distinct = next((c for _, c in unique if c not in repeating), None)
        return Typed(records.view, records, self.columns, distinct)


@dataclass(frozen=True)
class ResultRow:
    """One row of ``dq.results`` before the check's metadata is attached."""

    check_id: str
    variable: str | None
    unit_resh: str | None  # None = the whole dump
    num_violated: int
    num_denominator: int
    pct: float | None
    status: str  # passed | failed | not_applicable | error


@dataclass(frozen=True)
class Validation:
    results: tuple[ResultRow, ...]
    problems: tuple[Problem, ...]
    duplicate_rows: int  # records exactly repeating an earlier one, in the whole dump


@dataclass(frozen=True)
class _Rule:
    check_id: str
    variable: str | None
    violated: str
    denominator: str
    describe: str  # "values not a date in ...", completed with the count
    example_column: str | None
    # Columns (``c<pos>``) whose text an example shows, joined by " > "; none for identifiers.
    shown: tuple[str, ...]


def _limit_sql(col: TypedColumn, value: float | str) -> str | None:
    if col.sql_type in ("BIGINT", "DOUBLE") and isinstance(value, float):
        return repr(value)
    if col.sql_type in ("DATE", "TIMESTAMP") and isinstance(value, str):
        return f"DATE '{date.fromisoformat(value).isoformat()}'"  # validated, so safe to inline
    return None


def _range_sql(col: TypedColumn, low: float | str | None, high: float | str | None) -> str | None:
    """SQL true when the typed value lies outside [low, high]; None if the codebook sets none."""
    parts = []
    if low is not None and (lo := _limit_sql(col, low)) is not None:
        parts.append(f"{col.typed} < {lo}")
    if high is not None and (hi := _limit_sql(col, high)) is not None:
        parts.append(f"{col.typed} > {hi}")
    return f"({' OR '.join(parts)})" if parts else None


def _fmt_limit(value: float | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _rules(
    typed: Typed,
    registry: Registry,
    form: Form,
    identifiers: frozenset[str],
    has_units: bool,
) -> list[_Rule]:
    rules: list[_Rule] = []

    def value_of(col: TypedColumn) -> tuple[str, ...]:
        return () if col.var.name in identifiers else (col.source,)

    for i, col in enumerate(typed.columns):
        v, t, present = col.var, col.typed, col.present
        name = v.name
        if col.bad is not None:
            rules.append(
                _Rule(
                    "type_conformance",
                    name,
                    col.bad,
                    present,
                    f"not {col.expected}",
                    name,
                    value_of(col),
                )
            )
        if v.mandatory:
            rules.append(
                _Rule(
                    "mandatory_missing",
                    name,
                    f"NOT {present}",
                    "true",
                    "empty in a mandatory column",
                    name,
                    (),
                )
            )
        if v.type is VarType.CODED and v.values:
            codes = list(v.values)
            if col.sql_type == "BIGINT":
                violated = (
                    f"{t} IS NOT NULL AND {t} NOT IN ({', '.join(str(int(c)) for c in codes)})"
                )
                denominator = f"{t} IS NOT NULL"
            else:  # text codes: the typed value is the text
                violated = f"{t} IS NOT NULL AND {t} NOT IN ({', '.join(lit(c) for c in codes)})"
                denominator = f"{t} IS NOT NULL"
            rules.append(
                _Rule(
                    "allowed_values",
                    name,
                    violated,
                    denominator,
                    f"not among the codes {', '.join(codes)}",
                    name,
                    value_of(col),
                )
            )
        hard = _range_sql(col, v.min, v.max)
        if hard:
            rules.append(
                _Rule(
                    "hard_limits",
                    name,
                    f"{t} IS NOT NULL AND {hard}",
                    f"{t} IS NOT NULL",
                    f"outside the valid range {_fmt_limit(v.min)}..{_fmt_limit(v.max)}",
                    name,
                    value_of(col),
                )
            )
        plausible = _range_sql(col, v.min_plausible, v.max_plausible)
        if plausible:
            within = (
                f"{t} IS NOT NULL AND NOT coalesce({hard}, false)" if hard else f"{t} IS NOT NULL"
            )
            rules.append(
                _Rule(
                    "plausibility_limits",
                    name,
                    f"{within} AND {plausible}",
                    within,
                    "outside the plausible range "
                    f"{_fmt_limit(v.min_plausible)}..{_fmt_limit(v.max_plausible)}",
                    name,
                    value_of(col),
                )
            )
        if v.unique:
            rules.append(
                _Rule(
                    "unique",
                    name,
                    f"_uniq{i}",
                    present,
                    "repeating a value of an earlier record (column must be unique)",
                    name,
                    value_of(col),
                )
            )
    fnr_col = typed.column(registry.keys.fnr) if registry.keys.fnr else None
    if fnr_col is not None:
        rules.append(
            _Rule(
                "fnr_invalid",
                fnr_col.var.name,
                f"{FNR_VALID} = false",
                fnr_col.present,
                "not a valid personal identification number",
                fnr_col.var.name,
                (),
            )
        )
    unit_col = typed.column(registry.keys.unit)
    if unit_col is not None and has_units:
        unit = _text(unit_col)
        rules.append(
            _Rule(
                "resh_unknown",
                unit_col.var.name,
                f"{unit} IS NOT NULL AND {unit} NOT IN (SELECT resh FROM temp._kv_known_units)",
                f"{unit} IS NOT NULL",
                "not a known RESH id",
                unit_col.var.name,
                (),
            )
        )
    for rule in registry.date_rules:
        early, late = typed.column(rule.earlier), typed.column(rule.later)
        if rule.form != form.name or early is None or late is None:
            continue
        shown: tuple[str, ...] = ()
        if early.var.name not in identifiers and late.var.name not in identifiers:
            shown = (early.source, late.source)
        rules.append(
            _Rule(
                "date_order",
                f"{rule.earlier}<={rule.later}",
                f"{early.typed} > {late.typed}",
                f"{early.typed} IS NOT NULL AND {late.typed} IS NOT NULL",
                f"with {rule.earlier} after {rule.later}",
                rule.earlier,
                shown,
            )
        )
    return rules


def validate(
    con: duckdb.DuckDBPyConnection,
    typed: Typed,
    registry: Registry,
    form: Form,
    *,
    known_units: frozenset[str],
    checks: Mapping[str, Check],
    file_name: str,
) -> Validation:
    """Count every rule per dump and per unit; turn violations into problems with examples.

    One scan of the typed table counts every rule for the whole dump and per unit at once;
    only violated rules cost one more (cheap, columnar) query each for their first examples.
    """
    identifiers = identifier_columns(registry, form)
    has_units = bool(known_units)
    if has_units:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _kv_known_units AS "
            "SELECT unnest(CAST(? AS VARCHAR[])) AS resh",
            [sorted(known_units)],
        )
    rules = _rules(typed, registry, form, identifiers, has_units)
    unit_col = typed.column(registry.keys.unit)
    unit = _text(unit_col) if unit_col is not None else "NULL"
    aggregates = "".join(
        f", count_if(coalesce({r.violated}, false)) AS v{k}"
        f", count_if(coalesce({r.denominator}, false)) AS d{k}"
        for k, r in enumerate(rules)
    )
    source = _checked(typed, registry)
    rows = con.execute(
        f"SELECT {_grouped('_unit', unit_col is not None)}, count(*) AS _n{aggregates} "
        f"FROM (SELECT {unit} AS _unit, * FROM {source}){_group_by('_unit', unit_col)}"
    ).fetchall()
    colliding = _hashes_collide(con, typed)
    # The text reports show, read from the file once: every column if records may repeat
    # exactly, else the columns of the violated rules' examples.
    shown = {c.source for c in typed.columns} if colliding else set()
    # The whole dump's cells (``v0, d0, v1, ...`` as in the loop below) sort first.
    whole_cells = rows[0][3:] if rows and rows[0][0] else ()
    for k, rule in enumerate(rules):
        if whole_cells and whole_cells[2 * k]:
            shown.update(rule.shown)
    texts = typed.records.texts(con, sorted(shown)) if shown else ""
    duplicates = _duplicates(con, typed, unit_col, texts) if colliding else {}
    results: list[ResultRow] = []
    problems: list[Problem] = []
    for whole, unit_value, n, *cells in rows:
        if not whole and unit_value is None:
            continue  # records without a unit are only part of the whole-dump row
        unit_resh = None if whole else str(unit_value)
        for k, rule in enumerate(rules):
            violated, denominator = int(cells[2 * k]), int(cells[2 * k + 1])
            row = _result(rule.check_id, rule.variable, unit_resh, violated, denominator, checks)
            results.append(row)
            if whole and violated:
                problems.append(
                    _problem(
                        rule.check_id,
                        rule.describe,
                        rule.example_column,
                        row,
                        _examples(con, typed, source, rule, texts),
                        checks,
                        file_name,
                    )
                )
        dup_row = _result(
            "duplicate_rows", None, unit_resh, duplicates.get(unit_resh, 0), int(n), checks
        )
        results.append(dup_row)
        if whole and dup_row.num_violated:
            problems.append(
                _problem(
                    "duplicate_rows",
                    "exactly repeating an earlier record",
                    None,
                    dup_row,
                    _duplicate_examples(con, typed, texts),
                    checks,
                    file_name,
                )
            )
    if unit_col is not None and not has_units:
        results.append(
            ResultRow("resh_unknown", unit_col.var.name, None, 0, 0, None, "not_applicable")
        )
    return Validation(tuple(results), tuple(problems), duplicates.get(None, 0))


def _grouped(unit: str, per_unit: bool) -> str:
    """Leading select items ``_whole, _unit``: per unit and for the whole dump, or only the
    latter when the form has no unit column (GROUPING() needs a group to refer to)."""
    return f"GROUPING({unit}) = 1 AS _whole, {unit}" if per_unit else "true AS _whole, NULL"


def _group_by(unit: str, unit_col: TypedColumn | None) -> str:
    if unit_col is None:
        return ""
    return f" GROUP BY GROUPING SETS ((), ({unit})) ORDER BY _whole DESC, {unit}"


def _hashes_collide(con: duckdb.DuckDBPyConnection, typed: Typed) -> bool:
    """Whether two records share a row hash, as equal records do.

    As many distinct hashes as records proves there is no duplicate: one pass over the 64-bit
    hash stored per record while the file was read, which is the usual case. Where a unique
    column has no repeating value, only the records where it is NULL can repeat each other
    (see ``Typed.distinct_key``), so only their hashes are compared: the distinct count over
    every hash of a 10M-record dump took 1.5 s.
    """
    key = typed.distinct_key
    where = f" WHERE {key.typed} IS NULL" if key is not None else ""
    found = con.execute(f"SELECT count(*) - count(DISTINCT {ROW_HASH}) FROM {typed.table}{where}")
    row = found.fetchone()
    return bool(row and row[0])


def _duplicates(
    con: duckdb.DuckDBPyConnection, typed: Typed, unit_col: TypedColumn | None, texts: str
) -> dict[str | None, int]:
    """Records repeating an earlier record exactly, per unit (key None = whole dump), counted
    by a hash aggregate over the ``texts`` of every column (about twice as fast as a window;
    the window runs only to find examples)."""
    cols = ", ".join(c.source for c in typed.columns)
    unit = unit_col.source if unit_col is not None else "NULL"
    found = con.execute(
        f"SELECT {_grouped('_unit', unit_col is not None)}, coalesce(sum(n - 1), 0) FROM ("
        f"SELECT {unit} AS _unit, count(*) AS n FROM {texts} GROUP BY {cols}"
        f") WHERE n > 1{_group_by('_unit', unit_col)}"
    ).fetchall()
    return {None if whole else str(u): int(n) for whole, u, n in found if whole or u is not None}


def _checked(typed: Typed, registry: Registry) -> str:
    """The typed table, with the fnr verdict as column ``_fnr_valid`` if the form has an fnr."""
    fnr_col = typed.column(registry.keys.fnr) if registry.keys.fnr else None
    if fnr_col is None:
        return typed.table
    return f"({sql_with_validity(typed.table, _text(fnr_col), FNR_VALID)})"


def _text(col: TypedColumn) -> str:
    if col.text is None:
        raise ValueError(f"{col.var.name}: its text is not in the typed table (keep_text)")
    return col.text


def _examples(
    con: duckdb.DuckDBPyConnection, typed: Typed, source: str, rule: _Rule, texts: str
) -> tuple[Example, ...]:
    first = (
        f"SELECT _source_row FROM {source} WHERE coalesce({rule.violated}, false) "
        f"ORDER BY _source_row LIMIT {EXAMPLES_PER_PROBLEM}"
    )
    if not rule.shown:
        examples = f"SELECT _source_row, NULL AS _value FROM ({first})"
    else:  # the text as written, for these few records only
        value = " || ' > ' || ".join(rule.shown)
        examples = (
            f"SELECT x._source_row, CAST({value} AS VARCHAR) AS _value "
            f"FROM ({first}) AS x JOIN {texts} AS s ON s._source_row = x._source_row"
        )
    found = con.execute(_with_lines(typed, examples)).fetchall()
    return tuple(
        Example(
            line=int(line),
            record=int(rec),
            column=rule.example_column,
            value=val if rule.shown else None,
        )
        for line, rec, val in found
    )


def _duplicate_examples(
    con: duckdb.DuckDBPyConnection, typed: Typed, texts: str
) -> tuple[Example, ...]:
    cols = ", ".join(c.source for c in typed.columns)
    found = con.execute(
        _with_lines(
            typed,
            f"SELECT _source_row, NULL AS _value FROM (SELECT _source_row, row_number() OVER "
            f"(PARTITION BY {cols} ORDER BY _source_row) AS k FROM {texts}) "
            f"WHERE k > 1 ORDER BY _source_row LIMIT {EXAMPLES_PER_PROBLEM}",
        )
    ).fetchall()
    return tuple(Example(line=int(line), record=int(rec)) for line, rec, _ in found)


def _with_lines(typed: Typed, examples: str) -> str:
    """``examples`` (a few rows of ``_source_row, _value``) with each record's line first."""
    lines = typed.records.lines
    return (
        f"SELECT {lines.line('e')}, e._source_row, e._value FROM ({examples}) AS e"
        f"{lines.join('e')} ORDER BY e._source_row"
    )


def _result(
    check_id: str,
    variable: str | None,
    unit: str | None,
    violated: int,
    denominator: int,
    checks: Mapping[str, Check],
) -> ResultRow:
    if denominator == 0:
        return ResultRow(check_id, variable, unit, violated, 0, None, "not_applicable")
    pct = 100.0 * violated / denominator
    status = "passed" if checks[check_id].passes(pct) else "failed"
    return ResultRow(check_id, variable, unit, violated, denominator, pct, status)


def _problem(
    check_id: str,
    describe: str,
    column: str | None,
    row: ResultRow,
    examples: tuple[Example, ...],
    checks: Mapping[str, Check],
    file_name: str,
) -> Problem:
    check = checks[check_id]
    pct = row.pct or 0.0
    noun = "record" if check_id in ("duplicate_rows", "date_order") else "value"
    plural = "" if row.num_violated == 1 else "s"
    message = (
        f"{row.num_violated} {noun}{plural} {describe} "
        f"({pct:.2f} % of {row.num_denominator}; tolerated {check.threshold_pct:g} %)"
    )
    return Problem(
        check_id=check_id,
        severity=check.severity_for(pct),
        message=message,
        file=file_name,
        column=column,
        line=examples[0].line if examples else None,
        count=row.num_violated,
        examples=examples,
    )
