"""Reading a dump: its header (in Python), its records (in DuckDB) and where each record starts.

The header is parsed with the ``csv`` module from the first decoded chunk so that structural
problems (wrong separator, missing or extra columns) are found before DuckDB touches the file.
DuckDB then reads every record once, as VARCHAR typed by the caller's query in the same pass,
keeping malformed records out via its rejects table. DuckDB's own ``line`` counts records, not
physical lines, and it skips blank lines silently, so physical line numbers are computed here:
from byte offsets for rejected records, and from a running count of embedded newlines
(corrected for blank lines) for accepted ones.
"""

from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kvalreg.ingest.encoding import CHUNK_BYTES, iter_chunks

BOM = "\ufeff"
# Separators seen in exports; a header that is one column containing one of these (other than
# the registry's own) was written with that separator.
COMMON_SEPARATORS = (";", ",", "\t", "|")
# Byte sequences that show a blank line somewhere (perhaps inside a quoted value).
_BLANK_LINE = (b"\n\n", b"\n\r\n")
# Records searched for the columns holding newlines before all are (see ``_breaks``).
_NEWLINE_SAMPLE_ROWS = 100_000


@dataclass(frozen=True)
class Header:
    columns: tuple[str, ...]  # as in the file, BOM and surrounding whitespace stripped
    lines: int  # physical lines the header spans (more than 1 only with quoted newlines)


@dataclass(frozen=True)
class LineScan:
    """Newline facts of a UTF-8 file, gathered in one streaming pass."""

    newlines: int
    ends_with_newline: bool
    blank_lines: tuple[int, ...]  # physical lines holding an empty record (skipped by DuckDB)

    @property
    def physical_lines(self) -> int:
        if self.newlines == 0 and not self.ends_with_newline:
            return 1
        return self.newlines + (0 if self.ends_with_newline else 1)


@dataclass(frozen=True)
class Reject:
    """A malformed record: its physical start line, record number, column and DuckDB's category.

    DuckDB's raw row text (``csv_line``) and error message are deliberately never read: both can
    contain a personal identifier.
    """

    line: int
    record: int
    column: str | None
    error_type: str


@dataclass(frozen=True)
class LineNumbers:
    """SQL for the physical line where record ``_source_row`` starts.

    Without records spanning lines this is arithmetic on the record number (plus blank lines
    before it). Otherwise ``breaks`` is a sparse table, one row per record holding newlines
    inside quoted values, with the running total of such newlines; a record's line adds the
    total of the nearest earlier record, found by an ASOF join. A dense per-record table
    joined to the whole dump would cost a second pass over every column.
    """

    header_lines: int
    blank_lines: tuple[int, ...]  # physical lines of blank records after the header
    breaks: str | None = None

    def join(self, alias: str) -> str:
        """FROM-clause fragment to append after ``<table> AS alias`` (may be empty)."""
        if self.breaks is None:
            return ""
        return f" ASOF LEFT JOIN {self.breaks} AS _nl ON {alias}._source_row > _nl._source_row"

    def line(self, alias: str) -> str:
        """The line of ``alias._source_row``, valid with :meth:`join` in the FROM clause."""
        compressed = f"{self.header_lines} + {alias}._source_row"
        if self.breaks is not None:
            compressed += " + coalesce(_nl._newlines, 0)"
        if not self.blank_lines:
            return f"({compressed})::BIGINT"
        # A blank line at physical b_i (i-th, 0-based) sits at b_i - i in the numbering that
        # skips blank lines; a record there at c starts at c + #{i : b_i - i <= c}.
        adjusted = ", ".join(str(b - i) for i, b in enumerate(self.blank_lines))
        return (
            f"(({compressed}) + list_count(list_filter([{adjusted}], "
            f"lambda x: x <= ({compressed}))))::BIGINT"
        )


