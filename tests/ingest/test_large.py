"""A large dump streams: Python memory stays far below the file size; its raw rows are stored
in file order, with their lines, even where records span lines."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from kvalreg.paths import Layout

from .conftest import Connect, Ingest

ROWS = 200_000


@pytest.mark.parametrize("multiline_every", [None, 1000], ids=["one-line", "multiline"])
def test_large_dump_streams_with_bounded_python_memory(
    ing_layout: Layout,
    ingest: Ingest,
    connect: Connect,
    land: Callable[..., Path],
    multiline_every: int | None,
) -> None:
    """``multiline_every``: every so many records, a comment of two lines (None: never)."""
    path = land(b"")
    cols = (
        "PasientID;Fnr;ForlopsID;AvdRESH;HovedDato;UtskrDato;Fodselsdato;InnKl;RegTid;"
        "Alder;Vekt;Kjonn;Diagnose;Royker;Kommentar"
    )
    with path.open("w", encoding="cp1252", newline="") as fh:  # cp1252 forces a transcode
        fh.write(cols + "\r\n")
        for i in range(1, ROWS + 1):
            fh.write(
                f"P{i};;{i};{100 if i % 2 else 200};01.02.2024;03.02.2024;17.05.1980;10:15;"
                f"01.02.2024 10:20;{18 + i % 80};{50 + i % 40},5;{1 + i % 2};I63;0;"
                f'"{i % 7} Blødning på høyre side; ""kontroll""'
                + ("\nsjekk" if multiline_every and i % multiline_every == 0 else "")
                + '"\r\n'
            )
    size = path.stat().st_size
    # Warm up first, so that one-off imports (pyarrow for the results frame) are not counted.
    small = land(cols + "\r\n" + "P1;;1;100;01.02.2024;;;;;;;1;;;\r\n", name="ingtest_basis_1.csv")
    assert ingest(small).status == "accepted"
    tracemalloc.start()
    try:
        out = ingest(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert out.status == "accepted", out.problems
    assert out.rows == ROWS
    assert peak < size / 5, (peak, size)
    with connect() as con:
        got = con.execute(
            "SELECT count(*), max(_source_line), min(Kommentar) FROM raw_ingtest.basis "
            "WHERE _dump_id = ?",
            [out.dump_id],
        ).fetchone()
    spanning = (ROWS - 1) // multiline_every if multiline_every else 0
    assert got == (
        ROWS,
        ROWS + 1 + spanning,
        '0 Blødning på høyre side; "kontroll"',
    )
    with connect() as con:
        out_of_order = con.execute(
            "SELECT count_if(_source_row <> n), count_if(_source_line <> expected) FROM ("
            "  SELECT _source_row, _source_line, row_number() OVER () AS n,"
            "    1 + _source_row + coalesce((_source_row - 1) // ?, 0) AS expected"
            "  FROM raw_ingtest.basis WHERE _dump_id = ?)",
            [multiline_every, out.dump_id],
        ).fetchone()
    assert out_of_order == (0, 0)
