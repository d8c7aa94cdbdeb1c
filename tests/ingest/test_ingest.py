"""End-to-end tests of ``ingest_dump`` against a real DuckDB file and a real directory tree."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest

from kvalreg.paths import Layout
from kvalreg.registry import Registry, load_registry

from .conftest import (
    FIXTURES,
    Connect,
    Ingest,
    basis_row,
    csv_text,
    sha256_of,
    tenor,
)

BASIS = load_registry(FIXTURES / "ingtest").form("basis").columns
Land = Callable[..., Path]


def rows_of(connect: Connect, sql: str, params: list[Any] | None = None) -> list[tuple]:
    with connect() as con:
        return con.execute(sql, params or []).fetchall()


def valid_rows(n: int) -> list[dict[str, str]]:
    return [
        basis_row(PasientID=f"P{i}", ForlopsID=str(i), AvdRESH="100" if i % 2 else "200")
        for i in range(1, n + 1)
    ]


# -- accepted dumps -----------------------------------------------------------------------------


def test_valid_dump_is_loaded_typed_and_archived(
    land: Land, ingest: Ingest, connect: Connect, ing_layout: Layout
) -> None:
    path = land(csv_text(valid_rows(3), BASIS))
    sha = sha256_of(path)
    out = ingest(path)
    assert out.status == "accepted"
    assert out.rows == 3
    assert out.report_path is None
    assert [p for p in out.problems] == []
    assert not path.exists()
    assert out.stored_path == (
        ing_layout.archive / "ingtest" / "basis" / out.dump_id / "ingtest_basis_20240201.csv"
    )
    assert sha256_of(out.stored_path) == sha
    sidecar = out.stored_path.with_name(out.stored_path.name + ".sha256").read_text()
    assert sidecar == f"{sha}  ingtest_basis_20240201.csv\n"

    rows = rows_of(
        connect,
        "SELECT ForlopsID, HovedDato, InnKl, RegTid, Alder, Vekt, Kjonn, Diagnose, Royker, "
        "_source_row, _source_line, _dump_id FROM raw_ingtest.basis ORDER BY _source_row",
    )
    assert [r[0] for r in rows] == [1, 2, 3]
    first = rows[0]
    assert str(first[1]) == "2024-02-01"
    assert str(first[2]) == "10:15:00"
    assert str(first[3]) == "2024-02-01 10:20:00"
    assert first[4:9] == (71, 80.5, 1, "I63", False)
    assert [(r[9], r[10]) for r in rows] == [(1, 2), (2, 3), (3, 4)]
    assert {r[11] for r in rows} == {out.dump_id}
    types = dict(
        rows_of(
            connect,
            "SELECT column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'raw_ingtest' AND table_name = 'basis'",
        )
    )
    assert types["HovedDato"] == "DATE"
    assert types["RegTid"] == "TIMESTAMP"
    assert types["InnKl"] == "TIME"
    assert types["ForlopsID"] == "BIGINT"
    assert types["Vekt"] == "DOUBLE"
    assert types["Kjonn"] == "BIGINT"
    assert types["Diagnose"] == "VARCHAR"
    assert types["Royker"] == "BOOLEAN"
    assert types["_loaded_at"] == "TIMESTAMP"

    meta = rows_of(
        connect,
        "SELECT status, rows, encoding, sha256, stored_path, bytes, duplicate_rows FROM meta.dumps",
    )
    assert meta == [
        ("accepted", 3, "utf-8-sig", sha, str(out.stored_path), out.stored_path.stat().st_size, 0)
    ]
    failed = rows_of(connect, "SELECT count(*) FROM dq.results WHERE status = 'failed'")
    assert failed == [(0,)]
    checked = {r[0] for r in rows_of(connect, "SELECT DISTINCT check_id FROM dq.results")}
    assert {"file_encoding", "file_malformed_rows", "type_conformance", "duplicate_rows"} <= (
        checked
    )
    assert rows_of(connect, "SELECT count(*) FROM dq.checks")[0][0] >= 24


TEXT = 'Blødning på høyre side; "sjekk" æøå ÆØÅ'


@pytest.mark.parametrize(
    ("encoding", "bom", "eol"),
    [
        ("utf-8", False, "\n"),
        ("utf-8", True, "\r\n"),
        ("cp1252", False, "\r\n"),
        ("cp1252", False, "\n"),
    ],
)
def test_encodings_line_ends_and_quoting(
    land: Land,
    ingest: Ingest,
    connect: Connect,
    ing_layout: Layout,
    encoding: str,
    bom: bool,
    eol: str,
) -> None:
    quoted = '"' + TEXT.replace('"', '""') + '"'
    multiline = f'"første linje{eol}andre; linje{eol}tredje ""linje"""'
    rows = [
        basis_row(ForlopsID="1", Kommentar=quoted),
        basis_row(ForlopsID="2", Kommentar=multiline),
        basis_row(ForlopsID="3", Kommentar="enkel"),
        basis_row(ForlopsID="4", Kommentar='""'),
    ]
    text = csv_text(rows, BASIS, eol=eol)
    data = ("\ufeff" if bom else "").encode() + text.encode(encoding)
    path = land(data)
    sha = sha256_of(path)
    out = ingest(path)
    assert out.status == "accepted", out.problems
    assert out.encoding == ("utf-8-sig" if encoding == "utf-8" else "cp1252")
    got = rows_of(
        connect,
        "SELECT ForlopsID, Kommentar, _source_line FROM raw_ingtest.basis ORDER BY _source_row",
    )
    assert got == [
        (1, TEXT, 2),
        (2, f'første linje{eol}andre; linje{eol}tredje "linje"', 3),
        (3, "enkel", 6),
        (4, None, 7),
    ]
    assert sha256_of(out.stored_path) == sha
    assert list((ing_layout.state / "ingest").iterdir()) == []  # transcoded copy removed


