"""Which reader converts which native codebook format into the canonical form.

A registry's ``registry.yaml`` names its codebook format; adding a registration system
means adding one reader module and one entry here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from kvalreg.codebook.canonical import Codebook
from kvalreg.codebook.mrs import read_rapport
from kvalreg.codebook.oqr import read_klokebok

Reader = Callable[[Path], Codebook]

READERS: dict[str, Reader] = {
    "canonical": Codebook.read_csv,
    "mrs_rapport": read_rapport,
    "oqr_klokebok": read_klokebok,
}


def read_codebook(fmt: str, path: Path) -> Codebook:
    try:
        reader = READERS[fmt]
    except KeyError:
        raise ValueError(
            f"{path}: unknown codebook format {fmt!r}; known: {', '.join(sorted(READERS))}"
        ) from None
    if not path.is_file():
        raise FileNotFoundError(f"codebook file not found: {path}")
    return reader(path)
