"""Fixtures for the orchestration tests: writing dump files into landing the way operators do."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from kvalreg.paths import Layout

_VALID_BASIS = (
    "PasientID;ForlopsID;AvdRESH;HovedDato;Alder;Kjonn\r\n"
    "P0001;1;{resh};01.02.2024;71;1\r\n"
    "P0002;2;{resh};03.02.2024;84;2\r\n"
    "P0003;3;{resh};05.02.2024;66;9\r\n"
)
# Header lacks a mandatory column: a structural (fatal) problem, so the dump is quarantined.
_BROKEN_BASIS = "PasientID;AvdRESH;HovedDato\r\nP0001;{resh};01.02.2024\r\n"

WriteDump = Callable[..., Path]
KNOWN_RESH = "9900107"  # a unit in kvalreg/reference/units.csv


@pytest.fixture
def valid_basis() -> str:
    """A small, clean ``basis`` dump of the orchtest registry."""
    return _VALID_BASIS.format(resh=KNOWN_RESH)


@pytest.fixture
def broken_basis() -> str:
    """A ``basis`` dump that must be quarantined (a mandatory column is missing)."""
    return _BROKEN_BASIS.format(resh=KNOWN_RESH)


@pytest.fixture
def write_dump(layout: Layout) -> WriteDump:
    """Write ``content`` to ``landing/<registry>/<name>`` and backdate it past the settle window."""

    def write(
        name: str | bytes,
        content: str | bytes,
        registry: str = "orchtest",
        age_seconds: float = 3600.0,
    ) -> Path:
        folder = os.fsencode(layout.landing_for(registry))
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, os.fsencode(name))
        data = content.encode("utf-8") if isinstance(content, str) else content
        with open(path, "wb") as fh:
            fh.write(data)
        stamp = time.time() - age_seconds
        os.utime(path, (stamp, stamp))
        return Path(os.fsdecode(path))

    return write