def test_lines_after_newlines_in_a_column_outside_the_sample(
    land: Land, ingest: Ingest, connect: Connect, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The columns holding newlines are guessed from the first records; a newline in another
    column further down must still count, in raw ``_source_line`` and in problem examples."""
    monkeypatch.setattr("kvalreg.ingest.reader._NEWLINE_SAMPLE_ROWS", 1)
    rows = valid_rows(20)
    rows[0]["Kommentar"] = '"to\nlinjer"'
    rows[1]["PasientID"] = '"P\n2"'  # not a newline column in the sample
    rows[3]["Alder"] = "gammel"
    out = ingest(land(csv_text(rows, BASIS, eol="\n")))
    assert out.status == "accepted", out.problems
    got = rows_of(connect, "SELECT _source_row, _source_line FROM raw_ingtest.basis ORDER BY 1")
    assert got[:5] == [(1, 2), (2, 4), (3, 6), (4, 7), (5, 8)]
    (alder,) = [p for p in out.problems if p.column == "Alder"]
    assert (alder.line, alder.examples[0].line, alder.examples[0].record) == (7, 7, 4)


def test_blank_lines_are_skipped_but_counted(land: Land, ingest: Ingest, connect: Connect) -> None:
    rows = valid_rows(3)
    text = csv_text(rows[:1], BASIS) + "\r\n\r\n" + csv_text(rows[1:], BASIS).split("\r\n", 1)[1]
    out = ingest(land(text))
    assert out.status == "accepted"
    got = rows_of(connect, "SELECT _source_row, _source_line FROM raw_ingtest.basis ORDER BY 1")
    assert got == [(1, 2), (2, 5), (3, 6)]


def test_comma_registry_uses_its_hints(
    land: Land, ingest: Ingest, connect: Connect, ingcomma: Registry
) -> None:
    cols = ingcomma.form("skjema").columns
    rows = [
        {"PasientID": '"A,1"', "UnitId": "100", "Dato": "2024-02-01", "Verdi": "1.25", "Ja": "Y"},
        {"PasientID": "B", "UnitId": "100", "Dato": "2024-02-02", "Verdi": "-3", "Ja": "N"},
        {"PasientID": "C", "UnitId": "200", "Dato": "2024-02-03", "Verdi": '"2,5"', "Ja": "Y"},
        {"PasientID": "D", "UnitId": "200", "Dato": "2024-02-04", "Verdi": "7", "Ja": "N"},
        {"PasientID": "E", "UnitId": "200", "Dato": "2024-02-05", "Verdi": "8", "Ja": ""},
        {"PasientID": "F", "UnitId": "200", "Dato": "2024-02-06", "Verdi": "9", "Ja": "N"},
    ]
    path = land(csv_text(rows, cols, sep=","), name="ingcomma_skjema_20240201.csv")
    out = ingest(path, registry=ingcomma, form="skjema")
    assert out.status == "accepted", out.problems
    got = rows_of(connect, "SELECT PasientID, Dato, Verdi, Ja FROM raw_ingcomma.skjema ORDER BY 1")
    assert [(r[0], str(r[1]), r[2], r[3]) for r in got] == [
        ("A,1", "2024-02-01", 1.25, True),
        ("B", "2024-02-02", -3.0, False),
        ("C", "2024-02-03", None, True),
        ("D", "2024-02-04", 7.0, False),
        ("E", "2024-02-05", 8.0, None),
        ("F", "2024-02-06", 9.0, False),
    ]
    (problem,) = out.problems
    assert (problem.check_id, problem.column, problem.count, problem.line) == (
        "type_conformance",
        "Verdi",
        1,
        4,
    )
    assert problem.examples[0].value == "2,5"


# -- exact counts of every row-level check --------------------------------------------------


def test_row_level_checks_are_counted_exactly(land: Land, ingest: Ingest, connect: Connect) -> None:
    rows = valid_rows(20)
    good, bad = tenor(17, 123), tenor(18, 124)
    broken = bad[:-1] + str((int(bad[-1]) + 1) % 10)
    plant = {
        1: {"Fodselsdato": "31.02.2024", "Fnr": good},
        2: {"Fodselsdato": "1980/05/17", "Kjonn": "3", "Fnr": broken},
        3: {"Kjonn": "", "Alder": "130", "Fnr": "12345"},
        4: {"PasientID": "", "Kjonn": "3", "Alder": "-1", "Fnr": good},
        5: {"Diagnose": "I99", "Alder": "15", "AvdRESH": "999"},
        6: {"Alder": "15", "AvdRESH": "999", "UtskrDato": "31.01.2024"},
        7: {"Alder": "15", "UtskrDato": "01.01.2024", "Vekt": "80.5"},
        8: {"ForlopsID": "1"},  # repeats record 1's key
    }
    for i, fields in plant.items():
        rows[i] |= fields
    rows[18] = dict(rows[17])  # records 19 and 20 repeat record 18 exactly
    rows[19] = dict(rows[17])
    out = ingest(land(csv_text(rows, BASIS)))
    assert out.status == "accepted", [p.message for p in out.problems if p.severity == "fatal"]

    expected = {
        ("type_conformance", "Fodselsdato"): (2, 20),
        ("type_conformance", "Vekt"): (1, 20),
        ("mandatory_missing", "Kjonn"): (1, 20),
        ("mandatory_missing", "PasientID"): (1, 20),
        ("allowed_values", "Kjonn"): (2, 19),
        ("allowed_values", "Diagnose"): (1, 20),
        ("hard_limits", "Alder"): (2, 20),
        ("plausibility_limits", "Alder"): (3, 18),
        ("fnr_invalid", "Fnr"): (2, 4),
        ("resh_unknown", "AvdRESH"): (2, 20),
        ("duplicate_rows", None): (2, 20),
        ("unique", "ForlopsID"): (3, 20),
        ("date_order", "HovedDato<=UtskrDato"): (2, 20),
    }
    got = {
        (check, var): (v, d)
        for check, var, v, d in rows_of(
            connect,
            "SELECT check_id, variable, num_violated, num_denominator FROM dq.results "
            "WHERE unit_resh IS NULL AND num_violated > 0",
        )
    }
    assert got == expected
    # Staging and releases de-duplicate only a dump with repeated records counted here.
    assert rows_of(connect, "SELECT duplicate_rows FROM meta.dumps") == [(2,)]
    assert {
        (p.check_id, p.column if p.check_id != "date_order" else "HovedDato<=UtskrDato")
        for p in out.problems
    } >= {(c, v) for c, v in expected if c not in ("duplicate_rows", "date_order")}
    by_check = {(p.check_id, p.column): p for p in out.problems}
    fodsel = by_check[("type_conformance", "Fodselsdato")]
    assert fodsel.count == 2
    assert [(e.line, e.record, e.value) for e in fodsel.examples] == [
        (3, 2, "31.02.2024"),
        (4, 3, "1980/05/17"),
    ]
    assert "not a date in dd.mm.yyyy or yyyy-mm-dd" in fodsel.message
    fnr = by_check[("fnr_invalid", "Fnr")]
    assert [e.value for e in fnr.examples] == [None, None]
    assert by_check[("plausibility_limits", "Alder")].severity == "warning"

    per_unit = rows_of(
        connect,
        "SELECT unit_resh, num_violated FROM dq.results WHERE check_id = 'hard_limits' "
        "AND variable = 'Alder' AND unit_resh IS NOT NULL ORDER BY unit_resh",
    )
    assert per_unit == [("100", 1), ("200", 1), ("999", 0)]
    status = rows_of(
        connect,
        "SELECT status, severity, pct FROM dq.results WHERE check_id = 'plausibility_limits' "
        "AND variable = 'Alder' AND unit_resh IS NULL",
    )
    assert status == [("failed", "warning", pytest.approx(100 * 3 / 18))]


def test_resh_check_is_not_applicable_without_reference(
    land: Land, ingest: Ingest, connect: Connect
) -> None:
    out = ingest(land(csv_text(valid_rows(2), BASIS)), known_units=frozenset())
    assert out.status == "accepted"
    assert rows_of(connect, "SELECT status FROM dq.results WHERE check_id = 'resh_unknown'") == [
        ("not_applicable",)
    ]


# -- quarantined dumps ---------------------------------------------------------------------------


def _without(column: str) -> str:
    cols = [c for c in BASIS if c != column]
    return csv_text([{c: r[c] for c in cols} for r in valid_rows(2)], cols)


def _with_extra() -> str:
    cols = [*BASIS, "Ekstra"]
    return csv_text([r | {"Ekstra": "x"} for r in valid_rows(2)], cols)


def _with_duplicate() -> str:
    cols = [*BASIS, "Alder"]
    return csv_text(valid_rows(2), cols)


def _truncated() -> str:
    return csv_text(valid_rows(2), BASIS) + "P3;;3;100;01.02"


def _undecodable() -> bytes:
    text = csv_text(valid_rows(3), BASIS).encode("utf-8")
    lines = text.split(b"\r\n")
    lines[2] = b"P2;;2;\x81" + lines[2][6:]
    return b"\r\n".join(lines)


def _multiline_then_too_many() -> str:
    rows = valid_rows(2)
    rows[0]["Kommentar"] = '"a\r\nb"'
    return csv_text(rows[:1], BASIS) + ";".join(rows[1][c] for c in BASIS) + ";x;y\r\n"


def _bad_dates() -> str:
    return csv_text([r | {"HovedDato": "2024/02/01"} for r in valid_rows(5)], BASIS)


def _unterminated() -> str:
    rows = valid_rows(3)
    rows[1]["Kommentar"] = '"open'
    return csv_text(rows, BASIS)


BAD = [
    ("empty", b"", "file_empty", None, None),
    ("header_only", ";".join(BASIS) + "\r\n", "file_header_only", 2, None),
    ("truncated_last_line", _truncated(), "file_malformed_rows", 4, "UtskrDato"),
    ("wrong_separator", csv_text(valid_rows(2), BASIS, sep=","), "file_separator", 1, None),
    ("undecodable", _undecodable(), "file_encoding", 3, None),
    ("missing_column", _without("Kjonn"), "file_columns_missing", 1, "Kjonn"),
    ("extra_column", _with_extra(), "file_columns_extra", 1, "Ekstra"),
    ("duplicated_column", _with_duplicate(), "file_columns_duplicated", 1, "Alder"),
    ("wrong_date_format", _bad_dates(), "type_conformance", 2, "HovedDato"),
    ("unterminated_quote", _unterminated(), "file_malformed_rows", 3, "Kommentar"),
    ("too_many_fields", _multiline_then_too_many(), "file_malformed_rows", 4, None),
]


@pytest.mark.parametrize(
    ("content", "check_id", "line", "column"),
    [case[1:] for case in BAD],
    ids=[case[0] for case in BAD],
)
def test_bad_dump_is_quarantined_with_report(
    land: Land,
    ingest: Ingest,
    connect: Connect,
    ing_layout: Layout,
    content: str | bytes,
    check_id: str,
    line: int | None,
    column: str | None,
) -> None:
    path = land(content)
    sha = sha256_of(path)
    out = ingest(path)
    assert out.status == "quarantined"
    assert not path.exists()
    assert out.stored_path.parent == ing_layout.quarantine / "ingtest"
    assert out.stored_path.name.endswith("_ingtest_basis_20240201.csv")
    assert sha256_of(out.stored_path) == sha  # recoverable byte for byte

    assert out.report_path is not None
    report = json.loads(out.report_path.read_text(encoding="utf-8"))
    assert report["file"] == path.name
    assert report["sha256"] == sha
    assert report["status"] == "quarantined"
    fatal = [p for p in report["problems"] if p["severity"] == "fatal"]
    assert [p["check_id"] for p in fatal] == [check_id]
    assert fatal[0]["line"] == line
    assert fatal[0]["column"] == column
    text = out.stored_path.with_name(out.stored_path.name + ".report.txt").read_text()
    assert path.name in text
    assert check_id in text
    if line is not None:
        assert f"line {line}" in text
    if column is not None:
        assert f"column {column}" in text

    assert rows_of(connect, "SELECT status, stored_path, duplicate_rows FROM meta.dumps") == [
        ("quarantined", str(out.stored_path), None)
    ]
    failed = rows_of(
        connect,
        "SELECT variable FROM dq.results WHERE check_id = ? AND unit_resh IS NULL "
        "AND status = 'failed'",
        [check_id],
    )
    assert failed == [(column if check_id == "type_conformance" else None,)]
    raw = rows_of(
        connect, "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'raw_ingtest'"
    )
    assert raw == [(0,)]


def test_undecodable_report_names_byte_position(land: Land, ingest: Ingest) -> None:
    out = ingest(land(_undecodable()))
    (problem,) = out.problems
    assert "utf-8-sig fails at line 3, byte column 7" in problem.message
    assert "cp1252 fails at line 3, byte column 7" in problem.message


def test_mass_type_failure_turns_fatal_but_few_do_not(land: Land, ingest: Ingest) -> None:
    rows = valid_rows(10)
    rows[0]["Fodselsdato"] = "1980-17-05"
    rows[1]["Fodselsdato"] = "17/05/1980"  # 20 %: at the limit, still loadable
    assert ingest(land(csv_text(rows, BASIS))).status == "accepted"
    rows[2]["Fodselsdato"] = "17-05-1980"  # 30 %: a mis-formatted file
    out = ingest(land(csv_text(rows, BASIS), name="ingtest_basis_20240202.csv"))
    assert out.status == "quarantined"
    assert [p.severity for p in out.problems if p.check_id == "type_conformance"] == ["fatal"]


# -- identifiers never leave -----------------------------------------------------------------


def test_no_identifier_value_in_reports(land: Land, ingest: Ingest, connect: Connect) -> None:
    good, other = tenor(17, 123), tenor(19, 201)
    broken = other[:-1] + str((int(other[-1]) + 1) % 10)
    secrets_ = [good, broken, "PID-SECRET-1", "PID-SECRET-2", "777001"]
    rows = valid_rows(4)
    rows[0] |= {"Fnr": good, "PasientID": "PID-SECRET-1", "AvdRESH": "777001"}
    rows[1] |= {"Fnr": broken, "PasientID": "PID-SECRET-2"}
    for r in rows:
        r["HovedDato"] = "2024/02/01"  # fatal: quarantined, report written
    out = ingest(land(csv_text(rows, BASIS)))
    assert out.status == "quarantined"
    assert out.report_path is not None
    reports = (
        out.report_path.read_text()
        + out.stored_path.with_name(out.stored_path.name + ".report.txt").read_text()
    )
    assert "fnr_invalid" in reports
    for value in secrets_:
        assert value not in reports
        assert all(value not in str(p) for p in out.problems)
    dq = rows_of(connect, "SELECT * FROM dq.results")
    assert not any(v in str(row) for row in dq for v in secrets_[:4])

    # A file without its header row: the first record would become "column names".
    headerless = ";".join(rows[0][c] for c in BASIS) + "\r\n"
    out2 = ingest(land(headerless, name="ingtest_basis_20240203.csv"))
    assert out2.status == "quarantined"
    assert out2.report_path is not None
    text = (
        out2.report_path.read_text()
        + out2.stored_path.with_name(out2.stored_path.name + ".report.txt").read_text()
    )
    assert "file_columns_extra" in text
    assert "may lack its header row" in text
    for value in secrets_:
        assert value not in text


# -- all or nothing, idempotence ---------------------------------------------------------------


class FailingConnection:
    """Delegates to a real connection but fails the first statement containing ``needle``."""

    def __init__(self, con: duckdb.DuckDBPyConnection, needle: str) -> None:
        self._con = con
        self._needle = needle

    def execute(self, sql: str, *args: Any, **kwargs: Any) -> Any:
        if self._needle in sql:
            raise RuntimeError("injected failure")
        return self._con.execute(sql, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._con, name)


def test_failure_mid_load_changes_nothing(
    land: Land, ingest: Ingest, connect: Connect, ing_layout: Layout
) -> None:
    first = ingest(land(csv_text(valid_rows(3), BASIS)))
    assert first.status == "accepted"
    before = rows_of(connect, "SELECT * FROM raw_ingtest.basis ORDER BY _source_row")
    results_before = rows_of(connect, "SELECT count(*) FROM dq.results")

    @contextlib.contextmanager
    def failing() -> Iterator[Any]:
        with connect() as con:
            yield FailingConnection(con, "INSERT INTO dq.results")

    path = land(csv_text(valid_rows(5), BASIS), name="ingtest_basis_20240301.csv")
    sha = sha256_of(path)
    with pytest.raises(RuntimeError, match="injected"):
        ingest(path, connect_fn=failing)
    assert rows_of(connect, "SELECT * FROM raw_ingtest.basis ORDER BY _source_row") == before
    assert rows_of(connect, "SELECT count(*) FROM dq.results") == results_before
    assert rows_of(connect, "SELECT count(*) FROM meta.dumps") == [(1,)]
    assert path.exists() and sha256_of(path) == sha
    assert not (ing_layout.archive / "ingtest" / "basis" / f"{path.stem}@{sha[:12]}").exists()

    again = ingest(path)  # the re-run succeeds and loads it once
    assert again.status == "accepted"
    assert rows_of(
        connect, "SELECT count(*) FROM raw_ingtest.basis WHERE _dump_id = ?", [again.dump_id]
    ) == [(5,)]


def test_reingest_is_idempotent(
    land: Land, ingest: Ingest, connect: Connect, ing_layout: Layout
) -> None:
    content = csv_text(valid_rows(4), BASIS)
    first = ingest(land(content))
    snapshot = rows_of(
        connect, "SELECT * EXCLUDE (_loaded_at) FROM raw_ingtest.basis ORDER BY _source_row"
    )
    results = rows_of(connect, "SELECT count(*) FROM dq.results")
    # Re-run after a crash: the original already sits in the archive.
    second = ingest(first.stored_path)
    # The same file landed again.
    third = ingest(land(content))
    for out in (second, third):
        assert out.status == "accepted"
        assert out.dump_id == first.dump_id
        assert out.stored_path == first.stored_path
    assert (
        rows_of(
            connect, "SELECT * EXCLUDE (_loaded_at) FROM raw_ingtest.basis ORDER BY _source_row"
        )
        == snapshot
    )
    assert rows_of(connect, "SELECT count(*) FROM dq.results") == results
    assert rows_of(connect, "SELECT count(*) FROM meta.dumps") == [(1,)]
    assert sha256_of(first.stored_path) == first.sha256
    assert not (ing_layout.landing_for("ingtest") / "ingtest_basis_20240201.csv").exists()


def test_warehouse_from_before_the_duplicate_count_gains_the_column(
    land: Land, ingest: Ingest, connect: Connect
) -> None:
    with connect() as con:
        con.execute("CREATE SCHEMA meta")
        con.execute(
            "CREATE TABLE meta.dumps (dump_id VARCHAR, registry VARCHAR, form VARCHAR, "
            "file_name VARCHAR, sha256 VARCHAR, bytes BIGINT, encoding VARCHAR, rows BIGINT, "
            "status VARCHAR, received_at TIMESTAMP, processed_at TIMESTAMP, stored_path VARCHAR)"
        )
        con.execute("INSERT INTO meta.dumps (dump_id, status) VALUES ('earlier', 'accepted')")
    out = ingest(land(csv_text(valid_rows(2), BASIS)))
    assert rows_of(connect, "SELECT dump_id, duplicate_rows FROM meta.dumps ORDER BY 1") == [
        ("earlier", None),  # not counted: staging and releases still de-duplicate it
        (out.dump_id, 0),
    ]


def test_requarantine_keeps_original_in_place(land: Land, ingest: Ingest, connect: Connect) -> None:
    first = ingest(land(_bad_dates()))
    again = ingest(first.stored_path, dump_id=first.dump_id)
    assert again.status == "quarantined"
    assert again.stored_path == first.stored_path
    assert sha256_of(again.stored_path) == first.sha256
    assert rows_of(connect, "SELECT count(*) FROM meta.dumps") == [(1,)]


def test_form_without_unit_column_has_whole_dump_results_only(
    land: Land, ingest: Ingest, connect: Connect, ingcomma: Registry
) -> None:
    text = "PasientID,Hendelse\n1,a\n2,b\n2,b\n3,\n"
    out = ingest(land(text, name="ingcomma_logg_20240201.csv"), registry=ingcomma, form="logg")
    assert out.status == "accepted"
    got = rows_of(
        connect,
        "SELECT check_id, variable, unit_resh, num_violated, num_denominator FROM dq.results "
        "WHERE check_id IN ('duplicate_rows', 'mandatory_missing') ORDER BY check_id, variable",
    )
    assert got == [
        ("duplicate_rows", None, None, 1, 4),
        ("mandatory_missing", "Hendelse", None, 1, 4),
        ("mandatory_missing", "PasientID", None, 0, 4),
    ]


@pytest.mark.parametrize(
    ("keys", "repeats"),
    [
        (["1", "01", "+1", "2"], 0),  # equal as integers, different as written: not repeats
        (["x", "x", "1", "y"], 1),  # unparsable alike: one repeat (and two type failures)
        (["700", "700", "700", "800"], 2),
    ],
    ids=["same-value-other-text", "unparsable-repeat", "plain-repeat"],
)
def test_unique_column_compares_values_as_written(
    land: Land, ingest: Ingest, connect: Connect, keys: list[str], repeats: int
) -> None:
    rows = valid_rows(100)  # ForlopsID 1..100; the first records get ``keys``
    for row, key in zip(rows, keys, strict=False):
        row["ForlopsID"] = key
    out = ingest(land(csv_text(rows, BASIS)))
    assert out.status == "accepted", out.problems
    got = rows_of(
        connect,
        "SELECT num_violated FROM dq.results WHERE check_id = 'unique' AND unit_resh IS NULL",
    )
    assert got == [(repeats,)]
    shown = [p for p in out.problems if p.check_id == "unique"]
    assert [len(p.examples) for p in shown] == ([repeats] if repeats else [])


@pytest.mark.parametrize(
    ("keys", "duplicates"),
    [
        (["", ""], 1),  # the unique column empty in both: its values do not repeat
        (["x", "x"], 1),  # unparsable alike: a repeat of the unique column too
        (["7", "7"], 1),  # the unique column repeats
        ([" 7", "7"], 1),  # equal as written once trimmed
        (["", "x"], 0),  # the records differ only in the unique column
    ],
    ids=["empty-key", "unparsable-key", "repeated-key", "spaced-key", "other-key"],
)
def test_exact_repeats_are_counted_whatever_the_unique_column_holds(
    land: Land, ingest: Ingest, connect: Connect, keys: list[str], duplicates: int
) -> None:
    """Records repeating each other exactly are found where the unique column is empty as
    well as where it repeats (only the former are searched when no value of it repeats)."""
    rows = valid_rows(100)
    rows[1] = dict(rows[0])
    rows[0]["ForlopsID"], rows[1]["ForlopsID"] = keys
    out = ingest(land(csv_text(rows, BASIS)))
    assert out.status == "accepted", out.problems
    assert rows_of(connect, "SELECT duplicate_rows FROM meta.dumps") == [(duplicates,)]
