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
from kvalreg.ingest.reader import Scratch
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
    list, ``fnr_invalid``): :func:`build_typed` keeps their text beside the typed value."""
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


def lit(text: str) -> str:
    """A SQL string literal; codebook and hint text is data, never SQL."""
    return "'" + text.replace("'", "''") + "'"


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
            return (
                f"CASE WHEN {r} IN ({', '.join(lit(v) for v in hints.true_values)}) THEN true "
                f"WHEN {r} IN ({', '.join(lit(v) for v in hints.false_values)}) THEN false END",
                f"one of {values}",
            )
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
    """The table validation and load both read: ``_source_row``, the typed value ``t<i>`` per
    codebook variable, a ``_bad<i>`` flag per typed (non-text) variable whose text does not
    parse, the ``_uniq<i>`` flags, and the text ``r<i>`` only of the typed variables rules
    compare as text (unit, fnr); lines come from ``scratch.lines``.

    Materialised once because parsing dates and numbers is the expensive part of validation,
    and the counts, the examples and the load all need the typed values. The text of every
    variable stays in the scratch table (examples read it from there): a second copy of it
    here doubled the memory of a dump and, beyond DuckDB's memory bound, the time."""

    table: str
    scratch: Scratch
    columns: tuple[TypedColumn, ...]
    positions: Mapping[str, int]  # codebook name -> scratch column index

    def column(self, name: str) -> TypedColumn | None:
        return next((c for c in self.columns if c.var.name == name), None)


