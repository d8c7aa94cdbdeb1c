"""Ground-truth accumulators: small per-(unit, year) aggregates, updated chunk by chunk.

Memory must not grow with the number of rows, so coverage keeps counters, timeliness keeps a
histogram of whole-day delays (which gives the exact median at the end) and outcomes keep
numerator/denominator pairs. Everything is computed from the values as finally written.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

Key = tuple[int, int]  # (RESH, year)


def years_of(days: np.ndarray) -> np.ndarray:
    return (np.datetime64("1970-01-01") + days.astype("timedelta64[D]")).astype("M8[Y]").astype(
        np.int64
    ) + 1970


def _count(resh: np.ndarray, years: np.ndarray, into: Counter[Key]) -> None:
    pairs, counts = np.unique(np.stack([resh, years]), axis=1, return_counts=True)
    for (r, y), c in zip(pairs.T.tolist(), counts.tolist(), strict=True):
        into[(r, y)] += c


@dataclass
class Coverage:
    """a = registry only, b = both, c = NPR only, linked on (fnr, RESH, event date)."""

    a: Counter[Key] = field(default_factory=Counter)
    b: Counter[Key] = field(default_factory=Counter)
    c: Counter[Key] = field(default_factory=Counter)

    def add(
        self,
        registry: tuple[np.ndarray, np.ndarray, np.ndarray],
        npr: tuple[np.ndarray, np.ndarray, np.ndarray],
    ) -> None:
        """Both sides as (fnr, resh, day) arrays of distinct keys of one chunk.

        Persons never span chunks, so linking within the chunk is linking globally.
        """
        reg_keys = {(f, int(r), int(d)) for f, r, d in zip(*registry, strict=True)}
        npr_keys = {(f, int(r), int(d)) for f, r, d in zip(*npr, strict=True)}
        for keys, counter in (
            (reg_keys - npr_keys, self.a),
            (reg_keys & npr_keys, self.b),
            (npr_keys - reg_keys, self.c),
        ):
            if keys:
                _, resh, day = (np.array(x) for x in zip(*keys, strict=True))
                _count(resh.astype(np.int64), years_of(day.astype(np.int64)), counter)


@dataclass
class Timeliness:
    max_days: int
    hist: dict[Key, np.ndarray] = field(default_factory=dict)

    def add(self, resh: np.ndarray, event_day: np.ndarray, registered_day: np.ndarray) -> None:
        width = self.max_days + 1
        keys, inverse = np.unique(
            np.stack([resh, years_of(event_day)]), axis=1, return_inverse=True
        )
        flat = inverse.ravel() * width + (registered_day - event_day)
        counts = np.bincount(flat, minlength=keys.shape[1] * width).reshape(-1, width)
        for (r, y), h in zip(keys.T.tolist(), counts, strict=True):
            self.hist.setdefault((r, y), np.zeros(width, dtype=np.int64))
            self.hist[(r, y)] += h

    def rows(self, deadline: int | None) -> list[dict[str, object]]:
        out = []
        for (resh, year), h in sorted(self.hist.items()):
            n = int(h.sum())
            cum = np.cumsum(h)
            lo = int(np.searchsorted(cum, (n + 1) // 2))  # value of the lower middle element
            hi = int(np.searchsorted(cum, n // 2 + 1))  # value of the upper middle element
            row: dict[str, object] = {
                "resh": str(resh),
                "year": year,
                "count": n,
                "median_days": (lo + hi) / 2,
            }
            if deadline is not None:
                row["within_deadline"] = int(h[: deadline + 1].sum())
                row["share_within_deadline"] = round(int(h[: deadline + 1].sum()) / n, 6)
            out.append(row)
        return out


@dataclass
class Outcome:
    num: Counter[Key] = field(default_factory=Counter)
    den: Counter[Key] = field(default_factory=Counter)

    def add(self, resh: np.ndarray, years: np.ndarray, hit: np.ndarray) -> None:
        _count(resh, years, self.den)
        _count(resh[hit], years[hit], self.num)
