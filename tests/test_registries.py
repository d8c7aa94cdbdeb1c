"""The built-in registries and the national reference data load and are internally consistent."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from kvalreg.generate.model import export_hints, load_hints
from kvalreg.reference import (
    known_resh,
    load_municipalities,
    load_units,
    orgnr_is_valid,
)
from kvalreg.registry import BUILTIN_DIR, Registry, load_registries

RHFS = {"Helse Sør-Øst RHF", "Helse Vest RHF", "Helse Midt-Norge RHF", "Helse Nord RHF"}


@pytest.fixture(scope="module")
def builtin() -> dict[str, Registry]:
    return load_registries([BUILTIN_DIR])


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
def test_clinical_registries_shape(builtin: dict[str, Registry], name: str) -> None:
    reg = builtin[name]
    assert 30 <= len(reg.codebook.variables) <= 60
    assert [f.role for f in reg.forms] == ["base", "followup"]
    base, followup = reg.forms
    k = reg.keys
    for col in (k.patient, k.episode, k.unit, k.fnr, k.event_date, k.registered, k.status):
        assert col in base.columns
    for col in (k.patient, k.episode, k.unit, k.registered, k.status):
        assert col in followup.columns
    assert reg.codebook.variable(base.name, k.episode).unique
    assert "Kommunenummer" in base.columns
    assert reg.deadline_days and reg.date_rules
    for rule in reg.date_rules:
        assert {rule.earlier, rule.later} <= set(reg.form(rule.form).columns)
    limited = [v for v in reg.codebook.variables if v.max is not None]
    assert len([v for v in limited if v.max_plausible is not None]) >= 3
    load_hints(reg)  # the synthetic section is complete and agrees with the codebook


def test_file_patterns_match_own_names_only(builtin: dict[str, Registry]) -> None:
    stamp = datetime(2025, 3, 4, 2, 15)
    for reg in builtin.values():
        template = export_hints(reg).file_name
        # A template without {form} names the one form the generator writes (NPR's extract;
        # NPR's coverage result is not generated): only the forms it can name are checked.
        named = [f for f in reg.forms if "{form}" in template or f.file_token in template]
        assert named, reg.name
        for form in named:
            name = template.format(form=form.file_token, registry="hoftebrudd", date=stamp)
            matches = [r.name for r in builtin.values() if r.match_file(name)]
            assert matches == [reg.name], name
            assert reg.match_file(name) == form


def test_units_cover_all_rhfs_with_valid_orgnr() -> None:
    units = load_units()
    assert 45 <= len({u.unit_key for u in units}) <= 60
    assert {u.rhf for u in units} == RHFS
    assert all(u.synthetic for u in units)
    for u in units:
        for orgnr in (u.hospital_orgnr, u.hf_orgnr, u.rhf_orgnr):
            assert orgnr_is_valid(orgnr), orgnr
    assert len(known_resh()) == len(units)


def test_orgnr_check_rejects_a_wrong_check_digit() -> None:
    good = load_units()[0].hf_orgnr
    assert orgnr_is_valid(good)
    assert not orgnr_is_valid(good[:8] + str((int(good[8]) + 1) % 10))
    assert not orgnr_is_valid("12345")


def test_resh_recoding_is_a_seamless_handover() -> None:
    by_key: dict[str, list] = {}
    for u in load_units():
        by_key.setdefault(u.unit_key, []).append(u)
    recoded = [
        sorted(rows, key=lambda u: u.valid_from) for rows in by_key.values() if len(rows) > 1
    ]
    assert recoded
    for old, new in recoded:
        assert old.resh != new.resh and old.valid_to is not None and new.valid_to is None
        assert new.valid_from == old.valid_to + timedelta(days=1)
        assert (old.unit_name, old.hf) == (new.unit_name, new.hf)


def test_municipalities_cover_every_hf() -> None:
    municipalities = load_municipalities()
    numbers = [m.kommunenummer for m in municipalities]
    assert len(numbers) == len(set(numbers))
    assert all(len(n) == 4 and n.isdigit() for n in numbers)
    assert {m.hf for m in municipalities} == {u.hf for u in load_units() if u.hf.endswith(" HF")}
    hf_rhf = {(u.hf, u.rhf) for u in load_units()}
    assert all((m.hf, m.rhf) in hf_rhf for m in municipalities)
