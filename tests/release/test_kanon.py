"""k-anonymity on a crafted table with known violations."""

from __future__ import annotations

import polars as pl

from kvalreg.release.kanon import k_anonymise

# classes on (sex, band): A = (1, 70-79) 6 persons; B = (2, 70-79) 5 persons;
# C = (1, 80-89) 2 persons; D = (2, 80-89) one person with three episodes.
ROWS = (
    [(f"a{i}", 1, "70-79") for i in range(6)]
    + [(f"b{i}", 2, "70-79") for i in range(5)]
    + [("c0", 1, "80-89"), ("c1", 1, "80-89")]
    + [("d0", 2, "80-89")] * 3
)
TABLE = pl.DataFrame(ROWS, schema=["person", "sex", "band"], orient="row")


def test_suppress_removes_exactly_the_records_in_small_classes() -> None:
    out, report = k_anonymise(TABLE, ["sex", "band"], "person", 5, "suppress")
    assert report.violating_records == 5  # C (2) and D (3 episodes of one person)
    assert report.suppressed_records == 5
    assert report.suppressed_persons == 3
    assert report.generalised_records == 0
    assert out.height == 11 and report.records_out == 11
    assert set(out["person"].str.head(1)) == {"a", "b"}


def test_generalise_blanks_the_last_identifier_first_then_suppresses_the_rest() -> None:
    out, report = k_anonymise(TABLE, ["sex", "band"], "person", 5, "generalise")
    # blanking band merges C and D into (1, *) = 2 persons and (2, *) = 1 person: still too
    # small; blanking sex too makes one class of 3 persons: still < 5, so all 5 are removed.
    assert report.blanked == {"band": 5, "sex": 5}
    assert report.suppressed_records == 5
    assert out.height == 11


def test_generalise_keeps_records_once_their_class_is_big_enough() -> None:
    out, report = k_anonymise(TABLE, ["sex", "band"], "person", 3, "generalise")
    # k = 3: C (2 persons) and D (1) violate. Blanking band leaves (1, *) with 2 persons and
    # (2, *) with 1; blanking sex too gives one class (*, *) of 3 persons: k-anonymous.
    assert report.violating_records == 5
    assert report.blanked == {"band": 5, "sex": 5}
    assert report.generalised_records == 5 and report.suppressed_records == 0
    blanked = out.filter(pl.col("person").str.contains("^[cd]"))
    assert blanked.height == 5
    assert blanked["sex"].is_null().all() and blanked["band"].is_null().all()
    assert out.filter(pl.col("person").str.contains("^[ab]")).equals(TABLE.head(11))


def test_a_clean_table_is_untouched() -> None:
    clean = TABLE.filter(pl.col("band") == "70-79")
    out, report = k_anonymise(clean, ["sex", "band"], "person", 5, "generalise")
    assert out.equals(clean)
    assert report.violating_records == report.suppressed_records == 0
