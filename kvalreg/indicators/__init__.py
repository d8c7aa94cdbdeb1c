"""Quality indicator definitions: data in each registry folder, never code.

Each registry may hold an ``indicators.yaml`` beside its ``registry.yaml``. An entry has the
columns of SKDE imongr's ``ind`` table (so the definitions can be uploaded to
kvalitetsregistre.no unchanged) plus, as in Sweden's ``nkbcind``, a declarative population
(the denominator filter) and outcome (the numerator, or the value for a median/mean) written
as SQL expressions over the registry's ``int_<registry>__episodes`` model. The dbt marts read
these definitions from the generated sources file, so a new indicator is a new entry here and
never a new model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

import yaml

INDICATORS_FILE = "indicators.yaml"

# imongr's indicator types; ``dg_andel`` is a coverage indicator fed by the NPR comparison.
PROPORTION_TYPES = frozenset({"andel", "beregnet_andel"})
VALUE_TYPES = frozenset({"median", "gjennomsnitt"})
COUNT_TYPES = frozenset({"antall"})
DG_TYPE = "dg_andel"
TYPES = PROPORTION_TYPES | VALUE_TYPES | COUNT_TYPES | {DG_TYPE}

DEFAULT_MIN_DENOMINATOR = 5
ID_RE = re.compile(r"^[a-z][a-z0-9_]{1,62}$")
# The expressions are trusted registry configuration, like the codebook, yet one statement
# must never become two: a ';' or a comment marker has no place in a filter expression.
_FORBIDDEN_SQL = re.compile(r";|--|/\*")

# The order of imongr's ``ind`` columns, for the exported definitions file.
IMONGR_IND_COLUMNS = (
    "id",
    "dg_id",
    "include",
    "title",
    "name",
    "type",
    "sformat",
    "measure_unit",
    "min_denominator",
    "min_value",
    "max_value",
    "level_green",
    "level_yellow",
    "level_direction",
    "short_description",
    "long_description",
    "registry_id",
)


@dataclass(frozen=True)
class Indicator:
    """One indicator: imongr ``ind`` columns plus its declarative population and outcome."""

    id: str
    registry_id: str
    title: str
    name: str
    type: str
    level_direction: int  # 1 = high is good, 0 = low is good
    level_green: float | None
    level_yellow: float | None
    min_denominator: int
    short_description: str
    long_description: str
    dg_id: str | None = None
    include: int = 1
    sformat: str = ""
    measure_unit: str = ""
    min_value: float | None = None
    max_value: float | None = None
    population: str = ""  # SQL filter over the episodes model: who is in the denominator
    outcome: str = ""  # SQL: boolean numerator (proportions) or the value (median, mean)
    unit: str = "unit_resh"  # episodes column naming the attributed unit (RESH)
    period: str = "event_date"  # episodes column whose year is the indicator year

    @property
    def is_proportion(self) -> bool:
        return self.type in PROPORTION_TYPES

    def to_meta(self) -> dict[str, object]:
        """Plain dict for the generated dbt sources file (stable key order)."""
        return asdict(self)

    def imongr_row(self) -> dict[str, object]:
        row = asdict(self)
        return {c: row[c] for c in IMONGR_IND_COLUMNS}


@dataclass(frozen=True)
class RegistryIndicators:
    """A registry's indicator file: the definitions and the episode column for `resident`."""

    registry: str
    resident_municipality: str | None
    indicators: tuple[Indicator, ...]


def load_indicators(registry: str, folder: Path) -> RegistryIndicators | None:
    """The registry's ``indicators.yaml``, validated; None when the registry has none."""
    path = folder / INDICATORS_FILE
    if not path.is_file():
        return None
    cfg = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = cfg.get("indicators") or []
    indicators = tuple(_indicator(registry, e, path) for e in entries)
    validate(indicators, path)
    return RegistryIndicators(
        registry=registry,
        resident_municipality=cfg.get("resident_municipality"),
        indicators=indicators,
    )


def _indicator(registry: str, entry: Mapping[str, object], path: Path) -> Indicator:
    known = set(Indicator.__dataclass_fields__) - {"registry_id"}
    unknown = set(entry) - known
    if unknown:
        raise ValueError(f"{path}: indicator {entry.get('id')!r}: unknown keys {sorted(unknown)}")
    fields = dict(entry)
    fields.setdefault("min_denominator", DEFAULT_MIN_DENOMINATOR)
    fields.setdefault("short_description", "")
    fields.setdefault("long_description", "")
    fields.setdefault("name", fields.get("id", ""))
    fields.setdefault("level_green", None)
    fields.setdefault("level_yellow", None)
    try:
        return Indicator(registry_id=registry, **fields)  # type: ignore[arg-type]
    except TypeError as exc:
        raise ValueError(f"{path}: indicator {entry.get('id')!r}: {exc}") from None


def validate(indicators: Iterable[Indicator], source: Path | str) -> None:
    """imongr's constraints plus what the marts need to compute each indicator."""
    items = list(indicators)
    ids = [i.id for i in items]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        raise ValueError(f"{source}: duplicate indicator ids {dupes}")
    by_id = {i.id: i for i in items}
    for ind in items:
        where = f"{source}: indicator {ind.id!r}"
        if not ID_RE.match(ind.id):
            raise ValueError(f"{where}: id must match {ID_RE.pattern}")
        if ind.type not in TYPES:
            raise ValueError(f"{where}: type {ind.type!r} not one of {sorted(TYPES)}")
        if ind.level_direction not in (0, 1):
            raise ValueError(f"{where}: level_direction must be 0 or 1")
        if ind.min_denominator < 1:
            raise ValueError(f"{where}: min_denominator must be at least 1")
        green, yellow = ind.level_green, ind.level_yellow
        if green is not None and yellow is not None:
            if ind.level_direction == 1 and green < yellow:
                raise ValueError(f"{where}: level_green must be >= level_yellow (direction 1)")
            if ind.level_direction == 0 and green > yellow:
                raise ValueError(f"{where}: level_green must be <= level_yellow (direction 0)")
        if ind.type == DG_TYPE:
            if ind.population or ind.outcome:
                raise ValueError(f"{where}: a dg_andel comes from the NPR comparison, not a filter")
        elif not (ind.population and ind.outcome):
            raise ValueError(f"{where}: population and outcome are required")
        for text in (ind.population, ind.outcome, ind.unit, ind.period):
            if _FORBIDDEN_SQL.search(text):
                raise ValueError(f"{where}: expressions must not contain ';' or comments")
        if ind.dg_id is not None:
            linked = by_id.get(ind.dg_id)
            if linked is None or linked.type != DG_TYPE:
                raise ValueError(f"{where}: dg_id {ind.dg_id!r} is not a dg_andel of the registry")
