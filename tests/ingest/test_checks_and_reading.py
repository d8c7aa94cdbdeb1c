"""The check registry, encoding detection and the low-level reading helpers."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from kvalreg.codebook.canonical import Variable, VarType
from kvalreg.dq.checks import load_checks, parse_checks, write_checks
from kvalreg.ingest.encoding import detect, first_decode_error, transcode_to_utf8
from kvalreg.ingest.problems import Severity
from kvalreg.ingest.reader import (
    CsvFile,
    lines_at_offsets,
    read_header,
    read_records,
    scan_lines,
)
from kvalreg.ingest.validate import TypingPlan
from kvalreg.registry import Form, FormatHints

ROW_CHECKS = {
    "type_conformance",
    "mandatory_missing",
    "allowed_values",
    "hard_limits",
    "plausibility_limits",
    "fnr_invalid",
    "resh_unknown",
    "duplicate_rows",
    "unique",
    "date_order",
}
FILE_CHECKS = {
    "file_empty",
    "file_header_only",
    "file_encoding",
    "file_separator",
    "file_columns_missing",
    "file_columns_extra",
    "file_columns_duplicated",
    "file_malformed_rows",
}
LANDING_CHECKS = {
    "landing_unknown_registry",
    "landing_name_pattern",
    "landing_unsafe_name",
    "landing_symlink",
    "landing_not_a_file",
    "landing_duplicate",
}


def test_registry_holds_every_check_the_platform_raises() -> None:
    checks = load_checks()
    assert set(checks) >= ROW_CHECKS | FILE_CHECKS | LANDING_CHECKS
    assert all(checks[c].severity is Severity.FATAL for c in FILE_CHECKS)
    tc = checks["type_conformance"]
    assert tc.fatal_above_pct == 20
    assert tc.severity_for(20.0) is Severity.ERROR
    assert tc.severity_for(20.1) is Severity.FATAL


def test_registry_rejects_typos() -> None:
    spec = {
        "name": "x",
        "description": "x",
        "dimension": "korrekthet",
        "kahn_category": "conformance",
        "kahn_subcategory": "verification",
        "level": "field",
        "severity": "error",
        "threshold_pct": 0,
    }
    assert parse_checks({"checks": {"a": spec}})["a"].threshold_pct == 0
    with pytest.raises(ValueError, match="korekthet"):
        parse_checks({"checks": {"a": spec | {"dimension": "korekthet"}}})
    with pytest.raises(ValueError, match="unknown fields"):
        parse_checks({"checks": {"a": spec | {"treshold": 1}}})
    with pytest.raises(ValueError, match="fatal_above_pct"):
        parse_checks({"checks": {"a": spec | {"threshold_pct": 10, "fatal_above_pct": 5}}})


def test_write_checks_replaces_table(tmp_path: Path) -> None:
    con = duckdb.connect(str(tmp_path / "w.duckdb"))
    write_checks(con, load_checks())
    write_checks(con, load_checks())
    n = con.execute("SELECT count(*), count(DISTINCT check_id) FROM dq.checks").fetchone()
    assert n == (len(load_checks()), len(load_checks()))
    con.close()


def test_decode_error_offsets_across_chunk_boundaries() -> None:
    data = "æøå".encode() + b"ok\x81"
    chunks = [data[:1], data[1:3], data[3:]]  # multi-byte characters split across chunks
    assert first_decode_error(chunks, "utf-8") == len(data) - 1
    assert first_decode_error([data[:-1]], "utf-8") is None
    assert first_decode_error([data[:1]], "utf-8") == 0  # truncated multi-byte at the end


def test_detect_falls_back_and_transcodes(tmp_path: Path) -> None:
    src = tmp_path / "a.csv"
    src.write_bytes("a;b\r\nø;€\r\n".encode("cp1252"))
    found = detect(src, ("utf-8-sig", "cp1252"))
    assert found.encoding == "cp1252"
    assert [(f.encoding, f.line, f.column) for f in found.failures] == [("utf-8-sig", 2, 1)]
    dst = tmp_path / "b.csv"
    transcode_to_utf8(src, dst, "cp1252")
    assert dst.read_bytes().decode("utf-8") == "a;b\r\nø;€\r\n"


def test_header_and_line_helpers(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes(b'\xef\xbb\xbf A ;"B\nC";D\n1;"x\n\ny";3\n\n4;5;6\n')
    header = read_header(path, "utf-8-sig", ";")
    assert header is not None
    assert header.columns == ("A", "B\nC", "D")
    assert header.lines == 2
    scan = scan_lines(path)
    assert scan.blank_lines == (6,)  # the blank line inside quotes (line 4) is not a record
    assert scan.physical_lines == 7
    data = path.read_bytes()
    assert lines_at_offsets(path, [0, data.index(b"4;5")]) == {0: 1, data.index(b"4;5"): 7}


def test_record_texts_are_read_from_the_file_once_per_new_column(tmp_path: Path) -> None:
    """A report asking again for columns already read gets them without a pass over the file;
    a new column is read together with the earlier ones."""
    path = tmp_path / "dump.csv"
    path.write_text("a;b;c\n 1 ;x;\n2;;z\n", encoding="utf-8")
    header = read_header(path, "utf-8", ";")
    assert header is not None
    csv = CsvFile(path, header, ";")
    con = duckdb.connect()
    records = read_records(con, csv, "_t", lambda rel, carry: f"SELECT * FROM {rel}")
    first = records.texts(con, ["c0"])
    assert con.execute(f"SELECT * FROM {first}").fetchall() == [(1, "1"), (2, "2")]
    path.write_text("a;b;c\n9;9;9\n9;9;9\n", encoding="utf-8")  # no pass may see this
    assert con.execute(f"SELECT * FROM {records.texts(con, ['c0'])}").fetchall() == [
        (1, "1"),
        (2, "2"),
    ]
    both = con.execute(f"SELECT * FROM {records.texts(con, ['c2'])}").fetchall()
    assert both == [(1, "9", "9"), (2, "9", "9")]  # c2 is new: both columns read again


# Texts around the codebook's integer syntax, [+-]?[0-9]{1,18} after trimming spaces (DuckDB's
# trim takes no-break spaces too, not tabs): DuckDB's own cast accepts many of the others
# ('1.5' as 2, '0x10', '1_000', '1e3', tabs, 19 digits).
INTEGER_TEXTS = (
    "0",
    "7",
    "-5",
    "+5",
    "-0",
    "007",
    " 12",
    "12 ",
    "  -7 ",
    "123456789012345678",
    "-123456789012345678",
    "+123456789012345678",
    "1234567890123456789",
    "9223372036854775807",
    "-9223372036854775808",
    "1.5",
    "1.0",
    "2.5",
    "1.",
    ".5",
    "1e3",
    "0x10",
    "0b1",
    "1_000",
    "1,5",
    "1 2",
    "\t5",
    "5\t",
    "\u0661\u0662",
    "+",
    "-",
    "+-1",
    "--1",
    "'3'",
    "\u00a07\u00a0",
    "",
    "  ",
    "x",
)


def test_integers_parse_exactly_as_the_codebook_writes_them(tmp_path: Path) -> None:
    """Both integer parsers, over the untrimmed text (the usual one) and over the trimmed text
    (a column whose text is kept), take a value exactly where the trimmed text is 1-18 digits
    with an optional sign, and flag every other non-blank text as not parsing."""
    path = tmp_path / "ints.csv"
    body = "".join(f'"{t}";"{t}"\n' for t in INTEGER_TEXTS)
    path.write_text("a;b\n" + body, encoding="utf-8")
    header = read_header(path, "utf-8", ";")
    assert header is not None
    form = Form(
        "f",
        "f",
        "base",
        tuple(Variable("f", n, n, VarType.NUMERIC, decimals=0) for n in ("a", "b")),
    )
    plan = TypingPlan.of(form, FormatHints(), {"a": 0, "b": 1}, keep_text=frozenset({"b"}))
    assert plan.untrimmed == {0}  # a's text is read untrimmed, b's is kept trimmed
    con = duckdb.connect()
    records = read_records(con, CsvFile(path, header, ";"), "_t", plan.select)
    got = con.execute(f"SELECT t0, _bad0, t1, _bad1 FROM {records.table}").fetchall()
    expected = []
    for text in INTEGER_TEXTS:
        trimmed = text.strip(" \u00a0")
        value = int(trimmed) if re.fullmatch(r"[+-]?[0-9]{1,18}", trimmed) else None
        bad = value is None and trimmed != ""
        expected.append((value, bad, value, bad))
    assert got == expected
