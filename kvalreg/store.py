"""Byte-identical, atomic moves of originals into ``archive/`` and ``quarantine/``.

Originals are the registry's evidence: a move must never leave zero copies, two different
files under one name, or a half-written target. So a move is copy to a temporary name in the
target directory, fsync, verify SHA-256, link into place (which refuses to overwrite), fsync
the directory, and only then unlink the source. Repeating a move whose target already holds
the same bytes is a no-op, which makes every caller safely re-runnable after a crash.
"""

from __future__ import annotations

import errno
import hashlib
import os
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from kvalreg.atomic import fsync_dir, write_atomic
from kvalreg.ingest.problems import Problem
from kvalreg.ingest.report import build_report, render_text, to_json
from kvalreg.paths import Layout

CHUNK_BYTES = 1 << 20
UNROUTED = "_unrouted"


class StoreError(RuntimeError):
    """A move that would lose or overwrite data; never names file contents."""


def sha256_file(path: Path) -> str:
    """SHA-256 of a file's bytes, streamed; a symlink is refused rather than followed."""
    digest = hashlib.sha256()
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def safe_component(name: str, what: str) -> str:
    """``name`` if it is one harmless path component, else ValueError (naming only ``what``)."""
    if (
        not name
        or name in (".", "..")
        or "/" in name
        or "\\" in name
        or "\x00" in name
        or os.path.isabs(name)
    ):
        raise ValueError(f"unsafe {what}: must be a single path component without separators")
    return name


def _inside(root: Path, target: Path) -> Path:
    """Guard against any path that would escape ``root`` (also via symlinked directories)."""
    if not target.resolve().is_relative_to(root.resolve()):
        raise ValueError("target path escapes its root directory")
    return target


def archive_path(layout: Layout, *, registry: str, form: str, dump_id: str, name: str) -> Path:
    parts = [
        safe_component(registry, "registry name"),
        safe_component(form, "form name"),
        safe_component(dump_id, "dump id"),
        safe_component(name, "file name"),
    ]
    return _inside(layout.archive, layout.archive.joinpath(*parts))


def quarantine_stamp(now: datetime | None = None) -> str:
    """UTC timestamp prefix; microseconds keep two quarantines of one name apart."""
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%dT%H%M%S_%fZ")


def quarantine_path(layout: Layout, *, registry: str | None, file_label: str, stamp: str) -> Path:
    folder = safe_component(registry, "registry name") if registry else UNROUTED
    name = safe_component(f"{stamp}_{safe_component(file_label, 'file label')}", "file label")
    return _inside(layout.quarantine, layout.quarantine / folder / name)


def archive(
    layout: Layout, src: Path, *, registry: str, form: str, dump_id: str, sha256: str
) -> Path:
    """Move ``src`` to ``archive/<registry>/<form>/<dump_id>/<name>`` with a ``.sha256`` file.

    ``src`` may already be the archived copy (a re-run after a crash): then nothing moves.
    """
    target = archive_path(layout, registry=registry, form=form, dump_id=dump_id, name=src.name)
    _place(src, target, expected_sha256=sha256)
    sidecar = target.with_name(target.name + ".sha256")
    write_atomic(sidecar, f"{sha256}  {target.name}\n".encode())
    return target


def quarantine(
    layout: Layout,
    src: Path,
    problems: Sequence[Problem],
    *,
    registry: str | None,
    file_label: str,
    context: Mapping[str, str],
    stamp: str | None = None,
) -> tuple[Path, Path]:
    """Move ``src`` into ``quarantine/<registry or _unrouted>/<UTC stamp>_<file_label>``.

    Writes ``<stored>.report.json`` and ``.report.txt`` beside it and returns
    (stored original, report json). A ``src`` already inside the quarantine stays where it is
    and only gets fresh reports, so a re-run never scatters copies. ``stamp`` lets a caller
    record the final path before moving (see :func:`quarantine_stamp`). If ``context`` holds
    ``sha256``, the copy is verified against it.
    """
    if in_quarantine(layout, src):
        target = src
    else:
        target = quarantine_path(
            layout, registry=registry, file_label=file_label, stamp=stamp or quarantine_stamp()
        )
        _place(src, target, expected_sha256=context.get("sha256"))
    report = build_report(
        problems,
        file=file_label,
        registry=registry,
        stored_path=str(target),
        context=context,
    )
    json_path = target.with_name(target.name + ".report.json")
    write_atomic(json_path, to_json(report).encode("utf-8"))
    txt_path = target.with_name(target.name + ".report.txt")
    write_atomic(txt_path, render_text(report, problems).encode("utf-8"))
    return target, json_path


