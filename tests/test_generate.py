"""The generator: determinism, valid Tenor numbers, clean data, exact planted ground truth.

Everything is re-derived here from the written files with polars and the codebook, not from
the generator's internals, so a bookkeeping error in the generator makes these tests fail.
"""

from __future__ import annotations

import io
import json
import re
import tracemalloc
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from kvalreg import fnr
from kvalreg.codebook import Variable, VarType
from kvalreg.codebook.mrs import read_rapport
from kvalreg.codebook.oqr import read_klokebok
from kvalreg.generate import CHECKS, GROUND_TRUTH, generate
from kvalreg.reference import known_resh, load_units
from kvalreg.registry import BUILTIN_DIR, Registry, load_registries

ROWS = 2500
CHUNK = 1000  # several chunks even for small test sizes


@pytest.fixture(scope="module")
def regs() -> dict[str, Registry]:
    return load_registries([BUILTIN_DIR])


@pytest.fixture(scope="module")
def dumps(regs: dict[str, Registry], tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = {}
    for name, seed in (("hoftebrudd", 1), ("hjerneslag", 2)):
        for defects in (False, True):
            d = tmp_path_factory.mktemp(f"{name}_{defects}")
            generate(regs[name], d, rows=ROWS, seed=seed, defects=defects, chunk_rows=CHUNK)
            out[(name, defects)] = d
    return out


def _truth(d: Path) -> dict:
    return json.loads((d / GROUND_TRUTH).read_text(encoding="utf-8"))


def _read(reg: Registry, path: Path, encoding: str) -> pl.DataFrame:
    text = path.read_bytes().decode(encoding)
    return pl.read_csv(
        io.BytesIO(text.encode("utf-8")),
        separator=reg.format.separator,
        infer_schema=False,
    )


def _form_frame(reg: Registry, d: Path, form: str) -> pl.DataFrame:
    truth = _truth(d)
    enc = reg.extra["synthetic"]["export"]["encoding"]
    return _read(reg, d / truth["files"]["forms"][form], enc)


def _npr_frame(regs: dict[str, Registry], d: Path) -> pl.DataFrame:
    return _read(regs["npr"], d / _truth(d)["files"]["npr"], "utf-8")


# -- an independent evaluation of the codebook rules -------------------------------------


def _parse(var: Variable, reg: Registry, col: pl.Expr) -> pl.Expr:
    f = reg.format
    match var.type:
        case VarType.NUMERIC:
            return col.str.replace(f.decimal, ".", literal=True).cast(pl.Float64, strict=False)
        case VarType.DATE:
            return col.str.strptime(pl.Date, f.date_formats[0], strict=False)
        case VarType.DATETIME:
            return col.str.strptime(pl.Datetime, f.datetime_formats[0], strict=False)
        case VarType.TIME:
            return col.str.strptime(pl.Time, "%H:%M", strict=False)
        case VarType.BOOLEAN:
            return pl.when(col.is_in([*f.true_values, *f.false_values])).then(col)
        case VarType.CODED:
            return pl.when(col.str.contains(r"^-?\d+$")).then(col)
    return col


def _limit(var: Variable, value: float | str) -> object:
    return date.fromisoformat(value) if isinstance(value, str) else value


def violations(reg: Registry, form: str, df: pl.DataFrame) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {c: {} for c in CHECKS}

    def put(check: str, name: str, n: int) -> None:
        if n:
            out[check][name] = n

    for v in reg.form(form).variables:
        col = pl.col(v.name)
        parsed = _parse(v, reg, col)
        frame = df.select(raw=col, val=parsed)
        raw, val = pl.col("raw"), pl.col("val")
        if v.mandatory:
            put("mandatory_missing", v.name, frame.filter(raw.is_null()).height)
        put("type_conformance", v.name, frame.filter(raw.is_not_null() & val.is_null()).height)
        if v.type is VarType.CODED:
            put(
                "allowed_values",
                v.name,
                frame.filter(val.is_not_null() & ~val.is_in(list(v.values))).height,
            )
        if v.type in (VarType.NUMERIC, VarType.DATE):
            hard = pl.lit(False)
            if v.min is not None:
                hard = hard | (val < _limit(v, v.min))
            if v.max is not None:
                hard = hard | (val > _limit(v, v.max))
            soft = pl.lit(False)
            if v.min_plausible is not None:
                soft = soft | (val < _limit(v, v.min_plausible))
            if v.max_plausible is not None:
                soft = soft | (val > _limit(v, v.max_plausible))
            put("hard_limits", v.name, frame.filter(hard.fill_null(False)).height)
            put(
                "plausibility_limits",
                v.name,
                frame.filter(soft.fill_null(False) & ~hard.fill_null(False)).height,
            )
        if v.unique:
            values = frame.filter(raw.is_not_null())["raw"]
            put("unique", v.name, values.len() - values.n_unique())
    k = reg.keys
    if k.fnr in df.columns:
        put(
            "fnr_invalid",
            k.fnr,
            sum(1 for x in df[k.fnr].drop_nulls().to_list() if not fnr.is_valid(x)),
        )
    if k.unit in df.columns:
        known = known_resh()
        put(
            "resh_unknown",
            k.unit,
            sum(1 for x in df[k.unit].drop_nulls().to_list() if x not in known),
        )
    put("duplicate_rows", "*", df.height - df.unique().height)
    types = {v.name: v for v in reg.form(form).variables}
    for rule in reg.date_rules:
        if rule.form != form:
            continue
        e = _parse(types[rule.earlier], reg, pl.col(rule.earlier)).cast(pl.Datetime)
        later = _parse(types[rule.later], reg, pl.col(rule.later)).cast(pl.Datetime)
        put(
            "date_order",
            f"{rule.earlier}<={rule.later}",
            df.filter((e > later).fill_null(False)).height,
        )
    return out


# -- tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
def test_same_seed_same_bytes_other_seed_other_bytes(
    regs: dict[str, Registry], name: str, tmp_path: Path
) -> None:
    runs = {}
    for label, seed in (("a", 7), ("b", 7), ("c", 8)):
        generate(regs[name], tmp_path / label, rows=300, seed=seed, defects=True, chunk_rows=200)
        runs[label] = {p.name: p.read_bytes() for p in sorted((tmp_path / label).iterdir())}
    assert runs["a"] == runs["b"]
    assert len(runs["a"]) == 5  # two forms, NPR extract, codebook, ground truth
    for file_name, content in runs["a"].items():
        if file_name in runs["c"] and not file_name.endswith((".xlsx", "klokebok.csv")):
            assert runs["c"][file_name] != content, file_name


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
def test_file_names_encodings_and_shipped_codebook(
    regs: dict[str, Registry], dumps: dict, name: str
) -> None:
    reg, d = regs[name], dumps[(name, False)]
    truth = _truth(d)
    for form in reg.forms:
        file_name = truth["files"]["forms"][form.name]
        assert reg.match_file(file_name) == form
        raw = (d / file_name).read_bytes()
        assert raw.count(b"\r\n") >= ROWS // 2  # CRLF record ends
        if name == "hoftebrudd":
            assert raw.startswith(b"\xef\xbb\xbf")
            raw[3:].decode("utf-8")
        else:
            with pytest.raises(UnicodeDecodeError):  # cp1252 with æøå is not UTF-8
                raw.decode("utf-8")
    assert regs["npr"].match_file(truth["files"]["npr"])
    shipped = d / truth["files"]["codebook"]
    reader = read_rapport if shipped.suffix == ".xlsx" else read_klokebok
    assert reader(shipped) == reg.codebook


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
def test_free_text_exercises_quoting(regs: dict[str, Registry], dumps: dict, name: str) -> None:
    reg, d = regs[name], dumps[(name, False)]
    texts = _form_frame(reg, d, reg.forms[0].name)["Kommentar"].drop_nulls().to_list()
    assert any(";" in t for t in texts)
    assert any('"' in t for t in texts)
    assert any("\n" in t for t in texts)
    assert not any(re.search(r"\d{11}", t) for t in texts)


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
def test_every_fnr_is_a_valid_tenor_number(
    regs: dict[str, Registry], dumps: dict, name: str
) -> None:
    reg, d = regs[name], dumps[(name, False)]
    numbers = _form_frame(reg, d, reg.forms[0].name)[reg.keys.fnr].to_list()
    numbers += _npr_frame(regs, d)["Fnr"].to_list()
    kinds = Counter(fnr.parse(x).kind.value for x in numbers)  # type: ignore[union-attr]
    assert set(kinds) <= {"tenor", "tenor_dnr"}
    base = _form_frame(reg, d, reg.forms[0].name)
    per_patient = base.group_by(reg.keys.patient).agg(pl.col(reg.keys.fnr).n_unique())
    assert per_patient[reg.keys.fnr].max() == 1
    assert base[reg.keys.fnr].n_unique() == base[reg.keys.patient].n_unique()


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
def test_clean_data_breaks_no_rule(regs: dict[str, Registry], dumps: dict, name: str) -> None:
    reg, d = regs[name], dumps[(name, False)]
    for form in reg.forms:
        df = _form_frame(reg, d, form.name)
        assert df.height > 0
        assert violations(reg, form.name, df) == {c: {} for c in CHECKS}
    assert violations(regs["npr"], "aktivitet", _npr_frame(regs, d)) == {c: {} for c in CHECKS}
    assert all(not checks for f in _truth(d)["defects"].values() for checks in f.values())


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
def test_planted_defects_match_ground_truth(
    regs: dict[str, Registry], dumps: dict, name: str
) -> None:
    reg, d = regs[name], dumps[(name, True)]
    truth = _truth(d)["defects"]
    for form in reg.forms:
        found = violations(reg, form.name, _form_frame(reg, d, form.name))
        assert found == truth[form.name]
    base = truth[reg.forms[0].name]
    for check in CHECKS:
        if check != "type_conformance" or name == "hoftebrudd":
            assert base[check], f"nothing planted for {check}"


def _coverage(reg: Registry, regs: dict[str, Registry], d: Path) -> dict:
    k = reg.keys
    base = _form_frame(reg, d, reg.forms[0].name)
    reg_keys = (
        base.filter(pl.col(k.status) == "1")
        .select(fnr=k.fnr, resh=k.unit, day=k.event_date)
        .unique()
    )
    npr = _npr_frame(regs, d).select(fnr="Fnr", resh="AvdRESH", day="InnDato").unique()
    joined = reg_keys.with_columns(r=pl.lit(True)).join(
        npr.with_columns(n=pl.lit(True)), on=["fnr", "resh", "day"], how="full", coalesce=True
    )
    joined = joined.with_columns(
        year=pl.col("day").str.slice(6, 4).cast(pl.Int64),
        cat=pl.when(pl.col("r") & pl.col("n"))
        .then(pl.lit("b"))
        .when(pl.col("r"))
        .then(pl.lit("a"))
        .otherwise(pl.lit("c")),
    )
    counts = joined.group_by("resh", "year", "cat").len()
    out: dict = {}
    for resh, year, cat, n in counts.iter_rows():
        out.setdefault((resh, year), {"a": 0, "b": 0, "c": 0})[cat] = n
    return out


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
@pytest.mark.parametrize("defects", [False, True])
def test_coverage_recomputed_from_files(
    regs: dict[str, Registry], dumps: dict, name: str, defects: bool
) -> None:
    reg, d = regs[name], dumps[(name, defects)]
    truth = {(r["resh"], r["year"]): r for r in _truth(d)["coverage"]}
    found = _coverage(reg, regs, d)
    assert found.keys() == truth.keys()
    for key, abc in found.items():
        t = truth[key]
        assert abc == {x: t[x] for x in "abc"}, key
        assert t["dg_registry"] == round((t["a"] + t["b"]) / sum(abc.values()), 6)
    total = {x: sum(v[x] for v in found.values()) for x in "abc"}
    assert total["a"] > 0 and total["b"] > 2 * total["c"] > 0  # under-reported, mostly linked


def test_coverage_reflects_planted_underreporting(
    regs: dict[str, Registry], tmp_path: Path
) -> None:
    generate(regs["hoftebrudd"], tmp_path, rows=30_000, seed=3, defects=False)
    rows = _truth(tmp_path)["coverage"]
    by_unit: dict[str, list[int]] = {}
    planted = {}
    for r in rows:
        acc = by_unit.setdefault(r["resh"], [0, 0])
        acc[0] += r["c"]
        acc[1] += r["a"] + r["b"] + r["c"]
        planted[r["resh"]] = r["planted_underreporting"]
    # c also holds the NPR events of incomplete forms (~4 %): compare with that allowance.
    errors = [c / n - planted[resh] for resh, (c, n) in by_unit.items() if n > 300]
    assert len(errors) > 20
    assert 0 < np.median(errors) < 0.08
    assert max(abs(e) for e in errors) < 0.15


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
@pytest.mark.parametrize("defects", [False, True])
def test_timeliness_recomputed_from_files(
    regs: dict[str, Registry], dumps: dict, name: str, defects: bool
) -> None:
    reg, d = regs[name], dumps[(name, defects)]
    k = reg.keys
    base = _form_frame(reg, d, reg.forms[0].name).unique(maintain_order=True)
    f = reg.format
    frame = (
        base.filter(pl.col(k.status) == "1")
        .select(
            resh=k.unit,
            event=pl.col(k.event_date).str.strptime(pl.Date, f.date_formats[0]),
            reg=pl.col(k.registered).str.strptime(pl.Datetime, f.datetime_formats[0]).dt.date(),
        )
        .with_columns(
            delay=(pl.col("reg") - pl.col("event")).dt.total_days(), year=pl.col("event").dt.year()
        )
    )
    deadline = reg.deadline_days
    found = frame.group_by("resh", "year").agg(
        count=pl.len(),
        median=pl.col("delay").median(),
        within=(pl.col("delay") <= deadline).sum(),
    )
    truth = {(r["resh"], r["year"]): r for r in _truth(d)["timeliness"]["units"]}
    assert len(truth) == found.height
    for resh, year, count, median, within in found.iter_rows():
        t = truth[(resh, int(year))]
        assert (t["count"], t["median_days"], t["within_deadline"]) == (count, median, within)


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
def test_outcomes_recomputed_and_close_to_planted(
    regs: dict[str, Registry], dumps: dict, name: str
) -> None:
    reg, d = regs[name], dumps[(name, True)]
    truth = _truth(d)["outcomes"]["indicators"]
    base_name = reg.forms[0].name
    k = reg.keys
    for ind in truth:
        if ind["form"] != base_name:
            continue
        df = _form_frame(reg, d, base_name).unique(maintain_order=True)
        df = df.filter((pl.col(k.status) == "1") & pl.col(ind["variable"]).is_not_null())
        got = df.group_by(
            pl.col(k.unit).alias("resh"), pl.col(k.event_date).str.slice(6, 4).cast(pl.Int64)
        ).agg(num=(pl.col(ind["variable"]) == ind["value"]).sum(), den=pl.len())
        expected = {
            (r["resh"], r["year"]): (r["numerator"], r["denominator"]) for r in ind["units"]
        }
        assert {(r, y): (n, m) for r, y, n, m in got.iter_rows()} == expected
        close = [
            abs(r["numerator"] / r["denominator"] - r["planted_rate"]) <= r["tolerance"]
            for r in ind["units"]
            if r["planted_rate"] is not None and r["denominator"] >= 10
        ]
        assert close and sum(close) / len(close) > 0.95


def test_recoded_resh_follows_the_event_date(regs: dict[str, Registry], dumps: dict) -> None:
    reg = regs["hoftebrudd"]
    base = _form_frame(reg, dumps[("hoftebrudd", False)], "operasjon")
    by_key: dict[str, list] = {}
    for u in load_units():
        by_key.setdefault(u.unit_key, []).append(u)
    seen = 0
    for rows in by_key.values():
        for u in rows if len(rows) > 1 else ():
            days = base.filter(pl.col("AvdRESH") == u.resh)["OperasjonsDato"].str.strptime(
                pl.Date, "%d.%m.%Y"
            )
            seen += days.len()
            assert days.min() >= u.valid_from
            assert u.valid_to is None or days.max() <= u.valid_to
    assert seen > 0


def test_memory_does_not_grow_with_rows(regs: dict[str, Registry], tmp_path: Path) -> None:
    """Six times the rows (2 vs 12 chunks) must not raise the traced peak noticeably."""
    peaks = []
    for rows in (10_000, 60_000):
        tracemalloc.start()
        try:
            generate(
                regs["hoftebrudd"],
                tmp_path / str(rows),
                rows=rows,
                seed=1,
                defects=True,
                chunk_rows=5_000,
            )
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
    assert peaks[1] < 1.15 * peaks[0], peaks


def test_person_ids_are_distinct_valid_tenor_numbers_up_to_capacity() -> None:
    from datetime import timedelta

    from kvalreg.generate.persons import PersonIds

    ids = PersonIds(date(1900, 1, 1), date(2039, 12, 31), seed=5)  # the whole supported range
    index = np.concatenate([np.arange(20_000), ids.capacity - 1 - np.arange(20_000)])
    people = ids.people(index)
    numbers = people.fnr.tolist()
    assert len(set(numbers)) == len(numbers)
    for number, birth in zip(numbers[::50], people.birth_day[::50], strict=True):
        parsed = fnr.parse(number)
        assert parsed is not None and parsed.kind.value in ("tenor", "tenor_dnr")
        assert parsed.birth_date == date(1970, 1, 1) + timedelta(days=int(birth))
    with pytest.raises(ValueError, match="birth range"):
        ids.people(np.array([ids.capacity]))


def test_persons_sets_the_number_of_distinct_people(
    regs: dict[str, Registry], tmp_path: Path
) -> None:
    generate(regs["hoftebrudd"], tmp_path, rows=3000, seed=5, defects=False, persons=1000)
    (dump,) = tmp_path.glob("DataDump_Prod_Operasjon_*.csv")
    table = pl.read_csv(dump, separator=";", infer_schema=False, encoding="utf8-lossy")
    assert table.height == 3000
    assert abs(table["Fodselsnummer"].n_unique() - 1000) <= 2
    with pytest.raises(ValueError, match="persons"):
        generate(regs["hoftebrudd"], tmp_path, rows=10, seed=5, defects=False, persons=11)
