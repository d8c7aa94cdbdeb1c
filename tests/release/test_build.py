"""Building releases on a real warehouse: contents, determinism, identifiers, key file,
versions and delivery, the release log and innsyn."""

from __future__ import annotations

import json
import shutil
import stat
import zipfile
from datetime import date
from pathlib import Path

import polars as pl
import pytest
import yaml

from kvalreg.cli import main
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from kvalreg.release.build import BuildResult, build_release, mark_delivered
from kvalreg.release.log import ReleaseLog
from kvalreg.release.package import sha256_file
from kvalreg.release.pseudonym import MASTER_SECRET_FILE, derive_key
from kvalreg.release.request import ReleaseRefused
from release.support import (
    DEMO_REQUEST,
    package_texts,
    raw_fnrs,
    single_registration_fnrs,
    valid_fnrs_in,
)

DIRECT = ("Fodselsnummer", "PasientID", "ForlopsID", "Kommentar")


def demo(**changes: object) -> dict:
    data = yaml.safe_load(DEMO_REQUEST.read_text(encoding="utf-8"))
    data.update(changes)
    return data


def request_file(folder: Path, data: dict, name: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    return path


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file()}  # fmt: skip


@pytest.fixture
def built(release_env: Layout, hoftebrudd: dict[str, Registry]) -> BuildResult:
    return build_release(DEMO_REQUEST, release_env, hoftebrudd, triggered_by="test")


def test_package_contents_and_manifest(built: BuildResult) -> None:
    folder = built.package_dir
    names = {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}
    assert names == {
        "README.md", "codebook.csv", "value_labels.csv", "k_anonymity.json", "manifest.json",
        *(f"data/{t}.{ext}" for t in ("operasjon", "oppfolging", "indikatorar")
          for ext in ("parquet", "csv")),
    }  # fmt: skip
    manifest = json.loads((folder / "manifest.json").read_text())
    assert manifest["request_sha256"] == sha256_file(DEMO_REQUEST)
    assert {f["path"] for f in manifest["files"]} == names - {"manifest.json"}
    for entry in manifest["files"]:
        path = folder / entry["path"]
        assert path.stat().st_size == entry["bytes"] and sha256_file(path) == entry["sha256"]
    with zipfile.ZipFile(built.archive) as zf:
        assert sorted(zf.namelist()) == sorted(f"{folder.name}/{n}" for n in names)
        for name in names:
            assert zf.read(f"{folder.name}/{name}") == (folder / name).read_bytes()
    assert built.rows["operasjon"] > 100 and built.persons > 100


def test_every_column_is_documented_and_readable(built: BuildResult) -> None:
    folder = built.package_dir
    codebook = pl.read_csv(folder / "codebook.csv")
    for table in ("operasjon", "oppfolging", "indikatorar"):
        parquet = pl.read_parquet(folder / "data" / f"{table}.parquet")
        csv = pl.read_csv(folder / "data" / f"{table}.csv", infer_schema=False)
        assert parquet.columns == csv.columns and parquet.height == csv.height
        documented = codebook.filter(pl.col("table") == table)["variable"].to_list()
        assert documented == parquet.columns
    labels = pl.read_csv(folder / "value_labels.csv", infer_schema=False)
    assert labels.filter(pl.col("variable") == "Kjonn")["label"].to_list() == ["Mann", "Kvinne"]
    operasjon = pl.read_parquet(folder / "data" / "operasjon.parquet")
    assert set(operasjon["Kommunenummer"].drop_nulls()) <= {
        "Helse Sør-Øst RHF", "Helse Vest RHF", "Helse Midt-Norge RHF", "Helse Nord RHF",
    }  # fmt: skip
    assert operasjon["Alder"].drop_nulls().str.contains(r"^\d+0-\d+9$").all()
    assert operasjon["OperasjonsDato"].drop_nulls().is_between(2020, 2023).all()


def test_no_direct_identifier_in_any_package_file(built: BuildResult, release_env: Layout) -> None:
    fnrs = raw_fnrs(release_env)
    assert len(fnrs) > 100
    texts = package_texts(built.package_dir)
    for path, text in texts.items():
        assert valid_fnrs_in(text) == [], path
        assert not any(f in text for f in fnrs), path
    for table in ("operasjon", "oppfolging", "indikatorar"):
        columns = pl.read_parquet_schema(built.package_dir / "data" / f"{table}.parquet")
        assert not set(columns) & set(DIRECT), table


