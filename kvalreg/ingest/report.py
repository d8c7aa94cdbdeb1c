"""Quarantine reports: a JSON document for machines and a text version a data engineer can act on.

Reports are built only from :class:`Problem` objects and file facts, and a problem never holds
an identifier value, so no personal identifier can reach a report by construction.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from kvalreg.ingest.problems import Example, Problem

# Context keys with a place of their own in the report (others go under "context").
KNOWN_CONTEXT = (
    "form",
    "dump_id",
    "sha256",
    "bytes",
    "encoding",
    "encodings_tried",
    "rows",
    "status",
)
MAX_VALUE_CHARS = 60


def build_report(
    problems: Sequence[Problem],
    *,
    file: str,
    registry: str | None,
    stored_path: str,
    context: Mapping[str, str],
    created_at: datetime | None = None,
) -> dict[str, Any]:
    """The JSON-ready report; ``context`` carries dump facts (see ``KNOWN_CONTEXT``)."""
    report: dict[str, Any] = {
        "file": file,
        "registry": registry,
        "stored_path": stored_path,
        "created_at": (created_at or datetime.now(UTC)).isoformat(timespec="seconds"),
    }
    for key in KNOWN_CONTEXT:
        report[key] = context.get(key)
    report["status"] = context.get("status", "quarantined")
    report["context"] = {k: v for k, v in context.items() if k not in KNOWN_CONTEXT}
    report["problems"] = [p.to_dict() for p in problems]
    return report


def to_json(report: Mapping[str, Any]) -> str:
    return json.dumps(report, ensure_ascii=False, indent=2) + "\n"


def _value(text: str) -> str:
    """Quote a value for the text report, shortened and with control characters visible."""
    short = text if len(text) <= MAX_VALUE_CHARS else text[: MAX_VALUE_CHARS - 1] + "…"
    return "'" + short.encode("unicode_escape").decode("ascii", "replace").replace("'", "\\'") + "'"


def _example(ex: Example) -> str:
    parts = []
    if ex.line is not None:
        parts.append(f"line {ex.line}")
    if ex.record is not None:
        parts.append(f"record {ex.record}")
    where = " ".join(parts) or "somewhere"
    if ex.column is not None and ex.value is None:
        where += f" ({ex.column})"
    return where if ex.value is None else f"{where} {_value(ex.value)}"


def problem_line(p: Problem) -> str:
    """One problem as an actionable sentence: where, which rule, how many, examples."""
    where = []
    if p.line is not None:
        where.append(f"line {p.line}")
    if p.column is not None:
        where.append(f"column {p.column}")
    head = f"[{p.severity.value.upper()}] {p.check_id}"
    text = f"{head}: {', '.join(where)}: {p.message}" if where else f"{head}: {p.message}"
    if p.examples:
        text += ", e.g. " + "; ".join(_example(e) for e in p.examples)
    return text


def render_text(report: Mapping[str, Any], problems: Sequence[Problem]) -> str:
    """The text twin of :func:`build_report`, problems most severe first."""
    lines = [
        f"Dump quarantined: {report['file']}",
        f"  registry: {report.get('registry') or '(unrouted)'}"
        + (f", form: {report['form']}" if report.get("form") else ""),
    ]
    for key in ("dump_id", "sha256", "bytes", "encoding", "encodings_tried", "rows"):
        if report.get(key):
            lines.append(f"  {key.replace('_', ' ')}: {report[key]}")
    lines.append(f"  original kept byte-identical at: {report['stored_path']}")
    for key, value in sorted(report.get("context", {}).items()):
        lines.append(f"  {key}: {value}")
    order = {"fatal": 0, "error": 1, "warning": 2}
    ranked = sorted(problems, key=lambda p: (order.get(p.severity.value, 3), p.line or 0))
    lines.append("")
    lines.append(f"{len(ranked)} problem(s):" if ranked else "No problems recorded.")
    lines.extend(f"- {problem_line(p)}" for p in ranked)
    fatal = [p for p in ranked if p.severity.value == "fatal"]
    if fatal:
        lines.append("")
        lines.append(
            "Fix the FATAL problems in the export and deliver the file again; "
            "ERROR and WARNING problems alone would not have stopped the load."
        )
    return "\n".join(lines) + "\n"
