"""kvalreg.atomic: a file appears whole under its name, with the mode asked for whatever the
umask, and no temporary sibling is left behind."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvalreg.atomic import write_atomic, write_private, write_public


@pytest.fixture
def umask() -> Iterator[None]:
    old = os.umask(0o077)  # would narrow 0644 to 0600 if the mode were left to it
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_each_kind_of_file_gets_its_mode_whatever_the_umask(tmp_path: Path, umask: None) -> None:
    write_atomic(tmp_path / "report.txt", b"report")
    write_public(tmp_path / "docs" / "index.html", b"<html>")
    write_private(tmp_path / "keys" / "id", b"secret")
    assert mode(tmp_path / "report.txt") == 0o640
    assert mode(tmp_path / "docs" / "index.html") == 0o644
    assert mode(tmp_path / "keys" / "id") == 0o600
    assert mode(tmp_path / "keys") == 0o700


def test_a_rewrite_replaces_the_file_whole_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    write_atomic(target, b"first version, longer than the second")
    inode = target.stat().st_ino
    write_atomic(target, b"second")
    assert target.read_bytes() == b"second"
    assert target.stat().st_ino != inode  # renamed into place, not rewritten in place
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "record.json"
    write_atomic(target, b"kept")
    with pytest.raises(TypeError):
        write_atomic(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"kept"
    assert [p.name for p in tmp_path.iterdir()] == ["record.json"]
