"""Generalisation of quasi-identifiers, as polars expressions (vectorised, no row loops).

Dates become months, years, or shift by a per-person number of days (so intervals within a
person survive); numbers become bands written ``lower-upper``; municipalities become their
health trust (HF) or regional health authority (RHF) from the national reference table.
"""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

import polars as pl

from kvalreg.release.request import Generalisation

MUNICIPALITIES = Path(__file__).resolve().parents[1] / "reference" / "municipalities.csv"


@cache
def municipality_regions() -> pl.DataFrame:
    """``kommunenummer, hf, rhf`` from ``kvalreg/reference/municipalities.csv``."""
    with MUNICIPALITIES.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter=";"))
    return pl.DataFrame({k: [r[k] for r in rows] for k in ("kommunenummer", "hf", "rhf")})


def generalise(frame: pl.DataFrame, column: str, how: Generalisation) -> pl.DataFrame:
    """``frame`` with ``column`` generalised in place; ``shift`` needs a ``shift_days`` column."""
    col = pl.col(column)
    if how.kind == "month":
        return frame.with_columns(col.dt.strftime("%Y-%m"))
    if how.kind == "year":
        return frame.with_columns(col.dt.year().cast(pl.Int32))
    if how.kind == "shift":
        return frame.with_columns(col + pl.duration(days=pl.col("shift_days")))
    if how.kind == "band":
        width = how.band or 1
        lower = (col.cast(pl.Float64) // width * width).cast(pl.Int64)
        label = pl.format("{}-{}", lower, lower + width - 1)
        return frame.with_columns(pl.when(col.is_null()).then(None).otherwise(label).alias(column))
    regions = municipality_regions().select(
        pl.col("kommunenummer").alias(column), pl.col(how.kind).alias("__region")
    )
    joined = frame.with_columns(col.cast(pl.String)).join(
        regions, on=column, how="left", maintain_order="left"
    )
    return joined.with_columns(pl.col("__region").alias(column)).drop("__region")
