"""k-anonymity on the declared quasi-identifiers of a release's episode table.

An equivalence class is a combination of quasi-identifier values; it must hold at least
``k`` distinct persons (not rows: three episodes of one person are still one person). Records
in smaller classes are, as the request says, either suppressed (removed), or generalised
further by blanking quasi-identifiers one at a time from the last declared (local
suppression, the top of every generalisation hierarchy) and suppressed only if that is not
enough. The report says how many records and persons each step touched.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import polars as pl


@dataclass(frozen=True)
class KReport:
    k: int
    quasi_identifiers: tuple[str, ...]
    action: str
    records_in: int
    violating_records: int  # records in classes smaller than k before any action
    generalised_records: int  # records kept with at least one quasi-identifier blanked
    blanked: dict[str, int]  # quasi-identifier -> records where it was blanked
    suppressed_records: int
    suppressed_persons: int  # persons with no record left
    records_out: int

    def to_dict(self) -> dict[str, object]:
        out = asdict(self)
        out["quasi_identifiers"] = list(self.quasi_identifiers)
        return out


def violating(frame: pl.DataFrame, qis: list[str], person: str, k: int) -> pl.Series:
    """True for each record whose class holds fewer than ``k`` distinct persons."""
    if not qis:
        return pl.Series([False] * frame.height)
    size = frame.select(pl.col(person).n_unique().over(qis).alias("size"))["size"]
    return size < k


def k_anonymise(
    frame: pl.DataFrame, qis: list[str], person: str, k: int, action: str
) -> tuple[pl.DataFrame, KReport]:
    """The table made k-anonymous on ``qis``, and what it took."""
    bad = violating(frame, qis, person, k)
    violating_records = int(bad.sum())
    work = frame.with_columns(pl.lit(False).alias("__blanked"))
    blanked: dict[str, int] = {}
    if action == "generalise":
        for qi in reversed(qis):
            bad = violating(work, qis, person, k)
            if not bad.any():
                break
            blanked[qi] = int(bad.sum())
            work = work.with_columns(
                pl.when(bad).then(None).otherwise(pl.col(qi)).alias(qi),
                (pl.col("__blanked") | bad).alias("__blanked"),
            )
    bad = violating(work, qis, person, k)
    kept = work.filter(~bad)
    persons_before = frame[person].n_unique()
    report = KReport(
        k=k,
        quasi_identifiers=tuple(qis),
        action=action,
        records_in=frame.height,
        violating_records=violating_records,
        generalised_records=int(kept["__blanked"].sum()),
        blanked=blanked,
        suppressed_records=int(bad.sum()),
        suppressed_persons=persons_before - kept[person].n_unique(),
        records_out=kept.height,
    )
    return kept.drop("__blanked"), report