def test_the_same_version_rebuilds_byte_identical(
    built: BuildResult, release_env: Layout, hoftebrudd: dict[str, Registry], tmp_path: Path
) -> None:
    before = tree_bytes(built.package_dir.parent)
    log_before = release_env.release_log.read_bytes()
    again = build_release(DEMO_REQUEST, release_env, hoftebrudd)
    assert tree_bytes(again.package_dir.parent) == before
    assert not again.logged and release_env.release_log.read_bytes() == log_before
    # a second home with the same warehouse and secrets builds the same bytes too
    other = Layout(tmp_path / "other")
    other.home.mkdir()
    shutil.copy2(release_env.warehouse, other.warehouse)
    third = build_release(DEMO_REQUEST, other, hoftebrudd)
    assert tree_bytes(third.package_dir.parent) == before


def test_key_file_is_separate_private_and_maps_to_real_fnrs(
    built: BuildResult, release_env: Layout
) -> None:
    assert built.linkage_archive is not None
    linkage = built.linkage_archive.parent
    assert release_env.release_packages not in linkage.parents
    assert stat.S_IMODE(built.linkage_archive.stat().st_mode) == 0o600
    assert stat.S_IMODE(linkage.stat().st_mode) == 0o700
    keys = pl.read_csv(linkage / f"{built.release_id}-linkage" / "keyfile.csv",
                       infer_schema=False)  # fmt: skip
    package = pl.read_parquet(built.package_dir / "data" / "operasjon.parquet")
    assert set(keys["person_pseudonym"]) == set(package["person_pseudonym"])
    assert set(keys["fnr"]) <= raw_fnrs(release_env)
    for text in package_texts(built.package_dir).values():
        assert "keyfile" not in text.lower() or "fnr" not in text.split("keyfile")[0][-5:]
    with zipfile.ZipFile(built.archive) as zf:
        assert not [n for n in zf.namelist() if "key" in n.lower()]


def test_a_failed_key_file_fails_the_build_and_its_rerun_writes_it_logging_once(
    release_env: Layout, hoftebrudd: dict[str, Registry]
) -> None:
    # The key file is written beside the log's append: a file where its folder should be
    # makes it fail then, and the build must fail with it rather than report a release.
    release_env.release_linkage.parent.mkdir(parents=True, exist_ok=True)
    release_env.release_linkage.write_text("in the way\n", encoding="utf-8")
    with pytest.raises(OSError):
        build_release(DEMO_REQUEST, release_env, hoftebrudd)
    log = ReleaseLog(release_env.release_log, release_env.secrets)
    assert len(list(log.entries("release"))) == 1  # the append ran beside it
    release_env.release_linkage.unlink()
    again = build_release(DEMO_REQUEST, release_env, hoftebrudd)
    assert not again.logged
    assert again.linkage_archive is not None and again.linkage_archive.is_file()
    assert len(list(log.entries("release"))) == 1
    with zipfile.ZipFile(again.linkage_archive) as zf:
        assert any(n.endswith("keyfile.csv") for n in zf.namelist())


def test_without_linkage_no_key_file(
    release_env: Layout, hoftebrudd: dict[str, Registry], tmp_path: Path
) -> None:
    path = request_file(tmp_path, demo(request="no-link", linkage={"mode": "none"}), "r.yaml")
    result = build_release(path, release_env, hoftebrudd)
    assert result.linkage_archive is None
    assert not (release_env.release_linkage / result.release_id).exists()


def test_pseudonyms_stable_within_a_project_and_unlinkable_across(
    built: BuildResult, release_env: Layout, hoftebrudd: dict[str, Registry], tmp_path: Path
) -> None:
    v2 = request_file(tmp_path, demo(version=2), "v2.yaml")
    other = request_file(
        tmp_path, demo(request="other-project", project={"id": "P2027-001", "title": "X"}),
        "other.yaml",
    )  # fmt: skip
    second = build_release(v2, release_env, hoftebrudd)
    third = build_release(other, release_env, hoftebrudd)

    def persons(result: BuildResult) -> set[str]:
        frame = pl.read_parquet(result.package_dir / "data" / "operasjon.parquet")
        return set(frame["person_pseudonym"])

    assert persons(second) == persons(built), "a new version of the project links"
    assert persons(third).isdisjoint(persons(built)), "another project cannot link"
    assert second.package_dir != built.package_dir and built.package_dir.exists()


