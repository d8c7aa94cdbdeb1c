"""The check registry (``checks.yaml``) as typed objects, and its copy in ``dq.checks``.

Checks are data rather than code so that thresholds and severities can be tuned per
deployment without touching validation logic, and so that ``dq.results`` rows can be joined to
a human description in the warehouse (the DataQualityDashboard model).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Any

import duckdb
import yaml

from kvalreg.ingest.problems import Severity

CHECKS_FILE = Path(__file__).with_name("checks.yaml")


class Dimension(StrEnum):
    """The Norwegian quality dimensions (Nasjonalt servicemiljø)."""

    RELEVANS = "relevans"
    KOMPLETTHET = "kompletthet"
    KORREKTHET = "korrekthet"
    RELIABILITET = "reliabilitet"
    SAMMENLIGNBARHET = "sammenlignbarhet"
    AKTUALITET = "aktualitet"


class KahnCategory(StrEnum):
    CONFORMANCE = "conformance"
    COMPLETENESS = "completeness"
    PLAUSIBILITY = "plausibility"


class KahnSubcategory(StrEnum):
    VERIFICATION = "verification"
    VALIDATION = "validation"


class Level(StrEnum):
    FILE = "file"
    TABLE = "table"
    FIELD = "field"


@dataclass(frozen=True)
class Check:
    id: str
    name: str
    description: str
    dimension: Dimension
    kahn_category: KahnCategory
    kahn_subcategory: KahnSubcategory
    level: Level
    severity: Severity
    threshold_pct: float
    fatal_above_pct: float | None = None

    def passes(self, pct: float) -> bool:
        """A result passes while its violating share stays within the tolerated threshold."""
        return pct <= self.threshold_pct

    def severity_for(self, pct: float) -> Severity:
        """Mass violations of some checks mean a mis-formatted file, which must not be loaded."""
        if self.fatal_above_pct is not None and pct > self.fatal_above_pct:
            return Severity.FATAL
        return self.severity


_FIELDS = {
    "name",
    "description",
    "dimension",
    "kahn_category",
    "kahn_subcategory",
    "level",
    "severity",
    "threshold_pct",
    "fatal_above_pct",
}


def parse_checks(doc: Mapping[str, Any], source: str = "<checks>") -> dict[str, Check]:
    """Validate and convert the YAML document; a typo must fail at load, not mid-ingest."""
    raw = doc.get("checks")
    if not isinstance(raw, Mapping) or not raw:
        raise ValueError(f"{source}: expected a non-empty 'checks' mapping")
    checks: dict[str, Check] = {}
    for check_id, spec in raw.items():
        where = f"{source}: check {check_id!r}"
        if not isinstance(spec, Mapping):
            raise ValueError(f"{where}: expected a mapping")
        unknown = set(spec) - _FIELDS
        missing = _FIELDS - {"fatal_above_pct"} - set(spec)
        if unknown or missing:
            raise ValueError(
                f"{where}: unknown fields {sorted(unknown)}, missing {sorted(missing)}"
            )
        try:
            check = Check(
                id=str(check_id),
                name=str(spec["name"]),
                description=str(spec["description"]),
                dimension=Dimension(spec["dimension"]),
                kahn_category=KahnCategory(spec["kahn_category"]),
                kahn_subcategory=KahnSubcategory(spec["kahn_subcategory"]),
                level=Level(spec["level"]),
                severity=Severity(spec["severity"]),
                threshold_pct=float(spec["threshold_pct"]),
                fatal_above_pct=(
                    None if spec.get("fatal_above_pct") is None else float(spec["fatal_above_pct"])
                ),
            )
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        if not 0 <= check.threshold_pct <= 100:
            raise ValueError(f"{where}: threshold_pct must be within 0..100")
        if check.fatal_above_pct is not None and not (
            check.threshold_pct <= check.fatal_above_pct <= 100
        ):
            raise ValueError(f"{where}: fatal_above_pct must be within threshold_pct..100")
        checks[check.id] = check
    return checks


@cache
def load_checks(path: Path = CHECKS_FILE) -> Mapping[str, Check]:
    """The check registry, keyed by id (cached: it is read on every ingest)."""
    return parse_checks(yaml.safe_load(path.read_text(encoding="utf-8")), source=str(path))


def row_check_ids() -> tuple[str, ...]:
    """Checks counted over the rows of a readable dump (not about the file or landing entry),
    in registry order: what a planted defect can trigger."""
    return tuple(cid for cid, c in load_checks().items() if c.level is not Level.FILE)


CHECKS_DDL = """
CREATE TABLE IF NOT EXISTS dq.checks (
    check_id VARCHAR, name VARCHAR, description VARCHAR, dimension VARCHAR,
    kahn_category VARCHAR, kahn_subcategory VARCHAR, level VARCHAR, severity VARCHAR,
    threshold_pct DOUBLE, fatal_above_pct DOUBLE
)"""


def write_checks(con: duckdb.DuckDBPyConnection, checks: Mapping[str, Check]) -> None:
    """Replace ``dq.checks`` with ``checks``; runs inside the caller's transaction, if any."""
    con.execute("CREATE SCHEMA IF NOT EXISTS dq")
    con.execute(CHECKS_DDL)
    con.execute("DELETE FROM dq.checks")
    con.executemany(
        "INSERT INTO dq.checks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [
            [
                c.id,
                c.name,
                c.description,
                c.dimension.value,
                c.kahn_category.value,
                c.kahn_subcategory.value,
                c.level.value,
                c.severity.value,
                c.threshold_pct,
                c.fatal_above_pct,
            ]
            for c in checks.values()
        ],
    )
