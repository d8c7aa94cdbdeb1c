"""The dbt project's generated parts and the indicator definitions are data kept in step.

The sources file must equal a fresh generation from the codebooks (it is never hand-edited),
and every registry listed in dbt_project.yml must have its staging/episodes models and an
indicator file, since the marts union exactly those registries.
"""

from pathlib import Path

import pytest
import yaml

from kvalreg import dbt_sources
from kvalreg.indicators import DG_TYPE, VALUE_TYPES, Indicator, load_indicators, validate
from kvalreg.registry import BUILTIN_DIR, load_registries

PROJECT = dbt_sources.PROJECT_DIR


def test_committed_sources_equal_a_fresh_generation() -> None:
    assert dbt_sources.SOURCES_FILE.read_text(encoding="utf-8") == dbt_sources.render()


def test_check_mode_detects_a_stale_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stale = tmp_path / "_sources.generated.yml"
    stale.write_text(dbt_sources.render().replace("Pasient-ID", "Pasient"), encoding="utf-8")
    monkeypatch.setattr(dbt_sources, "SOURCES_FILE", stale)
    assert dbt_sources.main(["--check"]) == 1
    assert dbt_sources.main([]) == 0
    assert dbt_sources.main(["--check"]) == 0


def test_source_columns_document_every_codebook_variable() -> None:
    doc = yaml.safe_load(dbt_sources.render())
    tables = {
        (s["meta"]["kvalreg"]["registry"], t["name"]): t
        for s in doc["sources"]
        if "meta" in s
        for t in s["tables"]
    }
    for reg in load_registries([BUILTIN_DIR]).values():
        for form in reg.forms:
            cols = {c["name"]: c for c in tables[(reg.name, form.name)]["columns"]}
            for v in form.variables:
                assert v.label in cols[v.name]["description"]
                if v.values:
                    assert cols[v.name]["meta"]["kvalreg"]["values"] == dict(v.values)


def test_dbt_registries_var_matches_registries_with_models() -> None:
    project = yaml.safe_load((PROJECT / "dbt_project.yml").read_text(encoding="utf-8"))
    listed = set(project["vars"]["registries"])
    regs = load_registries([BUILTIN_DIR])
    with_indicators = {n for n, r in regs.items() if load_indicators(n, r.folder) is not None}
    assert listed == with_indicators
    for name in listed:
        assert (PROJECT / "models" / "intermediate" / f"int_{name}__episodes.sql").is_file()
        for form in regs[name].forms:
            path = PROJECT / "models" / "staging" / name / f"stg_{name}__{form.name}.sql"
            assert path.is_file(), path


@pytest.mark.parametrize("name", ["hoftebrudd", "hjerneslag"])
def test_each_registry_has_the_required_indicator_kinds(name: str) -> None:
    reg = load_registries([BUILTIN_DIR])[name]
    defs = load_indicators(name, reg.folder)
    assert defs is not None
    inds = [i for i in defs.indicators if i.type != DG_TYPE]
    assert len(inds) >= 3
    assert any(i.level_direction == 0 for i in inds), "one indicator where lower is better"
    assert any(i.type in VALUE_TYPES for i in inds), "one median or mean"
    assert all(i.dg_id for i in inds), "every indicator links its coverage indicator"


def _indicator(**changes: object) -> Indicator:
    base = {
        "id": "x_ind",
        "registry_id": "x",
        "title": "t",
        "name": "n",
        "type": "andel",
        "level_direction": 1,
        "level_green": 0.9,
        "level_yellow": 0.8,
        "min_denominator": 5,
        "short_description": "",
        "long_description": "",
        "population": "form_status = 1",
        "outcome": "Flag",
    }
    return Indicator(**(base | changes))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"level_green": 0.7}, "level_green must be >= level_yellow"),
        ({"level_direction": 0}, "level_green must be <= level_yellow"),
        ({"type": "prosent"}, "type"),
        ({"outcome": ""}, "population and outcome are required"),
        ({"population": "1 = 1; drop table x"}, "must not contain"),
        ({"dg_id": "missing_dg"}, "dg_id"),
    ],
)
def test_invalid_definitions_are_rejected(changes: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        validate([_indicator(**changes)], "test")
