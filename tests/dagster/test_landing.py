"""``kvalreg.landing.scan``: every classification, on real files in a temp landing folder."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kvalreg import landing
from kvalreg.landing import HashCache, ScanResult
from kvalreg.paths import Layout
from kvalreg.registry import Registry

SETTLE = 5.0
WriteDump = Callable[..., Path]


@pytest.fixture
def content(valid_basis: str) -> str:
    return valid_basis


def _scan(
    layout: Layout,
    registries: dict[str, Registry],
    cache: HashCache | None = None,
    **kwargs: object,
) -> ScanResult:
    return landing.scan(layout, registries, cache or HashCache(), time.time(), SETTLE, **kwargs)


def _rejected(result: ScanResult) -> dict[str, str]:
    return {r.display_name: r.check_id for r in result.rejected}


def test_ready_dump_has_identifiers(
    layout: Layout, registries: dict, write_dump: WriteDump, content: str
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", content)
    result = _scan(layout, registries)
    assert result.rejected == () and result.settling == ()
    (dump,) = result.ready
    assert (dump.registry, dump.form, dump.path) == ("orchtest", "basis", path)
    assert dump.sha256 == landing.sha256_of(path)
    assert dump.size == len(content.encode())
    assert dump.dump_id == f"orchtest_basis_20240301@{dump.sha256[:12]}"


def test_followup_form_is_recognised(
    layout: Layout, registries: dict, write_dump: WriteDump
) -> None:
    write_dump("orchtest_oppf_20240301.csv", "ForlopsID;AvdRESH;OppfDato\r\n")
    (dump,) = _scan(layout, registries).ready
    assert dump.form == "oppf"


def test_fresh_file_is_settling_not_ready(
    layout: Layout, registries: dict, write_dump: WriteDump, content: str
) -> None:
    write_dump("orchtest_basis_20240301.csv", content, age_seconds=0)
    result = _scan(layout, registries)
    assert result.ready == ()
    assert [s.path.name for s in result.settling] == ["orchtest_basis_20240301.csv"]
    assert "settle window" in result.settling[0].reason


def test_file_changed_since_last_scan_is_settling(
    layout: Layout, registries: dict, write_dump: WriteDump, content: str
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", content)
    first = _scan(layout, registries)
    assert len(first.ready) == 1
    with open(path, "ab") as fh:  # an append that finished with an old timestamp
        fh.write(b"P0004;4;100001;07.02.2024;70;1\r\n")
    old = time.time() - 3600
    os.utime(path, (old, old))
    second = _scan(layout, registries, first.cache)
    assert second.ready == () and len(second.settling) == 1
    third = _scan(layout, registries, second.cache)
    assert len(third.ready) == 1 and third.ready[0].sha256 != first.ready[0].sha256


def test_hidden_and_temporary_names_are_ignored(
    layout: Layout, registries: dict, write_dump: WriteDump, content: str
) -> None:
    for name in (
        ".orchtest_basis_20240301.csv.part",
        "orchtest_basis_20240301.csv.tmp",
        "x.part",
        ".hidden",
    ):
        write_dump(name, content)
    (layout.landing / ".DS_Store").write_bytes(b"")
    result = _scan(layout, registries)
    assert result.ready == () and result.rejected == () and result.settling == ()
    assert len(result.ignored) == 5


def test_unknown_registry_folder_and_file_directly_in_landing(
    layout: Layout, registries: dict, write_dump: WriteDump, content: str
) -> None:
    (layout.landing / "nosuchregistry").mkdir()
    (layout.landing / "orchtest_basis_20240301.csv").write_text(content)
    assert _rejected(_scan(layout, registries)) == {
        "nosuchregistry": landing.LANDING_UNKNOWN_REGISTRY,
        "orchtest_basis_20240301.csv": landing.LANDING_UNKNOWN_REGISTRY,
    }


def test_name_pattern(
    layout: Layout, registries: dict, write_dump: WriteDump, content: str
) -> None:
    write_dump("orchtest_unknownform_20240301.csv", content)
    write_dump("export.xlsx", b"PK")
    result = _scan(layout, registries)
    assert _rejected(result) == {
        "orchtest_unknownform_20240301.csv": landing.LANDING_NAME_PATTERN,
        "export.xlsx": landing.LANDING_NAME_PATTERN,
    }
    assert all(r.registry == "orchtest" for r in result.rejected)


@pytest.mark.parametrize(
    "name",
    [
        b"orchtest_basis_2024\xe6\xf8.csv",  # Latin-1 bytes: not UTF-8
        b"orchtest..basis_20240301.csv",
        b"orchtest_basis\\20240301.csv",
        b"orchtest_basis_\x0720240301.csv",
        b"-orchtest_basis_20240301.csv",
        "orchtest_basis_\u202e20240301.csv".encode(),
    ],
)
def test_unsafe_names(
    layout: Layout, registries: dict, write_dump: WriteDump, name: bytes, content: str
) -> None:
    write_dump(name, content)
    result = _scan(layout, registries)
    (rejected,) = result.rejected
    assert rejected.check_id == landing.LANDING_UNSAFE_NAME
    assert os.fsencode(rejected.path) == os.path.join(
        os.fsencode(layout.landing_for("orchtest")), name
    )
    rejected.display_name.encode("utf-8")  # printable whatever the bytes were
    assert result.ready == ()


def test_non_utf8_registry_folder_is_unsafe(layout: Layout, registries: dict) -> None:
    os.mkdir(os.path.join(os.fsencode(layout.landing), b"reg\xff"))
    assert [r.check_id for r in _scan(layout, registries).rejected] == [landing.LANDING_UNSAFE_NAME]


def test_symlinks_are_never_followed(
    layout: Layout, registries: dict, write_dump: WriteDump, tmp_path: Path, content: str
) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_text(content)
    (layout.landing_for("orchtest") / "orchtest_basis_20240301.csv").symlink_to(outside)
    (layout.landing / "linked").symlink_to(layout.landing_for("orchtest"))
    result = _scan(layout, registries)
    assert _rejected(result) == {
        "orchtest_basis_20240301.csv": landing.LANDING_SYMLINK,
        "linked": landing.LANDING_SYMLINK,
    }
    assert result.ready == ()


def test_directories_and_fifos_are_not_files(layout: Layout, registries: dict) -> None:
    folder = layout.landing_for("orchtest")
    (folder / "orchtest_basis_20240301.csv").mkdir()
    os.mkfifo(folder / "orchtest_oppf_20240301.csv")
    assert _rejected(_scan(layout, registries)) == {
        "orchtest_basis_20240301.csv": landing.LANDING_NOT_A_FILE,
        "orchtest_oppf_20240301.csv": landing.LANDING_NOT_A_FILE,
    }


def test_duplicate_within_one_scan(
    layout: Layout, registries: dict, write_dump: WriteDump, content: str
) -> None:
    write_dump("orchtest_basis_20240301.csv", content)
    write_dump("orchtest_basis_20240302.csv", content)
    result = _scan(layout, registries)
    assert [d.path.name for d in result.ready] == ["orchtest_basis_20240301.csv"]
    (dup,) = result.rejected
    assert (dup.display_name, dup.check_id) == (
        "orchtest_basis_20240302.csv",
        landing.LANDING_DUPLICATE,
    )
    assert "orchtest_basis_20240301.csv" in dup.reason


def test_duplicate_of_archived_dump(
    layout: Layout, registries: dict, write_dump: WriteDump, content: str
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", content)
    digest = landing.sha256_of(path)
    stored = layout.archive / "orchtest" / "basis" / landing.dump_id(path.name, digest)
    stored.mkdir(parents=True)
    (stored / path.name).write_text(content)
    (stored / f"{path.name}.sha256").write_text(f"{digest}  {path.name}\n")
    assert landing.archived_copy(layout, "orchtest", digest) == stored / path.name
    assert _rejected(_scan(layout, registries)) == {
        "orchtest_basis_20240301.csv": landing.LANDING_DUPLICATE
    }


def test_archived_copy_needs_the_full_digest(layout: Layout) -> None:
    digest = "ab" * 32
    other = "ab" * 6 + "cd" * 26  # same 12-hex prefix, different bytes
    stored = layout.archive / "orchtest" / "basis" / f"x@{digest[:12]}"
    stored.mkdir(parents=True)
    (stored / "x.csv").write_text("x")
    (stored / "x.csv.sha256").write_text(f"{other}  x.csv\n")
    assert landing.archived_copy(layout, "orchtest", digest) is None


def test_already_processed_predicate(
    layout: Layout, registries: dict, write_dump: WriteDump, content: str
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", content)
    digest = landing.sha256_of(path)
    result = _scan(
        layout, registries, already_processed=lambda reg, sha: (reg, sha) == ("orchtest", digest)
    )
    assert _rejected(result) == {"orchtest_basis_20240301.csv": landing.LANDING_DUPLICATE}


def test_cache_avoids_rehashing_and_is_bounded(
    layout: Layout,
    registries: dict,
    write_dump: WriteDump,
    monkeypatch: pytest.MonkeyPatch,
    content: str,
) -> None:
    keep = write_dump("orchtest_basis_20240301.csv", content)
    gone = write_dump("orchtest_basis_20240302.csv", content + "P9;9;100001;01.01.2024;50;1\r\n")
    first = _scan(layout, registries)
    assert set(first.cache.entries) == {f"orchtest/{keep.name}", f"orchtest/{gone.name}"}
    gone.unlink()

    def no_hashing(path: Path) -> str:
        raise AssertionError(f"{path} was hashed again")

    monkeypatch.setattr(landing, "sha256_of", no_hashing)
    cache = HashCache.from_json(first.cache.to_json())  # through the cursor's JSON form
    second = _scan(layout, registries, cache)
    assert [d.sha256 for d in second.ready] == [first.ready[0].sha256]
    assert set(second.cache.entries) == {f"orchtest/{keep.name}"}


@pytest.mark.parametrize(
    "text",
    [None, "", "not json", '{"v": 0, "files": {}}', '{"v": 1}', '{"v": 1, "files": {"a": [1]}}'],
)
def test_unreadable_cursor_means_empty_cache(text: str | None) -> None:
    assert HashCache.from_json(text).entries == {}


def test_empty_or_missing_landing(kvalreg_env: Layout, registries: dict) -> None:
    result = landing.scan(kvalreg_env, registries, HashCache(), time.time(), SETTLE)
    assert (result.ready, result.rejected, result.settling) == ((), (), ())
