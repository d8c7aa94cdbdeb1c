"""Synthetic persons: a person index maps to a unique Tenor fødselsnummer, without any state.

Generation must scale to ten million rows in bounded memory, so nothing may remember which
numbers were handed out. Instead the person index itself is decoded into a birth date and a
"slot": consecutive indices walk through all birth dates of the range (in a scrambled order,
so a chunk of persons spans the whole range) and the slot picks the slot-th individual number
that has valid check digits for that date. Distinct indices therefore give distinct numbers by
construction. Slots beyond the ordinary numbers continue as Tenor D-numbers (day + 40).

The table of valid individual numbers is computed once per birth range with numpy from the
check-digit weights in :mod:`kvalreg.fnr`; the tests confirm every number with ``fnr.is_valid``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from math import gcd

import numpy as np

from kvalreg import fnr

SLOTS_PER_KIND = 400  # per birth date and kind; every date 1900-2039 has >= 410 valid
_CANDIDATES = 500  # individual numbers considered per birth date (one century range)
_BLOCK_DAYS = 1024
_EPOCH = date(1970, 1, 1)


def _days(d: date) -> int:
    return (d - _EPOCH).days


def _check_digits(first9: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Classic (k1, k2, ok) for an ``(..., 9)`` digit array, vectorised."""
    w1 = np.array(fnr.K1_WEIGHTS, dtype=np.int64)
    w2 = np.array(fnr.K2_WEIGHTS, dtype=np.int64)
    k1 = (11 - (first9 @ w1) % 11) % 11
    k2 = (11 - (first9 @ w2[:9] + w2[9] * k1) % 11) % 11
    return k1, k2, (k1 != 10) & (k2 != 10)


def _first_individual(year: int) -> int:
    """Lowest individual number of the 500-wide range Skatteetaten allocates to ``year``."""
    if 1900 <= year <= 1999:
        return 0
    if 2000 <= year <= 2039:
        return 500
    raise ValueError(f"birth year {year} outside the supported range 1900-2039")


@dataclass(frozen=True)
class People:
    """Decoded persons: arrays aligned with the person indices asked for."""

    fnr: np.ndarray  # str, 11 digits
    birth_day: np.ndarray  # int64 days since 1970-01-01
    male: np.ndarray  # bool, from the parity of the third individual digit


