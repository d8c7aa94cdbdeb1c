"""Research releases as input to the metadata: each registered release becomes a non-public
dataset of its registry's DCAT catalog, and its codebook is the catalogue subset.

The release builder (issue 4) calls ``register_release`` once a package is made; the next
metadata build (``kvalreg metadata`` or the Dagster asset) picks it up. The record holds no
person data: ids, titles, the approval reference and the released variable names only.
"""

from __future__ import annotations

import json
from pathlib import Path

from kvalreg.atomic import write_public
from kvalreg.metadata.catalogue import Catalogue, ReleasedVariable, release_codebook
from kvalreg.metadata.dcat import ReleaseDataset
from kvalreg.paths import Layout
from kvalreg.store import safe_component


def release_path(layout: Layout, registry: str, identifier: str) -> Path:
    return (
        layout.metadata
        / "releases"
        / safe_component(registry, "registry")
        / f"{safe_component(identifier, 'release id')}.json"
    )


def register_release(
    layout: Layout,
    release: ReleaseDataset,
    catalogue: Catalogue | None = None,
    variables: list[ReleasedVariable] | None = None,
) -> Path:
    """Record a release for the catalogue; with ``catalogue`` and ``variables`` also write its
    codebook (catalogue subset + lineage) beside it as ``<id>.codebook.json``."""
    path = release_path(layout, release.registry, release.identifier)
    write_public(path, json.dumps(release.to_dict(), ensure_ascii=False, indent=2).encode())
    if catalogue is not None and variables:
        codebook = release_codebook(catalogue, variables)
        write_public(
            path.with_suffix(".codebook.json"),
            json.dumps(codebook.to_dict(), ensure_ascii=False, indent=2).encode(),
        )
    return path


def load_releases(layout: Layout) -> list[ReleaseDataset]:
    """Every registered release, in a stable order; a malformed record names its file."""
    out = []
    for path in sorted((layout.metadata / "releases").glob("*/*.json")):
        if path.name.endswith(".codebook.json"):
            continue
        try:
            out.append(ReleaseDataset.from_dict(json.loads(path.read_text(encoding="utf-8"))))
        except (KeyError, ValueError, TypeError) as exc:
            raise ValueError(
                f"{path}: not a release record ({type(exc).__name__}: {exc})"
            ) from None
    return out