@dataclass(frozen=True)
class CsvFile:
    """A UTF-8 dump as DuckDB reads it: every column VARCHAR, named by position (``c0..cN``)
    so that odd header names never reach SQL text; callers map codebook names to positions."""

    path: Path
    header: Header
    separator: str

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(f"c{i}" for i in range(len(self.header.columns)))

    def relation(
        self,
        columns: Sequence[str] | None = None,
        *,
        rejects: tuple[str, str] | None = None,
        newlines: Sequence[str] = (),
        untrimmed: bool = False,
    ) -> str:
        """SQL subquery: the records' ``columns`` (default all) stripped of surrounding spaces
        (see :func:`trimmed`) and NULL when empty, in file order.

        ``rejects`` names the rejects tables for malformed records; without them malformed
        records are skipped, so every read of a file yields the same records. ``newlines``
        adds ``_newlines``, the newlines inside those columns' values. ``untrimmed`` adds each
        column's text as read (``u<i>`` beside ``c<i>``), for parsers that can tell most values
        apart without trimming; DuckDB computes only the columns a query uses.
        """
        names = self.names
        types = "{" + ", ".join(f"'{n}': 'VARCHAR'" for n in names) + "}"
        errors = (
            f"store_rejects = true, rejects_table = '{rejects[0]}', rejects_scan = '{rejects[1]}'"
            if rejects
            else "ignore_errors = true"
        )
        chosen = names if columns is None else columns
        items = [f"{trimmed(n)} AS {n}" for n in chosen]
        if untrimmed:
            items += [f"{n} AS u{n[1:]}" for n in chosen]
        if newlines:
            items.append(f"{_newline_count(newlines)} AS _newlines")
        return (
            f"(SELECT {', '.join(items)} FROM read_csv({lit(str(self.path))}, "
            f"delim = {lit(self.separator)}, quote = '\"', escape = '\"', header = true, "
            f"auto_detect = false, columns = {types}, strict_mode = true, "
            f"null_padding = false, {errors}))"
        )


@dataclass(frozen=True)
class Records:
    """A dump's records read into ``table`` by :func:`read_records`, in file order.

    ``view`` adds ``_source_row`` (1 = first data record); ``lines`` turns that into the
    physical line. The text as written is not kept: :meth:`texts` reads the columns a report
    needs (examples, exact duplicates) from ``csv`` again, only when it needs them.
    """

    csv: CsvFile
    table: str
    view: str
    rows: int
    rejects: tuple[Reject, ...]
    lines: LineNumbers
    _text_read: set[str] = field(default_factory=set, compare=False, repr=False)

    @property
    def rejected_records(self) -> int:
        return len({r.line for r in self.rejects})

    def texts(self, con: duckdb.DuckDBPyConnection, columns: Sequence[str]) -> str:
        """A view of ``_source_row`` and the trimmed text of ``columns`` (``c<i>``) of every
        record: one more pass over the file, materialising only those columns and the ones
        asked for before (a defective dump's unique keys, then its examples), and none if
        those include ``columns``."""
        table, view = f"{self.table}_text", f"{self.table}_text_rows"
        if set(columns) <= self._text_read:
            return view
        wanted = self._text_read | set(columns)
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT * FROM "
            f"{self.csv.relation(sorted(wanted, key=lambda c: int(c[1:])))}"
        )
        self._text_read.update(wanted)
        return _numbered(con, table, view)


