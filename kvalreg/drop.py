"""Put export files into ``landing/`` the safe way: routed by file name, written atomically.

Operators may copy dumps into ``landing/<registry>/`` by any means; the sensor waits for a
file to settle. ``kvalreg drop`` is the convenient path: it finds the registry whose file-name
pattern matches, writes a hidden temporary copy (which the sensor ignores) and renames it into
place, so a half-written file is never visible. The source file is left untouched.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from kvalreg.paths import Layout
from kvalreg.registry import Registry


@dataclass(frozen=True)
class Dropped:
    source: Path
    target: Path | None  # None when no registry claims the file name
    registry: str | None


def route(file_name: str, registries: Mapping[str, Registry]) -> Registry | None:
    """The registry whose dump-file pattern matches ``file_name``, if exactly one does."""
    matches = [r for r in registries.values() if r.match_file(file_name) is not None]
    if len(matches) > 1:
        names = ", ".join(r.name for r in matches)
        raise ValueError(f"{file_name}: file name matches several registries ({names})")
    return matches[0] if matches else None


def drop(
    files: Iterable[Path], layout: Layout, registries: Mapping[str, Registry]
) -> list[Dropped]:
    results = []
    for src in files:
        if not src.is_file():
            raise FileNotFoundError(f"not a file: {src}")
        registry = route(src.name, registries)
        if registry is None:
            results.append(Dropped(src, None, None))
            continue
        folder = layout.landing_for(registry.name)
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / src.name
        tmp = folder / f".{src.name}.part"
        # copyfile copies in the kernel where it can (sendfile on Linux): a 10M-row export's
        # three files (2.9 GB, with fsync) 3.5-6.6 -> 2.1-2.3 s against a Python read/write loop.
        shutil.copyfile(src, tmp)
        with tmp.open("rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp, target)
        results.append(Dropped(src, target, registry.name))
    return results