def test_a_changed_request_needs_a_new_version_and_delivered_is_final(
    built: BuildResult, release_env: Layout, hoftebrudd: dict[str, Registry], tmp_path: Path
) -> None:
    changed = request_file(tmp_path, demo(derived=[]), "changed.yaml")
    with pytest.raises(ReleaseRefused, match="needs a new 'version'"):
        build_release(changed, release_env, hoftebrudd)
    record = built.package_dir.parent / "build.json"
    saved = record.read_text()
    record.write_text(saved.replace(built.archive_sha256, "0" * 64))  # as if older data
    with pytest.raises(ReleaseRefused, match="built from other data"):
        build_release(DEMO_REQUEST, release_env, hoftebrudd)
    record.write_text(saved)
    before = tree_bytes(built.package_dir)
    mark_delivered(release_env, built.release_id, {"target": "test", "at": "2026-11-23"})
    with pytest.raises(ReleaseRefused, match="delivered and is never overwritten"):
        build_release(DEMO_REQUEST, release_env, hoftebrudd)
    assert tree_bytes(built.package_dir) == before


def test_log_has_one_entry_per_person_and_never_an_fnr_or_the_key(
    built: BuildResult, release_env: Layout
) -> None:
    entries = list(ReleaseLog(release_env.release_log, release_env.secrets).entries())
    (release,) = [e for e in entries if e["kind"] == "release"]
    people = [e for e in entries if e["kind"] == "person"]
    assert len(people) == built.persons == release["persons"]
    assert release["approvals"]["rek"] == "REK 2026/123456"
    assert release["triggered_by"] == "test"
    assert {f["path"] for f in release["files"]} >= {"data/operasjon.parquet", "README.md"}
    text = release_env.release_log.read_text(encoding="utf-8")
    assert valid_fnrs_in(text) == []
    assert not any(f in text for f in raw_fnrs(release_env))
    master = (release_env.secrets / MASTER_SECRET_FILE).read_bytes()
    purposes = ("pseudonym", "episode", "date-shift")
    keys = [master, *(derive_key(master, p, "P2026-017") for p in purposes)]
    for path in release_env.home.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            data = path.read_bytes()
            for key in keys:
                assert key not in data and key.hex().encode() not in data, path


def test_innsyn_lists_holdings_and_the_release_without_echoing_the_fnr(
    built: BuildResult, release_env: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = pl.read_csv(
        built.linkage_archive.parent / f"{built.release_id}-linkage" / "keyfile.csv",
        infer_schema=False,
    )
    # The key file is ordered by pseudonym, which a fresh master secret makes random: pick a
    # released person with one registration rather than whoever comes first.
    once = single_registration_fnrs(release_env)
    inside = next(f for f in keys["fnr"] if f in once)
    assert main(["innsyn", inside]) == 0
    out = capsys.readouterr().out
    assert inside not in out
    assert "hoftebrudd/operasjon: 1 registration(s)" in out
    assert "release hoftebrudd-demo@v1" in out and "P2026-017" in out
    outside = sorted(raw_fnrs(release_env) - set(keys["fnr"]))[0]
    assert main(["innsyn", outside]) == 0
    out = capsys.readouterr().out
    assert "No research release has included this person." in out and outside not in out


def test_innsyn_rejects_a_malformed_number_without_echoing_it(
    release_env: Layout, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["innsyn", "1234567"]) == 2
    captured = capsys.readouterr()
    assert "1234567" not in captured.err + captured.out


def test_today_decides_expiry(
    release_env: Layout, hoftebrudd: dict[str, Registry], tmp_path: Path
) -> None:
    from kvalreg.release.request import RequestError

    with pytest.raises(RequestError, match="expired on 2030-12-31"):
        build_release(DEMO_REQUEST, release_env, hoftebrudd, today=date(2031, 1, 1))