def read_header(path: Path, encoding: str, separator: str) -> Header | None:
    """The first record of the file as column names, or None if the file holds no text."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with path.open("rb") as fh:
        text = decoder.decode(fh.read(CHUNK_BYTES), final=False)
    text = text.removeprefix(BOM)
    if not text.strip():
        return None
    reader = csv.reader(_lines(text), delimiter=separator, quotechar='"')
    first = next(reader, [])
    return Header(tuple(c.strip().strip(BOM).strip() for c in first), max(1, reader.line_num))


def _lines(text: str) -> Iterator[str]:
    """Lines of ``text`` with their ends, lazily: the csv reader pulls only the header's lines
    (a StringIO or splitlines would copy the whole chunk, up to four bytes per character)."""
    start = 0
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end + 1
        yield text[start:end]
        start = end


def scan_lines(path: Path) -> LineScan:
    """Count newlines; find blank records only if the bytes show a blank line at all.

    The quote-aware pass (needed to tell a blank record from a blank line inside a quoted
    field) is slow in Python, so it runs only when ``\\n\\n`` or ``\\n\\r\\n`` occurs.
    """
    newlines = 0
    tail = b""
    suspicious = False
    for chunk in iter_chunks(path):
        newlines += chunk.count(b"\n")
        if not suspicious:
            # The chunk itself, then the seam with the previous one (no copy of the chunk).
            seam = tail + chunk[:2]
            suspicious = any(blank in part for part in (chunk, seam) for blank in _BLANK_LINE)
        tail = chunk[-2:]
    ends = tail.endswith(b"\n")
    return LineScan(newlines, ends, _blank_records(path) if suspicious else ())


_QUOTE_OR_NEWLINE = re.compile(rb'["\n]')


def _blank_records(path: Path) -> tuple[int, ...]:
    """Physical lines of empty records (outside quotes), by quote parity.

    RFC 4180 escapes a quote by doubling it, which flips the parity twice, so parity alone tells
    whether a newline is inside a quoted field.
    """
    blanks: list[int] = []
    in_quotes = False
    line = 1
    record_start = 0  # absolute offset where the current record begins
    prev_byte = b""
    base = 0
    for chunk in iter_chunks(path):
        for m in _QUOTE_OR_NEWLINE.finditer(chunk):
            pos = base + m.start()
            if m.group() == b'"':
                in_quotes = not in_quotes
                continue
            if not in_quotes:
                length = pos - record_start
                before = chunk[m.start() - 1 : m.start()] if m.start() else prev_byte
                if length == 0 or (length == 1 and before == b"\r"):
                    blanks.append(line)
                record_start = pos + 1
            line += 1
        prev_byte = chunk[-1:]
        base += len(chunk)
    return tuple(blanks)


def lines_at_offsets(path: Path, offsets: Iterable[int]) -> dict[int, int]:
    """Physical line (1-based) of each byte offset, in one streaming pass."""
    wanted = sorted(set(offsets))
    result: dict[int, int] = {}
    line, seen, i = 1, 0, 0
    for chunk in iter_chunks(path):
        end = seen + len(chunk)
        while i < len(wanted) and wanted[i] < end:
            result[wanted[i]] = line + chunk.count(b"\n", 0, wanted[i] - seen)
            i += 1
        line += chunk.count(b"\n")
        seen = end
        if i == len(wanted):
            break
    for off in wanted[i:]:
        result[off] = line
    return result


def trimmed(text: str) -> str:
    """SQL: ``text`` stripped of surrounding spaces, NULL when empty (see ``relation``).

    DuckDB's ``trim`` strips the space and the other Unicode space separators (the no-break
    space among them), not tabs, carriage returns or newlines, so embedded newlines still
    count."""
    return f"NULLIF(trim({text}), '')"


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def lit(text: str) -> str:
    """A SQL string literal; file names, codebook and hint text are data, never SQL."""
    return "'" + text.replace("'", "''") + "'"


Select = Callable[[str, Sequence[str]], str]


def read_records(
    con: duckdb.DuckDBPyConnection, csv: CsvFile, table: str, select: Select
) -> Records:
    """Read every record of ``csv`` once, straight into temp table ``table``.

    ``select(relation, carry)`` returns the query over the trimmed and untrimmed text (see
    :meth:`CsvFile.relation`) that fills ``table``; it must keep the columns named in
    ``carry``. Reading, typing and validation's inputs in one pass: materialising the text
    first (a scratch table) and typing it after cost twice the time (10M-row dump: 23 + 21 s
    against 26 s) and, beyond DuckDB's memory bound, spilled the text to disk. The rejects
    tables get names of their own because DuckDB's default ones accumulate across statements
    of a connection.
    """
    rej_table, rej_scan = f"{table}_rejects", f"{table}_rejects_scan"
    for t in (table, rej_table, rej_scan):
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")
    # Columns that hold newlines, guessed from the first records and confirmed by the line
    # scan (see :func:`_breaks`): counting newlines in every value costs a pass of its own.
    sample = f"(SELECT * FROM {csv.relation()} LIMIT {_NEWLINE_SAMPLE_ROWS})"
    guessed = _with_newlines(con, sample, csv.names)
    relation = csv.relation(rejects=(rej_table, rej_scan), newlines=guessed, untrimmed=True)
    # The line scan reads the file in a second thread while DuckDB reads it (DuckDB releases
    # the GIL): 10M-row dump, the scan's 6.6 s no longer after the read.
    with ThreadPoolExecutor(max_workers=1) as pool:
        scanning = pool.submit(scan_lines, csv.path)
        con.execute(
            f"CREATE TEMP TABLE {table} AS {select(relation, ('_newlines',) if guessed else ())}"
        )
        scan = scanning.result()
    raw_rejects = con.execute(
        f"SELECT line, line_byte_position, column_name, error_type FROM {rej_table} "
        "ORDER BY line, column_idx"
    ).fetchall()
    for t in (rej_table, rej_scan):
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")
    rows = _scalar(con, f"SELECT count(*) FROM {table}")
    physical = lines_at_offsets(csv.path, (int(r[1]) for r in raw_rejects))
    rejects = tuple(
        Reject(
            line=physical[int(off)],
            # DuckDB's ``line`` counts the header and blank lines as records.
            record=int(duck_line) - 1 - _before(scan.blank_lines, physical[int(off)]),
            column=_file_column(csv.header, col),
            error_type=str(etype),
        )
        for duck_line, off, col, etype in raw_rejects
    )
    view = _numbered(con, table, f"{table}_rows")
    header_lines = csv.header.lines
    blanks = tuple(b for b in scan.blank_lines if b > header_lines)
    # Newlines inside quoted values: the physical lines beyond one per record or blank line.
    inside = scan.physical_lines - (header_lines + rows + len(blanks))
    breaks = _breaks(con, csv, table, bool(guessed), inside) if rows and inside else None
    return Records(csv, table, view, rows, rejects, LineNumbers(header_lines, blanks, breaks))


def drop_records(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Drop what :func:`read_records` and :meth:`Records.texts` created under ``table``'s name."""
    for view in (f"{table}_rows", f"{table}_text_rows"):
        con.execute(f"DROP VIEW IF EXISTS temp.{view}")
    for t in (f"{table}_breaks", f"{table}_newlines", f"{table}_text", table):
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")