class PersonIds:
    """Person index -> (birth date, Tenor number), injective over ``capacity`` persons."""

    def __init__(self, first_birth: date, last_birth: date, seed: int) -> None:
        self.first_day = _days(first_birth)
        self.n_days = _days(last_birth) - self.first_day + 1
        self.capacity = self.n_days * SLOTS_PER_KIND * 2
        # An affine permutation of the dates spreads consecutive persons over the range.
        step = 7919 + 2 * (seed % 1000)
        while gcd(step, self.n_days) != 1:
            step += 1
        self._step, self._shift = step, seed % self.n_days
        self._table = np.stack([self._valid_individuals(dnr) for dnr in (False, True)])

    @staticmethod
    def _prefix_digits(
        days: np.ndarray, individual: np.ndarray, dnr: bool | np.ndarray
    ) -> np.ndarray:
        dates = (np.datetime64("1970-01-01") + days.astype("timedelta64[D]")).astype("M8[D]")
        years = dates.astype("M8[Y]").astype(np.int64) + 1970
        months = dates.astype("M8[M]").astype(np.int64) % 12 + 1
        mday = (dates - dates.astype("M8[M]")).astype(np.int64) + 1
        dd = mday + fnr.D_DAY_OFFSET * np.asarray(dnr, dtype=np.int64)
        mm = months + fnr.TENOR_MONTH_OFFSET
        yy = years % 100
        shape = np.broadcast_shapes(dd.shape, individual.shape)
        digits = np.empty((*shape, 9), dtype=np.int64)
        for pos, (value, width) in enumerate(((dd, 2), (mm, 2), (yy, 2), (individual, 3))):
            for k in range(width):
                digits[..., 2 * pos + k if pos < 3 else 6 + k] = (
                    value // 10 ** (width - 1 - k)
                ) % 10
        return digits

    def _valid_individuals(self, dnr: bool) -> np.ndarray:
        """``[date, slot]`` -> the slot-th individual number with valid check digits.

        The weighted digit sums split into a date part and an individual-number part, so the
        ``dates x candidates`` grid is broadcast additions instead of a digit loop.
        """
        days = self.first_day + np.arange(self.n_days, dtype=np.int64)
        w1 = np.array(fnr.K1_WEIGHTS, dtype=np.int64)
        w2 = np.array(fnr.K2_WEIGHTS, dtype=np.int64)
        zero = np.zeros(1, dtype=np.int64)
        date_digits = self._prefix_digits(days, zero, dnr)[:, :6]
        date1, date2 = date_digits @ w1[:6], date_digits @ w2[:6]
        years = (np.datetime64("1970-01-01") + days.astype("timedelta64[D]")).astype("M8[Y]")
        first = np.array(
            [_first_individual(int(y)) for y in years.astype(np.int64) + 1970], dtype=np.int64
        )
        all_individuals = np.arange(1000, dtype=np.int64)
        ind_digits = np.stack(
            [all_individuals // 100, all_individuals // 10 % 10, all_individuals % 10], -1
        )
        ind1, ind2 = ind_digits @ w1[6:], ind_digits @ w2[6:9]
        # Work on residues mod 11 in int16 through a lookup table: k1 = (11 - r1) % 11 is 10
        # iff r1 == 1, and k2 is 10 iff the residue of (date2 + ind2 + w2[9] * k1) is 1.
        mod11 = (np.arange(64) % 11).astype(np.int16)
        k1_term = mod11[(w2[9] * ((11 - np.arange(11)) % 11)) % 11]
        d1, d2 = (date1 % 11).astype(np.int16), (date2 % 11).astype(np.int16)
        i1, i2 = (ind1 % 11).astype(np.int16), (ind2 % 11).astype(np.int16)
        table = np.empty((self.n_days, SLOTS_PER_KIND), dtype=np.int16)
        for lo in range(0, self.n_days, _BLOCK_DAYS):  # blocks keep the transient grid small
            hi = min(lo + _BLOCK_DAYS, self.n_days)
            individual = first[lo:hi, None] + np.arange(_CANDIDATES, dtype=np.int64)[None, :]
            r1 = mod11[d1[lo:hi, None] + i1[individual]]
            r2 = mod11[d2[lo:hi, None] + i2[individual] + k1_term[r1]]
            ok = (r1 != 1) & (r2 != 1)
            if (ok.sum(axis=1) < SLOTS_PER_KIND).any():
                raise ValueError("a birth date has too few valid individual numbers")
            # The first SLOTS_PER_KIND valid candidates of each date, in ascending order.
            chosen = ok & (np.cumsum(ok, axis=1, dtype=np.int16) <= SLOTS_PER_KIND)
            offsets = np.nonzero(chosen)[1].reshape(hi - lo, SLOTS_PER_KIND)
            table[lo:hi] = first[lo:hi, None] + offsets
        return table

    def people(self, index: np.ndarray) -> People:
        if index.size and int(index.max()) >= self.capacity:
            raise ValueError(
                f"more persons than the birth range can hold ({self.capacity}); "
                "widen synthetic.birth_years"
            )
        date_pos = (self._step * (index % self.n_days) + self._shift) % self.n_days
        slot = index // self.n_days
        dnr = slot >= SLOTS_PER_KIND
        individual = self._table[dnr.astype(np.int64), date_pos, slot % SLOTS_PER_KIND]
        individual = individual.astype(np.int64)
        days = self.first_day + date_pos
        digits = self._prefix_digits(days, individual, dnr)
        k1, k2, _ = _check_digits(digits)
        number = digits @ (10 ** np.arange(10, 1, -1, dtype=np.int64)) + 10 * k1 + k2
        fnrs = np.char.zfill(number.astype(str), 11)
        return People(fnr=fnrs, birth_day=days, male=(individual % 2) == 1)
