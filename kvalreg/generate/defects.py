"""Plant data-quality defects with exactly known counts, one defect per row.

Each planted defect goes to its own row, chosen from a shuffled pool without replacement, so a
row triggers exactly the checks recorded for it. Variables that other numbers depend on (keys,
``unik`` variables, outcomes, date-rule members, sources of other variables' hints) are never
touched by the value defects, so coverage, timeliness and outcome ground truth stay exact; the
key defects (invalid fnr, unknown RESH, duplicates) are reflected in those numbers because they
are computed from the values as written.

Check ids are those of the validator (``kvalreg/dq``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from kvalreg.codebook import Variable, VarType
from kvalreg.dq.checks import row_check_ids
from kvalreg.generate.columns import Table
from kvalreg.generate.model import HintError
from kvalreg.registry import DateRule, Form, Registry

CHECKS = row_check_ids()  # ground truth lists every row-level check, planted or not
WHOLE_ROW = "*"  # variable key for checks about whole rows (duplicate_rows)
NOT_A_NUMBER = "ukjent"  # what a type-conformance defect writes into a numeric field
_VARS_PER_CHECK = 3


def rule_name(rule: DateRule) -> str:
    """How ground truth names a date rule in the ``variable`` position."""
    return f"{rule.earlier}<={rule.later}"


def empty_counts() -> dict[str, dict[str, int]]:
    return {check: {} for check in CHECKS}


def key_columns(registry: Registry) -> set[str]:
    k = registry.keys
    return {
        x for x in (k.patient, k.episode, k.unit, k.fnr, k.event_date, k.registered, k.status) if x
    }


def protected(
    registry: Registry, form: Form, hints: dict[str, dict[str, Any]], outcomes: set[str]
) -> set[str]:
    """Variables no value defect may touch (see module docstring)."""
    names = key_columns(registry) | outcomes
    names |= {v.name for v in form.variables if v.unique}
    for rule in registry.date_rules:
        if rule.form == form.name:
            names |= {rule.earlier, rule.later}
    for hint in hints.values():
        if "from" in hint:
            names.add(hint["from"])
        names |= set(hint.get("only_if", {}))
    return names


def _step(var: Variable) -> float:
    return 10.0 ** -(var.decimals or 0)


def _hard_value(var: Variable) -> float | None:
    if var.max is not None:
        return float(var.max) + _step(var)
    if var.min is not None:
        return float(var.min) - _step(var)
    return None


def _implausible_value(var: Variable) -> float | None:
    """A value outside the plausibility limits but inside the hard limits, if there is room."""
    step = _step(var)
    if var.max_plausible is not None:
        v = float(var.max_plausible) + step
        if var.max is None or v <= float(var.max):
            return v
    if var.min_plausible is not None:
        v = float(var.min_plausible) - step
        if var.min is None or v >= float(var.min):
            return v
    return None


def _bad_code(var: Variable) -> str:
    return next(c for c in ("99", "98", "77", "88", "999") if c not in var.values)


class _Pool:
    """Rows handed out at most once."""

    def __init__(self, rng: np.random.Generator, n: int) -> None:
        self.order = rng.permutation(n)
        self.next = 0

    def take(self, k: int, ok: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
        rest = self.order[self.next :]
        if ok is not None:
            rest = rest[ok(rest)]
        chosen = rest[:k]
        used = set(chosen.tolist())
        keep = [r for r in self.order[self.next :].tolist() if r not in used]
        self.order = np.concatenate([self.order[: self.next], chosen, np.array(keep, dtype=int)])
        self.next += len(chosen)
        return chosen


def plant(
    registry: Registry,
    form: Form,
    table: Table,
    *,
    per_variable: int,
    avoid: set[str],
    rng: np.random.Generator,
    unknown_resh: Iterator[int],
) -> tuple[Table, dict[str, dict[str, int]]]:
    """Plant defects into ``table``; return the table (with duplicates appended) and counts."""
    counts = empty_counts()
    candidates = [
        v for v in form.variables if v.name not in avoid and v.type is not VarType.DERIVED
    ]

    def pick(pred: Callable[[Variable], bool]) -> list[Variable]:
        found = [v for v in candidates if pred(v)]
        chosen = rng.permutation(len(found))[:_VARS_PER_CHECK]
        return [found[i] for i in sorted(chosen)]

    plans: list[tuple[str, str, Any]] = []
    for v in pick(lambda v: v.mandatory):
        plans.append(("mandatory_missing", v.name, None))
    for v in pick(lambda v: v.type is VarType.NUMERIC and not v.mandatory):
        plans.append(("type_conformance", v.name, NOT_A_NUMBER))
    for v in pick(lambda v: v.type is VarType.CODED):
        plans.append(("allowed_values", v.name, _bad_code(v)))
    for v in pick(lambda v: v.type is VarType.NUMERIC and _hard_value(v) is not None):
        plans.append(("hard_limits", v.name, _hard_value(v)))
    for v in pick(lambda v: v.type is VarType.NUMERIC and _implausible_value(v) is not None):
        plans.append(("plausibility_limits", v.name, _implausible_value(v)))
    k = registry.keys
    if k.fnr in table.columns:
        plans.append(("fnr_invalid", k.fnr, None))
    if k.unit in table.columns:
        plans.append(("resh_unknown", k.unit, None))
    rules = [r for r in registry.date_rules if r.form == form.name]
    plans += [("date_order", rule_name(r), r) for r in rules]
    plans.append(("duplicate_rows", WHOLE_ROW, None))

    n = min(per_variable, table.n // (2 * len(plans)))
    pool = _Pool(rng, table.n)
    cols = table.columns
    duplicates = np.zeros(0, dtype=np.int64)
    keys = key_columns(registry)
    for check, name, arg in plans:
        if check == "date_order":
            rows = _reverse_dates(registry, form, table, arg, pool, n, rng, keys)
        else:
            rows = pool.take(n)
        if check == "mandatory_missing":
            cols[name].missing[rows] = True
        elif check == "type_conformance":
            table.overrides.setdefault(name, {}).update({int(r): arg for r in rows})
        elif check in ("allowed_values", "hard_limits", "plausibility_limits"):
            col = cols[name]
            if check == "allowed_values":
                col.values = col.values.astype(object)
            col.values[rows] = arg
            col.missing[rows] = False
        elif check == "fnr_invalid":
            col = cols[name]
            col.values = col.values.astype(object)
            for r in rows:
                text = col.values[r]
                col.values[r] = text[:10] + str((int(text[10]) + 1 + rng.integers(0, 9)) % 10)
        elif check == "resh_unknown":
            cols[name].values[rows] = [next(unknown_resh) for _ in rows]
        elif check == "duplicate_rows":
            duplicates = rows
            for v in form.variables:
                if v.unique and len(rows):
                    counts["unique"][v.name] = len(rows)
        if len(rows):
            counts[check][name] = len(rows)
    return table.append_copies(np.sort(duplicates)), counts


def _reverse_dates(
    registry: Registry,
    form: Form,
    table: Table,
    rule: DateRule,
    pool: _Pool,
    n: int,
    rng: np.random.Generator,
    keys: set[str],
) -> np.ndarray:
    """Make ``earlier > later`` on ``n`` rows by moving the side that is not a key."""
    cols = table.columns
    types = {v.name: v.type for v in form.variables}

    def day(name: str, rows: np.ndarray) -> np.ndarray:
        v = cols[name].values[rows]
        return v // 1440 if types[name] is VarType.DATETIME else v

    move = rule.later if rule.later not in keys else rule.earlier
    if move in keys:
        raise HintError(f"date rule {rule_name(rule)}: both sides are keys; cannot plant")
    other = rule.earlier if move == rule.later else rule.later
    rows = pool.take(n, lambda r: ~cols[other].missing[r])
    shift = rng.integers(1, 4, len(rows))
    new_day = day(other, rows) + (shift if move == rule.earlier else -shift)
    scale = 1440 if types[move] is VarType.DATETIME else 1
    cols[move].values[rows] = new_day * scale + (
        cols[move].values[rows] % scale if scale > 1 else 0
    )
    cols[move].missing[rows] = False
    for r in registry.date_rules:
        if r.form != form.name or r == rule or move not in (r.earlier, r.later):
            continue
        both = ~cols[r.earlier].missing[rows] & ~cols[r.later].missing[rows]
        if (both & (day(r.earlier, rows) > day(r.later, rows))).any():
            raise HintError(f"reversing {rule_name(rule)} would also break {rule_name(r)}")
    return rows