def _numbered(con: duckdb.DuckDBPyConnection, table: str, view: str) -> str:
    """``view``: ``table`` (filled in file order) with each record's ``_source_row``."""
    con.execute(
        f"CREATE OR REPLACE TEMP VIEW {view} AS SELECT rowid + 1 AS _source_row, * FROM {table}"
    )
    return view


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def _before(sorted_lines: Sequence[int], line: int) -> int:
    return sum(1 for b in sorted_lines if b < line)


def _file_column(header: Header, duck_name: object) -> str | None:
    if isinstance(duck_name, str) and duck_name.startswith("c") and duck_name[1:].isdigit():
        idx = int(duck_name[1:])
        if idx < len(header.columns):
            return header.columns[idx]
    return None


def _breaks(
    con: duckdb.DuckDBPyConnection, csv: CsvFile, table: str, counted: bool, inside: int
) -> str | None:
    """The sparse table of the ``inside`` newlines within values (see :class:`LineNumbers`).

    ``table`` counted them (``_newlines``) in the columns that held newlines in the first
    records, typically one or two free-text ones; only if that total does not add up is the
    file read again to count them in every column. None if no value holds a newline (the
    extra lines belong to rejected records).
    """
    counts = table
    if not counted or _scalar(con, f"SELECT sum(_newlines) FROM {table}") != inside:
        counts = f"{table}_newlines"
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE {counts} AS SELECT _newlines FROM "
            f"{csv.relation(newlines=csv.names)}"
        )
        if not _scalar(con, f"SELECT sum(_newlines) FROM {counts}"):
            return None
    breaks = f"{table}_breaks"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {breaks} AS
        SELECT _source_row, sum(_newlines) OVER (ORDER BY _source_row) AS _newlines
        FROM (SELECT rowid + 1 AS _source_row, _newlines FROM {counts})
        WHERE _newlines > 0"""
    )
    return breaks


def _with_newlines(con: duckdb.DuckDBPyConnection, source: str, names: Sequence[str]) -> list[str]:
    """The columns of ``source`` holding a newline in some value."""
    found = con.execute(
        "SELECT " + ", ".join(f"bool_or(contains({n}, chr(10)))" for n in names) + f" FROM {source}"
    ).fetchone()
    return [n for n, has in zip(names, found or (), strict=True) if has]


def _newline_count(columns: Sequence[str]) -> str:
    """SQL: the number of newlines in ``columns`` of a record."""
    return " + ".join(
        f"coalesce(length({n}) - length(replace({n}, chr(10), '')), 0)" for n in columns
    )
