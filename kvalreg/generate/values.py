"""Fill a form's non-key variables from the codebook and the registry's per-variable hints.

Generic over the codebook: a variable without hints gets a type-driven default (coded: uniform
over its non-"unknown" codes; boolean: 50/50; numeric: uniform between its plausibility
limits). Every generated value respects the codebook (allowed codes, hard and plausibility
limits, mandatory = never empty), so clean data triggers no data-quality check.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from kvalreg.codebook import Variable, VarType
from kvalreg.generate.columns import Column
from kvalreg.generate.model import HintError


@dataclass(frozen=True)
class RowContext:
    """What the engine knows about each row besides the form's own columns."""

    rng: np.random.Generator
    n: int
    event_day: np.ndarray  # base event date (days) of the episode
    birth_day: np.ndarray | None
    male: np.ndarray | None
    home: Callable[[], np.ndarray]  # draws home municipalities for the rows
    registry_name: str
    outcome: dict[str, tuple[str, np.ndarray]]  # variable -> (outcome value, per-row rate)


def _limits(var: Variable) -> tuple[float, float]:
    lo = var.min_plausible if var.min_plausible is not None else var.min
    hi = var.max_plausible if var.max_plausible is not None else var.max
    if lo is None or hi is None:
        raise HintError(f"{var.form}.{var.name}: numeric variable needs limits to generate")
    return float(lo), float(hi)


def _weights(var: Variable, hint: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    weights = {str(k): float(v) for k, v in hint.get("weights", {}).items()}
    if not weights:
        weights = {c: 1.0 for c in var.values if c not in var.missing_codes}
    if var.type is VarType.CODED and not set(weights) <= set(var.values):
        raise HintError(f"{var.form}.{var.name}: weights name codes not in the codebook")
    p = np.array(list(weights.values()))
    return np.array(list(weights)), p / p.sum()


def _numeric(var: Variable, hint: dict[str, Any], rng: np.random.Generator, n: int) -> np.ndarray:
    lo, hi = _limits(var)
    match hint.get("dist", "uniform"):
        case "normal":
            raw = rng.normal(hint["mean"], hint["sd"], n)
        case "lognormal":
            raw = hint["median"] * np.exp(hint["sigma"] * rng.standard_normal(n))
        case "uniform":
            raw = rng.uniform(lo, hi, n)
        case other:
            raise HintError(f"{var.form}.{var.name}: unknown numeric dist {other!r}")
    return np.round(np.clip(raw, lo, hi), var.decimals or 0)


def _values(
    var: Variable,
    hint: dict[str, Any],
    ctx: RowContext,
    cols: dict[str, Column],
    by_name: dict[str, Variable],
) -> np.ndarray:
    rng, n = ctx.rng, ctx.n
    dist = hint.get("dist")
    if var.name in ctx.outcome:
        value, rate = ctx.outcome[var.name]
        hit = rng.random(n) < rate
        if var.type is VarType.BOOLEAN:
            return np.where(hit, int(value), 1 - int(value)).astype(np.int8)
        others = [c for c in var.values if c != value and c not in var.missing_codes]
        return np.where(hit, value, np.array(others)[rng.integers(0, len(others), n)])
    match dist:
        case "age":
            age = _age(ctx.birth_day, ctx.event_day).astype(np.float64)
            lo, hi = _limits(var)
            if age.min(initial=lo) < lo or age.max(initial=hi) > hi:
                raise HintError(f"{var.form}.{var.name}: birth_years give ages outside the limits")
            return age
        case "sex_from_fnr":
            return np.where(ctx.male, str(hint["male"]), str(hint["female"]))
        case "municipality":
            return ctx.home()
        case "registry_name":
            return np.full(n, ctx.registry_name, dtype=object)
        case "date":
            lo, hi = hint["offset_days"]
            return _source_day(hint["from"], cols, by_name) + rng.integers(lo, hi + 1, n)
        case "datetime":
            lo, hi = (int(60 * h) for h in hint["offset_hours"])
            day = _source_day(hint["from"], cols, by_name)
            return day * 1440 + rng.integers(lo, hi + 1, n)
        case "time":
            h0, h1 = hint.get("hours", (0, 24))
            return rng.integers(int(h0 * 60), int(h1 * 60), n)
        case "text":
            if "samples" in hint:
                return np.array(hint["samples"], dtype=object)[
                    rng.integers(0, len(hint["samples"]), n)
                ]
            codes, p = _weights(var, hint)
            return codes.astype(object)[rng.choice(len(codes), n, p=p)]
    match var.type:
        case VarType.NUMERIC:
            return _numeric(var, hint, rng, n)
        case VarType.CODED:
            codes, p = _weights(var, hint)
            return codes[rng.choice(len(codes), n, p=p)]
        case VarType.BOOLEAN:
            return (rng.random(n) < float(hint.get("p_true", 0.5))).astype(np.int8)
    raise HintError(f"{var.form}.{var.name}: a {var.type.value} variable needs a 'dist' hint")


def _source_day(name: str, cols: dict[str, Column], by_name: dict[str, Variable]) -> np.ndarray:
    """A date or timestamp source as days (timestamps are held in minutes)."""
    values = cols[name].values
    return values // 1440 if by_name[name].type is VarType.DATETIME else values


def _age(birth: np.ndarray | None, event: np.ndarray) -> np.ndarray:
    """Completed years between birth and event day (exact, including leap days)."""
    if birth is None:
        raise HintError("dist 'age' needs a form with a person (fnr) column")
    b = np.datetime64("1970-01-01") + birth.astype("timedelta64[D]")
    e = np.datetime64("1970-01-01") + event.astype("timedelta64[D]")
    years = e.astype("M8[Y]").astype(np.int64) - b.astype("M8[Y]").astype(np.int64)

    def month_day(x: np.ndarray) -> np.ndarray:
        month = x.astype("M8[M]")
        return (month.astype(np.int64) % 12) * 100 + (x - month).astype(np.int64)

    return years - (month_day(e) < month_day(b))


def fill(
    variables: tuple[Variable, ...],
    hints: dict[str, dict[str, Any]],
    ctx: RowContext,
    cols: dict[str, Column],
) -> None:
    """Generate every variable not already in ``cols``, sources before dependants."""
    by_name = {v.name: v for v in variables}
    pending = [v for v in variables if v.name not in cols]
    while pending:
        progressed = False
        for var in list(pending):
            hint = hints.get(var.name, {})
            needs = [hint["from"]] if "from" in hint else []
            needs += list(hint.get("only_if", {}))
            if any(x not in cols for x in needs):
                continue
            values = _values(var, hint, ctx, cols, by_name)
            missing = np.zeros(ctx.n, dtype=bool)
            if hint.get("missing"):
                missing |= ctx.rng.random(ctx.n) < float(hint["missing"])
            for other, allowed in hint.get("only_if", {}).items():
                src = cols[other]
                shown = np.isin(src.values.astype(str), [str(a) for a in allowed])
                missing |= ~shown | src.missing
            if var.mandatory and missing.any():
                raise HintError(f"{var.form}.{var.name}: mandatory but conditionally empty")
            cols[var.name] = Column(values, missing)
            pending.remove(var)
            progressed = True
        if not progressed:
            names = ", ".join(v.name for v in pending)
            raise HintError(f"circular or unknown 'from'/'only_if' among: {names}")