def build_typed(
    con: duckdb.DuckDBPyConnection,
    scratch: Scratch,
    form: Form,
    hints: FormatHints,
    positions: Mapping[str, int],
    table: str,
    keep_text: frozenset[str] = frozenset(),
) -> Typed:
    """Materialise typed values, parse failures, uniqueness flags and each record's hash (of
    its text, for the duplicate check); the text of the typed variables named in
    ``keep_text`` is kept too. Rows are in no particular order (a 200k-row dump came out
    rotated): each carries its ``_source_row``, and readers that need file order sort by it."""
    cols: list[TypedColumn] = []
    parsers: list[str] = []
    for i, var in enumerate(form.variables):
        parse, expected = parse_sql(var, f"r{i}", hints)
        kind = sql_type(var)
        text = f"t{i}" if kind == "VARCHAR" else (f"r{i}" if var.name in keep_text else None)
        bad = None if kind == "VARCHAR" else f"_bad{i}"
        cols.append(TypedColumn(var, f"t{i}", kind, expected, f"c{positions[var.name]}", text, bad))
        parsers.append(f"{parse} AS t{i}")
    inner = ", ".join(f"c{positions[c.var.name]} AS r{i}" for i, c in enumerate(cols))
    repeated = _repeating(
        con, scratch, [(i, positions[c.var.name]) for i, c in enumerate(cols) if c.var.unique]
    )
    uniq = "".join(
        f", CASE WHEN r{i} IS NULL THEN false ELSE row_number() OVER "
        f"(PARTITION BY r{i} ORDER BY _source_row) > 1 END AS _uniq{i}"
        if i in repeated
        else f", false AS _uniq{i}"
        for i, c in enumerate(cols)
        if c.var.unique
    )
    kept = "".join(f", r{i}" for i, c in enumerate(cols) if c.text == f"r{i}")
    bad = "".join(
        f", r{i} IS NOT NULL AND t{i} IS NULL AS {c.bad}" for i, c in enumerate(cols) if c.bad
    )
    typed = ", ".join(c.typed for c in cols)
    texts = ", ".join(f"r{i}" for i in range(len(cols)))
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {table} AS
        SELECT _source_row, {typed}{kept}{bad}{uniq}, hash({texts}) AS {ROW_HASH}
        FROM (SELECT _source_row, {texts}, {", ".join(parsers)}
              FROM (SELECT _source_row, {inner} FROM {scratch.view}))"""
    )
    return Typed(table, scratch, tuple(cols), dict(positions))


def _repeating(
    con: duckdb.DuckDBPyConnection, scratch: Scratch, unique: Sequence[tuple[int, int]]
) -> frozenset[int]:
    """Which unique columns (variable index, scratch position) repeat a value at all.

    A distinct count is a cheap hash aggregate; the window that flags each repeating record
    (and sorts the table by its value) runs only for a column where it will find something.
    """
    if not unique:
        return frozenset()
    counts = ", ".join(f"count(c{p}) - count(DISTINCT c{p})" for _, p in unique)
    found = con.execute(f"SELECT {counts} FROM {scratch.table}").fetchone() or ()
    return frozenset(i for (i, _), n in zip(unique, found, strict=True) if n)


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
    # SQL over the scratch table's text columns (``c<pos>``) for the example value; None for
    # identifiers.
    example_value: str | None


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

    def value_of(col: TypedColumn) -> str | None:
        return None if col.var.name in identifiers else col.source

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
                    None,
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
                None,
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
                None,
            )
        )
    for rule in registry.date_rules:
        early, late = typed.column(rule.earlier), typed.column(rule.later)
        if rule.form != form.name or early is None or late is None:
            continue
        shown = None
        if early.var.name not in identifiers and late.var.name not in identifiers:
            shown = f"{early.source} || ' > ' || {late.source}"
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
    duplicates = _duplicates(con, typed, unit_col)
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
                        _examples(con, typed, source, rule),
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
                    _duplicate_examples(con, typed),
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


def _duplicates(
    con: duckdb.DuckDBPyConnection, typed: Typed, unit_col: TypedColumn | None
) -> dict[str | None, int]:
    """Records repeating an earlier record, per unit (key None = whole dump).

    Equal records have equal row hashes, so as many distinct hashes as records proves there
    is no duplicate: one pass over the 64-bit hash build_typed stored per record (hashing
    there, where the text is read anyway, spares a pass over every text column: 10M rows
    12.3 s), which is the usual case. Only otherwise the exact hash aggregate over all columns
    counts them (about twice as fast as a window); the window runs only to find examples.
    """
    cols = ", ".join(f"c{typed.positions[c.var.name]}" for c in typed.columns)
    unit = f"c{typed.positions[unit_col.var.name]}" if unit_col is not None else "NULL"
    colliding = con.execute(
        f"SELECT count(*) - count(DISTINCT {ROW_HASH}) FROM {typed.table}"
    ).fetchone()
    if not colliding or not colliding[0]:
        return {}
    found = con.execute(
        f"SELECT {_grouped('_unit', unit_col is not None)}, coalesce(sum(n - 1), 0) FROM ("
        f"SELECT {unit} AS _unit, count(*) AS n FROM {typed.scratch.table} GROUP BY {cols}"
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
    con: duckdb.DuckDBPyConnection, typed: Typed, source: str, rule: _Rule
) -> tuple[Example, ...]:
    first = (
        f"SELECT _source_row FROM {source} WHERE coalesce({rule.violated}, false) "
        f"ORDER BY _source_row LIMIT {EXAMPLES_PER_PROBLEM}"
    )
    if rule.example_value is None:
        examples = f"SELECT _source_row, NULL AS _value FROM ({first})"
    else:  # the text as written, from the scratch table, for these few records only
        examples = (
            f"SELECT x._source_row, CAST({rule.example_value} AS VARCHAR) AS _value "
            f"FROM ({first}) AS x JOIN {typed.scratch.view} AS s ON s._source_row = x._source_row"
        )
    found = con.execute(_with_lines(typed, examples)).fetchall()
    return tuple(
        Example(
            line=int(line),
            record=int(rec),
            column=rule.example_column,
            value=None if rule.example_value is None else val,
        )
        for line, rec, val in found
    )


def _duplicate_examples(con: duckdb.DuckDBPyConnection, typed: Typed) -> tuple[Example, ...]:
    cols = ", ".join(c.source for c in typed.columns)
    found = con.execute(
        _with_lines(
            typed,
            f"SELECT _source_row, NULL AS _value FROM (SELECT _source_row, row_number() OVER "
            f"(PARTITION BY {cols} ORDER BY _source_row) AS k FROM {typed.scratch.view}) "
            f"WHERE k > 1 ORDER BY _source_row LIMIT {EXAMPLES_PER_PROBLEM}",
        )
    ).fetchall()
    return tuple(Example(line=int(line), record=int(rec)) for line, rec, _ in found)


def _with_lines(typed: Typed, examples: str) -> str:
    """``examples`` (a few rows of ``_source_row, _value``) with each record's line first."""
    lines = typed.scratch.lines
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
