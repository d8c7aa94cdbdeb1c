"""Pseudonyms: deterministic per project, unlinkable across projects, letters only; the
master secret is created 0600 and refused when others can read it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from kvalreg.release.pseudonym import (
    MASTER_SECRET_FILE,
    SecretError,
    day_shifts,
    derive_key,
    master_secret,
    pseudonymise,
    pseudonyms,
)

MASTER = bytes(range(32))


def test_master_secret_is_created_0600_in_a_0700_folder_and_reused(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    first = master_secret(secrets)
    path = secrets / MASTER_SECRET_FILE
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o700
    assert master_secret(secrets) == first


def test_a_master_secret_readable_by_others_is_refused(tmp_path: Path) -> None:
    master_secret(tmp_path)
    os.chmod(tmp_path / MASTER_SECRET_FILE, 0o644)
    with pytest.raises(SecretError, match="chmod 600") as err:
        master_secret(tmp_path)
    assert MASTER.hex() not in str(err.value)


def test_pseudonyms_are_stable_within_a_project() -> None:
    key = derive_key(MASTER, "pseudonym", "P1")
    ids = pl.Series("PasientID", [5, 7, 5, 11, 7])
    once, again = pseudonyms(ids, key), pseudonyms(ids, derive_key(MASTER, "pseudonym", "P1"))
    assert once.to_list() == again.to_list()
    assert once[0] == once[2] and once[1] == once[4]
    assert once.n_unique() == 3


def test_pseudonyms_are_unlinkable_across_projects() -> None:
    ids = pl.Series("PasientID", np.arange(1, 20_001))
    a = pseudonyms(ids, derive_key(MASTER, "pseudonym", "P1"))
    b = pseudonyms(ids, derive_key(MASTER, "pseudonym", "P2"))
    assert set(a.to_list()).isdisjoint(b.to_list())
    # no positional relation either: the same person's letters agree no more than chance
    same = np.frombuffer("".join(a).encode(), "u1") == np.frombuffer("".join(b).encode(), "u1")
    assert abs(same.mean() - 1 / 16) < 0.005


def test_pseudonyms_are_letters_only_and_cannot_look_like_an_fnr() -> None:
    out = pseudonyms(pl.Series("x", ["30108299939", "P0001", ""]), derive_key(MASTER, "p", "q"))
    assert all(len(p) == 32 and p.isalpha() and p.islower() for p in out)
    assert out.n_unique() == 3


def test_integer_and_string_ids_with_the_same_text_get_different_pseudonyms() -> None:
    key = derive_key(MASTER, "pseudonym", "P1")
    as_int = pseudonyms(pl.Series("x", [42]), key)[0]
    as_str = pseudonyms(pl.Series("x", ["42"]), key)[0]
    assert as_int != as_str


def test_nulls_stay_null_and_the_column_is_replaced_in_place() -> None:
    key = derive_key(MASTER, "pseudonym", "P1")
    frame = pl.DataFrame({"a": [1, 2, 3], "PasientID": [10, None, 10], "b": ["x", "y", "z"]})
    out = pseudonymise(frame, "PasientID", key)
    assert out.columns == ["a", "pseudonym", "b"]
    assert out["pseudonym"][1] is None
    assert out["pseudonym"][0] == out["pseudonym"][2]


def test_ids_too_long_for_one_block_are_refused_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="longer than 14 bytes") as err:
        pseudonyms(pl.Series("x", ["a-very-long-identifier"]), derive_key(MASTER, "p", "q"))
    assert "a-very-long" not in str(err.value)


def test_day_shifts_are_per_person_nonzero_and_bounded() -> None:
    key = derive_key(MASTER, "date-shift", "P1")
    ids = pl.Series("PasientID", np.repeat(np.arange(5000), 2))
    shifts = day_shifts(ids, key, 30).to_numpy()
    assert (shifts[0::2] == shifts[1::2]).all(), "every row of a person moves alike"
    assert shifts.min() >= -30 and shifts.max() <= 30 and (shifts != 0).all()
    assert len(set(shifts.tolist())) == 60
