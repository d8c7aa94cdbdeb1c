"""Problems found in a dump or a landed file, in a form a report and the DQ results both use.

A problem never carries a cell value of an identifier column: examples hold positions
(line, column, record number) and, for non-identifier columns only, the offending value.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Severity(StrEnum):
    FATAL = "fatal"  # the dump is quarantined
    ERROR = "error"  # loaded, recorded as a failed data-quality result
    WARNING = "warning"  # loaded, recorded as a warning


@dataclass(frozen=True)
class Example:
    line: int | None = None  # physical line in the file (1 = header)
    record: int | None = None  # data record number (1 = first data row)
    column: str | None = None
    value: str | None = None  # never set for identifier columns


@dataclass(frozen=True)
class Problem:
    check_id: str  # id in the check registry (kvalreg/dq/checks.yaml)
    severity: Severity
    message: str  # human sentence; names no fnr or key
    file: str  # file name as landed (escaped if not valid UTF-8)
    column: str | None = None
    line: int | None = None  # first offending physical line, when known
    count: int = 1
    examples: tuple[Example, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d