def in_quarantine(layout: Layout, path: Path) -> bool:
    """Whether ``path`` (not following a final symlink) already lies in the quarantine."""
    parent = path.parent.resolve()
    return os.path.lexists(path) and (parent / path.name).is_relative_to(
        layout.quarantine.resolve()
    )


def _same_entry(a: Path, b: Path) -> bool:
    try:
        sa, sb = os.lstat(a), os.lstat(b)
    except FileNotFoundError:
        return False
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


def _place(src: Path, target: Path, *, expected_sha256: str | None) -> None:
    """Move ``src`` to ``target`` without ever overwriting different bytes or losing a copy."""
    target.parent.mkdir(parents=True, exist_ok=True)
    if src.is_symlink():
        _place_symlink(src, target)
        return
    if _same_entry(src, target):
        if expected_sha256 is not None and sha256_file(target) != expected_sha256:
            raise StoreError("stored original no longer matches its recorded SHA-256")
        return
    if os.path.lexists(target):
        if target.is_symlink() or sha256_file(target) != (expected_sha256 or sha256_file(src)):
            raise StoreError("target already holds different bytes; refusing to overwrite")
        src.unlink()  # the target already is a verified copy: the move had finished before
        fsync_dir(src.parent)
        return
    tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.part")
    try:
        placed = _link_fsync(src, tmp)
        if placed is None:
            placed = _copy_fsync(src, tmp)
            if sha256_file(tmp) != placed:
                raise StoreError("copy does not read back identically")
        if expected_sha256 is not None and placed != expected_sha256:
            raise StoreError("source bytes do not match the SHA-256 they were registered with")
        os.link(tmp, target)  # unlike rename, link never replaces an existing target
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(target.parent)
    src.unlink()
    fsync_dir(src.parent)


def _place_symlink(src: Path, target: Path) -> None:
    """Move the link itself; its destination is never opened."""
    if os.path.lexists(target):
        if target.is_symlink() and os.readlink(target) == os.readlink(src):
            src.unlink()
            return
        raise StoreError("target already exists; refusing to overwrite")
    try:
        os.link(src, target, follow_symlinks=False)
        src.unlink()
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            raise
        os.symlink(os.readlink(src), target)
        src.unlink()
    fsync_dir(target.parent)
    fsync_dir(src.parent)


def _link_fsync(src: Path, dst: Path) -> str | None:
    """Hard-link ``src`` as ``dst`` (same file system), fsync it, return its SHA-256.

    A second name for the same bytes is as safe as a copy (the source name goes only after
    the target exists) and costs one read instead of a read, a write and a read-back. None
    when linking is impossible (another file system, or one without hard links).
    """
    try:
        os.link(src, dst, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP):
            return None
        raise
    os.chmod(dst, 0o640)  # as a copy would be created; the source name is about to go
    fd = os.open(dst, os.O_RDONLY | os.O_NOFOLLOW)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    return sha256_file(dst)


def _copy_fsync(src: Path, dst: Path) -> str:
    """Copy bytes to a new file, fsync it, return the SHA-256 of what was read."""
    digest = hashlib.sha256()
    fd_in = os.open(src, os.O_RDONLY | os.O_NOFOLLOW)
    fd_out = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
    with os.fdopen(fd_in, "rb") as fin, os.fdopen(fd_out, "wb") as fout:
        while chunk := fin.read(CHUNK_BYTES):
            digest.update(chunk)
            fout.write(chunk)
        fout.flush()
        os.fsync(fout.fileno())
    return digest.hexdigest()
