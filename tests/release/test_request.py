"""Release requests: the demo request passes; each listed failure gets an error naming the
file and the field, and nothing is built."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
import yaml

from kvalreg.cli import main
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from kvalreg.release.build import build_release, check
from kvalreg.release.request import RequestError, load_request
from release.support import DEMO_REQUEST

TODAY = date(2026, 11, 23)


def demo() -> dict:
    return yaml.safe_load(DEMO_REQUEST.read_text(encoding="utf-8"))


def write(tmp_path: Path, data: dict, name: str = "request.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def test_the_demo_request_is_valid(hoftebrudd: dict[str, Registry]) -> None:
    request = load_request(DEMO_REQUEST, hoftebrudd, TODAY)
    assert request.release_id == "hoftebrudd-demo@v1"
    assert request.wants_linkage
    assert "Fodselsnummer" not in request.variables["operasjon"]


def _set(data: dict, dotted: str, value: object) -> None:
    *parents, last = dotted.split(".")
    node = data
    for p in parents:
        node = node[p]
    if value is None:
        del node[last]
    else:
        node[last] = value


BAD = {
    "unknown variable": (
        "variables.operasjon",
        ["Alder", "Skostorrelse"],
        "variables.operasjon[1]",
        "unknown variable 'Skostorrelse'",
    ),
    "not releasable": (
        "variables.operasjon", ["Alder", "Kommentar"], "variables.operasjon[1]",
        "not classed as releasable",
    ),
    "direct identifier": (
        "variables.operasjon", ["Fodselsnummer"], "variables.operasjon[0]",
        "direct identifier",
    ),
    "internal patient id": (
        "variables.oppfolging", ["PasientID"], "variables.oppfolging[0]", "direct identifier",
    ),
    "expired approval": ("approvals.expires", "2025-06-30", "approvals.expires", "expired"),
    "missing art. 6": ("legal_basis.gdpr_art6", None, "legal_basis.gdpr_art6", "missing"),
    "missing art. 9": ("legal_basis.gdpr_art9", "", "legal_basis.gdpr_art9", "missing"),
    "missing national basis": ("legal_basis.national", None, "legal_basis.national", "missing"),
    "unknown registry": ("registry", "fotball", "registry", "unknown registry"),
    "reversed period": ("period.to", "2019-01-01", "period", "after"),
    "bad generalisation": ("generalise.Alder", "month", "generalise.Alder", "does not fit"),
    "unknown indicator": ("derived", ["hoftebrudd_x"], "derived[0]", "not an indicator"),
    "linkage without party": ("linkage.party", None, "linkage.party", "missing"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_bad_request_names_file_and_field(
    case: str, hoftebrudd: dict[str, Registry], release_env: Layout, tmp_path: Path
) -> None:
    field, value, reported, message = BAD[case]
    data = demo()
    data["generalise"].pop("Alder") if field == "variables.operasjon" else None
    _set(data, field, value)
    path = write(tmp_path, data)
    with pytest.raises(RequestError) as err:
        load_request(path, hoftebrudd, TODAY)
    text = str(err.value)
    assert str(path) in text
    assert f"field {reported!r}" in text and message in text, text
    with pytest.raises(RequestError):
        build_release(path, release_env, hoftebrudd)
    assert not release_env.releases.exists(), "nothing is produced from a bad request"


def test_a_period_outside_the_data_is_refused_and_nothing_built(
    hoftebrudd: dict[str, Registry], release_env: Layout, tmp_path: Path
) -> None:
    data = demo()
    data["period"] = {"from": date(2030, 1, 1), "to": date(2030, 12, 31)}
    path = write(tmp_path, data)
    load_request(path, hoftebrudd)  # the file itself is fine
    with pytest.raises(RequestError, match="field 'period': 2030-01-01 to 2030-12-31 is outside"):
        check(path, release_env, hoftebrudd)
    with pytest.raises(RequestError, match="outside the data"):
        build_release(path, release_env, hoftebrudd)
    assert not release_env.releases.exists()


def test_all_problems_are_reported_together(
    hoftebrudd: dict[str, Registry], tmp_path: Path
) -> None:
    data = demo()
    data["approvals"]["expires"] = date(2020, 1, 1)
    del data["legal_basis"]
    data["variables"]["operasjon"].append("Kommentar")
    with pytest.raises(RequestError) as err:
        load_request(write(tmp_path, data), hoftebrudd, TODAY)
    assert len(err.value.problems) == 5  # expiry, three legal bases, Kommentar


def test_cli_check_exits_2_with_the_problem(
    hoftebrudd: dict[str, Registry], release_env: Layout, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert main(["release", "check", str(DEMO_REQUEST)]) == 0
    assert "OK, release hoftebrudd-demo@v1" in capsys.readouterr().out
    data = demo()
    data["approvals"]["expires"] = date(2021, 5, 17)
    path = write(tmp_path, data)
    assert main(["release", "check", str(path)]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and "field 'approvals.expires'" in err


def test_invalid_yaml_names_line_and_column(
    hoftebrudd: dict[str, Registry], tmp_path: Path
) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("request: x\nversion: [1\n", encoding="utf-8")
    with pytest.raises(RequestError, match=r"broken.yaml: line 3, column 1: not valid YAML"):
        load_request(path, hoftebrudd)
