"""``ingest_dump``: the one entry point that takes a landed dump into the warehouse or quarantine.

Order of work, and why:
1. Cheap structural pre-checks in Python (empty, encoding, header) so a wrong file is rejected
   before DuckDB spends time on it and with a precise reason.
2. DuckDB reads every record once, typing its values as it reads (``TypingPlan``);
   malformed records are fatal.
3. The codebook's rules run as SQL over the typed table (``validate``).
4. One transaction writes raw rows (accepted dumps only), DQ results and ``meta.dumps``.
5. Only after the commit does the original move to ``archive/`` or ``quarantine/``. A failure
   before that leaves the original where it was and the warehouse unchanged; a crash after the
   commit leaves the original in landing, and a re-run replaces the same rows again.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections import Counter
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import duckdb

from kvalreg import store
from kvalreg.dq.checks import Check, load_checks
from kvalreg.ingest.encoding import Detection, detect, is_utf8, transcode_to_utf8
from kvalreg.ingest.load import DumpRecord, commit
from kvalreg.ingest.problems import Example, Problem, Severity
from kvalreg.ingest.reader import (
    COMMON_SEPARATORS,
    CsvFile,
    Header,
    Records,
    drop_records,
    read_header,
    read_records,
)
from kvalreg.ingest.validate import (
    ResultRow,
    Typed,
    TypingPlan,
    text_compared_columns,
    validate,
)
from kvalreg.paths import Layout
from kvalreg.registry import Form, Registry
from kvalreg.warehouse import ingest_memory_limit

TYPED_TABLE = "_kv_typed"
MAX_REJECT_EXAMPLES = 5
# A header name from the file is only echoed if it looks like a column name: a file without a
# header row would otherwise put its first record (perhaps an fnr) into the report.
_SHOWABLE_NAME = re.compile(r"[A-Za-z_ÆØÅæøå][\wÆØÅæøå .()\-]{0,63}")
_DIGIT_RUN = re.compile(r"\d{5,}")

Connect = Callable[[], AbstractContextManager[duckdb.DuckDBPyConnection]]


@dataclass(frozen=True)
class IngestOutcome:
    dump_id: str
    registry: str
    form: str
    sha256: str
    status: Literal["accepted", "quarantined"]
    rows: int  # data records read (0 if unreadable)
    encoding: str | None
    problems: tuple[Problem, ...]  # every problem found, fatal and not
    stored_path: Path  # where the original now lives (archive or quarantine)
    report_path: Path | None  # quarantine report json, if quarantined


@dataclass
class _Findings:
    """What the checks found so far; file-level checks record (violated, denominator)."""

    checks: Mapping[str, Check]
    file_name: str
    problems: list[Problem] = field(default_factory=list)
    file_checks: dict[str, tuple[int, int]] = field(default_factory=dict)

    def evaluate(self, check_id: str, violated: int, denominator: int = 1) -> None:
        self.file_checks[check_id] = (violated, denominator)

    def fail(
        self,
        check_id: str,
        message: str,
        *,
        violated: int = 1,
        denominator: int = 1,
        line: int | None = None,
        column: str | None = None,
        examples: tuple[Example, ...] = (),
    ) -> None:
        self.evaluate(check_id, violated, denominator)
        self.problems.append(
            Problem(
                check_id=check_id,
                severity=self.checks[check_id].severity,
                message=message,
                file=self.file_name,
                column=column,
                line=line,
                count=violated,
                examples=examples,
            )
        )

    @property
    def fatal(self) -> bool:
        return any(p.severity is Severity.FATAL for p in self.problems)

    def file_results(self) -> list[ResultRow]:
        rows = []
        for check_id, (violated, denominator) in self.file_checks.items():
            pct = 100.0 * violated / denominator if denominator else None
            if pct is None:
                status = "not_applicable"
            else:
                status = "passed" if self.checks[check_id].passes(pct) else "failed"
            rows.append(ResultRow(check_id, None, None, violated, denominator, pct, status))
        return rows


def ingest_dump(
    path: Path,
    registry: Registry,
    form: Form,
    *,
    layout: Layout,
    dump_id: str,
    sha256: str,
    known_units: frozenset[str],
    connect: Connect,
) -> IngestOutcome:
    """Validate and load one dump, or quarantine it; idempotent per ``dump_id``.

    ``path`` may be the landed file, or (on a re-run after a crash) the copy already in the
    archive or quarantine. Raises only on infrastructure failures (warehouse, filesystem); then
    the warehouse is unchanged and the original has not moved.
    """
    checks = load_checks()
    found = _Findings(checks, path.name)
    stat = path.lstat()
    received_at = datetime.fromtimestamp(stat.st_mtime, UTC).replace(tzinfo=None)
    detection: Detection | None = None
    header: Header | None = None
    if path.is_symlink():
        found.fail("landing_symlink", "the dump is a symbolic link; links are never followed")
    else:
        detection, header = _prechecks(path, registry, form, stat.st_size, found)
    encoding = detection.encoding if detection else None
    rows = 0
    duplicate_rows: int | None = None
    results: list[ResultRow] = []
    scratch_dir = layout.state / "ingest"
    scratch_dir.mkdir(parents=True, exist_ok=True)
    memory_limit = ingest_memory_limit()  # a malformed setting fails before the lock is taken
    with tempfile.TemporaryDirectory(dir=scratch_dir) as tmp, connect() as con:
        con.execute(f"SET memory_limit = '{memory_limit}'")
        try:
            typed: Typed | None = None
            if not found.fatal and encoding is not None and header is not None:
                csv_path = path
                if not is_utf8(encoding):
                    csv_path = Path(tmp) / "utf8.csv"
                    transcode_to_utf8(path, csv_path, encoding)
                plan = TypingPlan.of(
                    form,
                    registry.format,
                    _positions(header),
                    keep_text=text_compared_columns(registry),
                )
                csv = CsvFile(csv_path, header, registry.format.separator)
                records = _read(con, csv, plan, found)
                if records is not None:
                    rows = records.rows + records.rejected_records
                    if not found.fatal:
                        typed = plan.typed(con, records)
                        validation = validate(
                            con,
                            typed,
                            registry,
                            form,
                            known_units=known_units,
                            checks=checks,
                            file_name=path.name,
                        )
                        results.extend(validation.results)
                        duplicate_rows = validation.duplicate_rows
                        found.problems.extend(validation.problems)
            status: Literal["accepted", "quarantined"] = (
                "quarantined" if found.fatal else "accepted"
            )
            stamp = store.quarantine_stamp()
            if status == "accepted":
                target = store.archive_path(
                    layout, registry=registry.name, form=form.name, dump_id=dump_id, name=path.name
                )
            elif store.in_quarantine(layout, path):
                target = path
            else:
                target = store.quarantine_path(
                    layout, registry=registry.name, file_label=path.name, stamp=stamp
                )
            now = datetime.now(UTC).replace(tzinfo=None)
            record = DumpRecord(
                dump_id=dump_id,
                registry=registry.name,
                form=form.name,
                file_name=path.name,
                sha256=sha256,
                bytes=stat.st_size,
                encoding=encoding,
                rows=rows,
                status=status,
                received_at=received_at,
                processed_at=now,
                stored_path=str(target),
                duplicate_rows=duplicate_rows if status == "accepted" else None,
            )
            commit(
                con,
                form=form,
                dump=record,
                typed=typed if status == "accepted" else None,
                results=[*found.file_results(), *results],
                checks=checks,
            )
        finally:
            with contextlib.suppress(duckdb.Error):
                drop_records(con, TYPED_TABLE)
    problems = tuple(found.problems)
    if status == "accepted":
        stored = store.archive(
            layout, path, registry=registry.name, form=form.name, dump_id=dump_id, sha256=sha256
        )
        report = None
    else:
        context = {
            "form": form.name,
            "dump_id": dump_id,
            "sha256": sha256,
            "bytes": str(stat.st_size),
            "encoding": encoding or "",
            "encodings_tried": ", ".join(detection.tried) if detection else "",
            "rows": str(rows),
            "status": status,
        }
        stored, report = store.quarantine(
            layout,
            path,
            problems,
            registry=registry.name,
            file_label=path.name,
            context=context,
            stamp=stamp,
        )
    return IngestOutcome(
        dump_id=dump_id,
        registry=registry.name,
        form=form.name,
        sha256=sha256,
        status=status,
        rows=rows,
        encoding=encoding,
        problems=problems,
        stored_path=stored,
        report_path=report,
    )


def _shown(name: str, position: int, *, data_like: bool) -> str:
    """A header name from the file, or a placeholder if it may be a data value."""
    if not data_like and _SHOWABLE_NAME.fullmatch(name) and not _DIGIT_RUN.search(name):
        return name
    return f"<column {position} (name not shown)>"


def _positions(header: Header) -> dict[str, int]:
    return {name: i for i, name in reversed(list(enumerate(header.columns)))}


def _prechecks(
    path: Path, registry: Registry, form: Form, size: int, found: _Findings
) -> tuple[Detection | None, Header | None]:
    """Structural checks that need only the first bytes (and one decode pass)."""
    if size == 0:
        found.fail("file_empty", "the file is empty (0 bytes)")
        return None, None
    found.evaluate("file_empty", 0)
    hints = registry.format
    detection = detect(path, hints.encodings)
    if detection.encoding is None:
        where = "; ".join(
            f"{f.encoding} fails at line {f.line}, byte column {f.column}"
            for f in detection.failures
        )
        first = detection.failures[0]
        found.fail(
            "file_encoding",
            f"bytes not decodable in any allowed encoding ({where})",
            line=first.line,
            examples=(Example(line=first.line),),
        )
        return detection, None
    found.evaluate("file_encoding", 0)
    header = read_header(path, detection.encoding, hints.separator)
    if header is None:
        found.fail("file_empty", "the file holds no text (only a byte-order mark or whitespace)")
        return detection, None
    columns = header.columns
    if len(columns) == 1 and len(form.columns) > 1:
        others = [s for s in COMMON_SEPARATORS if s != hints.separator and s in columns[0]]
        if others:
            found.fail(
                "file_separator",
                f"the header is a single column containing {others[0]!r}: the file seems to "
                f"use {others[0]!r} as separator, but registry {registry.name} uses "
                f"{hints.separator!r}",
                line=1,
            )
            return detection, None
    found.evaluate("file_separator", 0)
    counts = Counter(columns)
    duplicated = [i for i, c in enumerate(columns) if counts[c] > 1 and columns.index(c) != i]
    missing = [c for c in form.columns if c not in counts]
    extra = [i for i, c in enumerate(columns) if c not in form.columns]
    # Mostly unknown names: line 1 is probably a data record, whose values (identifiers among
    # them) must not be echoed as "column names".
    data_like = (len(columns) - len(extra)) * 2 < len(columns)
    if duplicated:
        names = ", ".join(_shown(columns[i], i + 1, data_like=data_like) for i in duplicated)
        found.fail(
            "file_columns_duplicated",
            f"the header repeats column(s) {names}",
            violated=len(duplicated),
            denominator=len(columns),
            line=1,
            column=_shown(columns[duplicated[0]], duplicated[0] + 1, data_like=data_like),
        )
    else:
        found.evaluate("file_columns_duplicated", 0, len(columns))
    if missing:
        found.fail(
            "file_columns_missing",
            f"the header lacks codebook column(s) {', '.join(missing)} of form {form.name}",
            violated=len(missing),
            denominator=len(form.columns),
            line=1,
            column=missing[0],
        )
    else:
        found.evaluate("file_columns_missing", 0, len(form.columns))
    if extra:
        if data_like:
            detail = (
                f"{len(extra)} of {len(columns)} names in line 1 are not columns of form "
                f"{form.name}; the file may lack its header row (names not shown)"
            )
        else:
            names = ", ".join(_shown(columns[i], i + 1, data_like=False) for i in extra)
            detail = f"the header has column(s) {names} that form {form.name} does not define"
        found.fail(
            "file_columns_extra",
            detail,
            violated=len(extra),
            denominator=len(columns),
            line=1,
            column=None if data_like else _shown(columns[extra[0]], extra[0] + 1, data_like=False),
        )
    else:
        found.evaluate("file_columns_extra", 0, len(columns))
    return detection, header


def _read(
    con: duckdb.DuckDBPyConnection, csv: CsvFile, plan: TypingPlan, found: _Findings
) -> Records | None:
    """DuckDB read into the typed table; malformed records and header-only files are fatal."""
    try:
        records = read_records(con, csv, TYPED_TABLE, plan.select)
    except duckdb.Error as exc:
        # DuckDB's message may quote the offending row, so only the error class is reported.
        found.fail(
            "file_malformed_rows",
            f"the file could not be parsed as CSV ({type(exc).__name__})",
        )
        return None
    if records.rows == 0 and not records.rejects:
        found.fail("file_header_only", "the file has a header but no data records", line=2)
        return records
    found.evaluate("file_header_only", 0)
    total = records.rows + records.rejected_records
    if records.rejects:
        kinds = Counter(r.error_type for r in records.rejects)
        summary = ", ".join(f"{kind.lower()}: {n}" for kind, n in sorted(kinds.items()))
        first = records.rejects[0]
        found.fail(
            "file_malformed_rows",
            f"{records.rejected_records} malformed record(s) ({summary}); "
            "check the field count, quotes and a possibly truncated last line",
            violated=records.rejected_records,
            denominator=total,
            line=first.line,
            column=first.column,
            examples=tuple(
                Example(line=r.line, record=r.record, column=r.column)
                for r in records.rejects[:MAX_REJECT_EXAMPLES]
            ),
        )
    else:
        found.evaluate("file_malformed_rows", 0, total)
    return records
