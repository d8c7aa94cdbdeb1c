"""``kvalreg.store``: byte-identical, atomic, idempotent moves that never overwrite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from kvalreg import store
from kvalreg.ingest.problems import Example, Problem, Severity
from kvalreg.paths import Layout

from .conftest import sha256_of

DATA = b"PasientID;Alder\r\nP1;71\r\n\xe6\xf8\xe5\r\n"


def _src(layout: Layout, name: str = "dump.csv", data: bytes = DATA) -> Path:
    path = layout.landing_for("ingtest") / name
    path.write_bytes(data)
    return path


def _leftovers(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob(".*.part")]


def test_sha256_file_streams_and_refuses_symlinks(ing_layout: Layout) -> None:
    src = _src(ing_layout)
    assert store.sha256_file(src) == sha256_of(src)
    link = src.with_name("link.csv")
    link.symlink_to(src)
    with pytest.raises(OSError):
        store.sha256_file(link)


def test_archive_moves_byte_identical_with_checksum_file(ing_layout: Layout) -> None:
    src = _src(ing_layout)
    sha = sha256_of(src)
    target = store.archive(
        ing_layout, src, registry="ingtest", form="basis", dump_id="d@1", sha256=sha
    )
    assert target == ing_layout.archive / "ingtest" / "basis" / "d@1" / "dump.csv"
    assert target.read_bytes() == DATA
    assert not src.exists()
    assert (target.parent / "dump.csv.sha256").read_text() == f"{sha}  dump.csv\n"
    assert _leftovers(ing_layout.archive) == []
    # Archiving the archived copy again is a no-op.
    again = store.archive(
        ing_layout, target, registry="ingtest", form="basis", dump_id="d@1", sha256=sha
    )
    assert again == target and target.read_bytes() == DATA


def test_archive_is_idempotent_and_never_overwrites(ing_layout: Layout) -> None:
    sha = sha256_of(_src(ing_layout))
    kw = {"registry": "ingtest", "form": "basis", "dump_id": "d@1"}
    target = store.archive(
        ing_layout, ing_layout.landing_for("ingtest") / "dump.csv", sha256=sha, **kw
    )
    # The same bytes landed again: the landing copy goes, the archive stays.
    src = _src(ing_layout)
    assert store.archive(ing_layout, src, sha256=sha, **kw) == target
    assert not src.exists()
    # Different bytes under the same name and dump id: refused, nothing lost.
    other = _src(ing_layout, data=b"different")
    with pytest.raises(store.StoreError):
        store.archive(ing_layout, other, sha256=sha256_of(other), **kw)
    assert other.read_bytes() == b"different"
    assert target.read_bytes() == DATA


def test_archive_refuses_bytes_that_do_not_match_the_hash(ing_layout: Layout) -> None:
    src = _src(ing_layout)
    with pytest.raises(store.StoreError):
        store.archive(
            ing_layout, src, registry="ingtest", form="basis", dump_id="d", sha256="0" * 64
        )
    assert src.read_bytes() == DATA
    assert not (ing_layout.archive / "ingtest" / "basis" / "d" / "dump.csv").exists()
    assert _leftovers(ing_layout.archive) == []


@pytest.mark.parametrize("bad", ["..", "a/b", "/etc", ".", "", "a\\b", "x\x00"])
def test_target_paths_stay_inside_their_root(ing_layout: Layout, bad: str) -> None:
    src = _src(ing_layout)
    sha = sha256_of(src)
    with pytest.raises(ValueError):
        store.archive(ing_layout, src, registry="ingtest", form="basis", dump_id=bad, sha256=sha)
    with pytest.raises(ValueError):
        store.archive(ing_layout, src, registry=bad, form="basis", dump_id="d", sha256=sha)
    with pytest.raises(ValueError):
        store.quarantine(ing_layout, src, (), registry="ingtest", file_label=bad, context={})
    assert src.read_bytes() == DATA


def test_quarantine_writes_original_and_reports(ing_layout: Layout) -> None:
    src = _src(ing_layout)
    sha = sha256_of(src)
    problem = Problem(
        check_id="type_conformance",
        severity=Severity.FATAL,
        message="3 values not a date in dd.mm.yyyy or yyyy-mm-dd",
        file="dump.csv",
        column="Fodselsdato",
        line=14,
        count=3,
        examples=(Example(line=14, record=13, column="Fodselsdato", value="31.02.2024"),),
    )
    stored, report = store.quarantine(
        ing_layout,
        src,
        [problem],
        registry=None,
        file_label="dump.csv",
        context={"sha256": sha, "form": "basis", "note": "x"},
        stamp="20240101T000000_000000Z",
    )
    assert stored == ing_layout.quarantine / "_unrouted" / "20240101T000000_000000Z_dump.csv"
    assert stored.read_bytes() == DATA and not src.exists()
    assert report == stored.with_name(stored.name + ".report.json")
    assert report.read_text().count("type_conformance") == 1
    text = stored.with_name(stored.name + ".report.txt").read_text()
    assert (
        "line 14, column Fodselsdato: 3 values not a date in dd.mm.yyyy or yyyy-mm-dd, "
        "e.g. line 14 record 13 '31.02.2024'"
    ) in text
    # Re-quarantining the quarantined copy keeps it where it is.
    again, _ = store.quarantine(
        ing_layout, stored, [problem], registry=None, file_label="dump.csv", context={}
    )
    assert again == stored and stored.read_bytes() == DATA


def test_symlink_is_moved_as_link_never_followed(ing_layout: Layout, tmp_path: Path) -> None:
    secret = tmp_path / "outside.txt"
    secret.write_bytes(b"not ours")
    link = ing_layout.landing_for("ingtest") / "link.csv"
    link.symlink_to(secret)
    stored, report = store.quarantine(
        ing_layout, link, (), registry="ingtest", file_label="link.csv", context={}
    )
    assert stored.is_symlink()
    assert os.readlink(stored) == str(secret)
    assert not os.path.lexists(link)
    assert secret.read_bytes() == b"not ours"
    assert report.exists()
