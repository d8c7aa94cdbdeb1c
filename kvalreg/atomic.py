"""Atomic, durable writes of the small files kvalreg keeps: keys, delivery records, reports,
checksums, NPR extracts, generated metadata.

A crash must never leave a half-written file under its final name, and a reader never sees
half a file: write a temporary sibling, fsync it, rename it into place, fsync the directory.
The mode is set explicitly, so what a file may be read by never depends on the umask.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


def write_atomic(path: Path, data: bytes, mode: int = 0o640) -> None:
    """Replace ``path`` with ``data`` atomically; the file is created with ``mode``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)  # the umask may have narrowed the mode at creation
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


def write_public(path: Path, data: bytes) -> None:
    """Generated documentation (catalogue, DCAT, HTML), to be published: readable by all."""
    write_atomic(path, data, mode=0o644)


def write_private(path: Path, data: bytes) -> None:
    """A private key or secret: 0600 in a 0700 directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    write_atomic(path, data, mode=0o600)


def fsync_dir(folder: Path) -> None:
    """Make a rename or a new name in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
