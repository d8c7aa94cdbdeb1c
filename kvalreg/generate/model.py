"""The ``synthetic:`` section of a registry.yaml, and the per-unit parameters planted from it.

Everything registry-specific about the synthetic data (years, age range, volumes, delays,
outcome rates, value distributions, the export file conventions) lives in registry.yaml; this
module only reads it, checks it against the codebook, and draws the per-unit parameters that
the ground truth later reports as "planted".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np

from kvalreg.codebook import VarType
from kvalreg.generate.columns import date_of, day_of
from kvalreg.reference import Municipality, Unit, load_municipalities, load_units
from kvalreg.registry import Registry


class HintError(ValueError):
    """The ``synthetic:`` section of a registry.yaml is incomplete or inconsistent."""


def _pair(spec: dict[str, Any], key: str, where: str) -> tuple[float, float]:
    try:
        lo, hi = spec[key]
    except (KeyError, TypeError, ValueError):
        raise HintError(f"{where}: {key} must be a [low, high] pair") from None
    if lo > hi:
        raise HintError(f"{where}: {key} low > high")
    return float(lo), float(hi)


@dataclass(frozen=True)
class Export:
    file_name: str  # str.format template with {form}, {registry} and {date} (a datetime)
    encoding: str
    line_terminator: str
    codebook_file: str | None


@dataclass(frozen=True)
class Outcome:
    form: str
    variable: str
    value: str
    rate: tuple[float, float]


@dataclass(frozen=True)
class Followup:
    form: str
    share: float
    date: str
    offset_days: tuple[int, int]


@dataclass(frozen=True)
class Hints:
    export: Export
    first_day: int
    last_day: int
    birth_first: date
    birth_last: date
    episodes: tuple[np.ndarray, np.ndarray]  # counts, probabilities
    same_unit_share: float
    status_codes: np.ndarray
    status_p: np.ndarray
    completed_status: str
    unit_size: tuple[float, float]
    local_share: float
    delay_median: tuple[float, float]
    delay_sigma: float
    delay_max: int
    registration_hours: tuple[float, float]
    npr_registry: str
    underreporting: tuple[float, float]
    registry_only: tuple[float, float]
    npr_variables: dict[str, dict[str, Any]]
    outcomes: tuple[Outcome, ...]
    followups: tuple[Followup, ...]
    variables: dict[str, dict[str, dict[str, Any]]]  # form -> variable -> hint


def export_hints(registry: Registry) -> Export:
    spec = registry.extra.get("synthetic", {}).get("export")
    if not spec:
        raise HintError(f"{registry.name}: synthetic.export is required")
    return Export(
        file_name=spec["file_name"],
        encoding=spec.get("encoding", "utf-8"),
        line_terminator=spec.get("line_terminator", "\n"),
        codebook_file=spec.get("codebook_file"),
    )


def episodes_for_mean(mean: float) -> tuple[np.ndarray, np.ndarray]:
    """Episodes per person as a two-point distribution on floor(mean) and floor(mean) + 1."""
    low = int(mean)
    high_share = mean - low
    if low == 0:
        return np.array([1]), np.array([1.0])
    return np.array([low, low + 1]), np.array([1.0 - high_share, high_share])


def load_hints(registry: Registry) -> Hints:
    where = f"{registry.name}: synthetic"
    s = registry.extra.get("synthetic")
    if not isinstance(s, dict):
        raise HintError(f"{where}: section missing")
    y0, y1 = (int(y) for y in _pair(s, "years", where))
    b0, b1 = (int(y) for y in _pair(s, "birth_years", where))
    episodes = {int(k): float(v) for k, v in s["episodes_per_person"].items()}
    status = {str(k): float(v) for k, v in s["status_shares"].items()}
    reg = s["registration"]
    npr = s["npr"]
    k = registry.keys
    if not (k.event_date and k.registered and k.status and k.fnr):
        raise HintError(f"{where}: keys fnr, event_date, registered and status are required")
    outcomes = tuple(
        Outcome(o["form"], o["variable"], str(o["value"]), _pair(o, "rate", where))
        for o in s.get("outcomes", [])
    )
    followups = tuple(
        Followup(
            form,
            float(f["share"]),
            f["date"],
            tuple(int(x) for x in _pair(f, "offset_days", where)),  # type: ignore[arg-type]
        )
        for form, f in s.get("followup", {}).items()
    )
    hints = Hints(
        export=export_hints(registry),
        first_day=day_of(date(y0, 1, 1)),
        last_day=day_of(date(y1, 12, 31)),
        birth_first=date(b0, 1, 1),
        birth_last=date(b1, 12, 31),
        episodes=(
            np.array(list(episodes), dtype=np.int64),
            np.array(list(episodes.values())) / sum(episodes.values()),
        ),
        same_unit_share=float(s.get("same_unit_share", 1.0)),
        status_codes=np.array(list(status)),
        status_p=np.array(list(status.values())) / sum(status.values()),
        completed_status="1",
        unit_size=_pair(s, "unit_size", where),
        local_share=float(s.get("home_municipality_local_share", 1.0)),
        delay_median=_pair(reg, "median_days", where),
        delay_sigma=float(reg["sigma"]),
        delay_max=int(reg["max_days"]),
        registration_hours=_pair(reg, "hours", where),
        npr_registry=npr["registry"],
        underreporting=_pair(npr, "underreporting", where),
        registry_only=_pair(npr, "registry_only", where),
        npr_variables=npr.get("variables", {}),
        outcomes=outcomes,
        followups=followups,
        variables=s.get("variables", {}),
    )
    _check(registry, hints, where)
    return hints


def _check(registry: Registry, hints: Hints, where: str) -> None:
    base = [f for f in registry.forms if f.role == "base"]
    if len(base) != 1:
        raise HintError(f"{where}: exactly one base form is required")
    if hints.completed_status not in set(hints.status_codes):
        raise HintError(f"{where}: status_shares must include the completed status '1'")
    for o in hints.outcomes:
        var = registry.codebook.variable(o.form, o.variable)
        if var.type not in (VarType.BOOLEAN, VarType.CODED) or not var.mandatory:
            raise HintError(f"{where}: outcome {o.variable} must be a mandatory coded/boolean")
    for f in hints.followups:
        if registry.form(f.form).role != "followup":
            raise HintError(f"{where}: followup {f.form} is not a followup form")
    for form, spec in hints.variables.items():
        for name, hint in spec.items():
            var = registry.codebook.variable(form, name)
            if var.mandatory and hint.get("missing", 0) > 0:
                raise HintError(f"{where}: {form}.{name} is mandatory but has a missing share")


@dataclass(frozen=True)
class UnitModel:
    """Per treating unit (``unit_key``) parameters, drawn once per seed."""

    keys: tuple[str, ...]
    units: tuple[tuple[Unit, ...], ...]  # the RESH rows of each unit_key, by validity
    weight: np.ndarray
    underreporting: np.ndarray
    registry_only: np.ndarray
    delay_median: np.ndarray
    outcome_rate: dict[tuple[str, str], np.ndarray]  # (form, variable) -> rate per unit
    home: tuple[tuple[str, ...], ...]  # candidate home municipalities per unit
    all_municipalities: tuple[str, ...]

    @classmethod
    def draw(cls, hints: Hints, rng: np.random.Generator) -> UnitModel:
        by_key: dict[str, list[Unit]] = {}
        for u in load_units():
            by_key.setdefault(u.unit_key, []).append(u)
        last_day = hints.last_day + max((f.offset_days[1] for f in hints.followups), default=0)
        for key, rows in by_key.items():
            rows.sort(key=lambda u: u.valid_from)
            for day in (date_of(hints.first_day), date_of(last_day)):
                if not any(u.valid_on(day) for u in rows):
                    raise HintError(f"unit {key}: no RESH valid on {day}")
        keys = tuple(by_key)
        n = len(keys)
        municipalities = load_municipalities()
        home = tuple(_home(by_key[k][-1], municipalities) for k in keys)
        lo, hi = hints.unit_size
        return cls(
            keys=keys,
            units=tuple(tuple(by_key[k]) for k in keys),
            weight=np.exp(rng.uniform(np.log(lo), np.log(hi), n)),
            underreporting=rng.uniform(*hints.underreporting, n),
            registry_only=rng.uniform(*hints.registry_only, n),
            delay_median=rng.uniform(*hints.delay_median, n),
            outcome_rate={(o.form, o.variable): rng.uniform(*o.rate, n) for o in hints.outcomes},
            home=home,
            all_municipalities=tuple(m.kommunenummer for m in municipalities),
        )

    def resh_on(self, unit: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The RESH id valid for each (unit, day): re-coded units switch id by date."""
        first = np.array([int(rows[0].resh) for rows in self.units], dtype=np.int64)
        out = first[unit]
        for i, rows in enumerate(self.units):
            for u in rows[1:]:
                out[(unit == i) & (day >= day_of(u.valid_from))] = int(u.resh)
        return out


def _home(unit: Unit, municipalities: tuple[Municipality, ...]) -> tuple[str, ...]:
    """The unit's HF catchment; private units without one draw from their RHF."""
    local = tuple(m.kommunenummer for m in municipalities if m.hf == unit.hf)
    return local or tuple(m.kommunenummer for m in municipalities if m.rhf == unit.rhf)
