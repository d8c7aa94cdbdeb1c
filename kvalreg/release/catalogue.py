"""A built release as a non-public dataset of its registry's metadata catalogue.

The release's codebook (catalogue subset + lineage) is written beside its record, and the
next metadata build adds the release to the registry's DCAT-AP-NO catalogue.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from pathlib import Path

from kvalreg.metadata.build import load_catalogue
from kvalreg.metadata.catalogue import ReleasedVariable
from kvalreg.metadata.dcat import ReleaseDataset
from kvalreg.metadata.releases import register_release
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from kvalreg.release.request import ReleaseRequest


def register_in_catalogue(
    layout: Layout, request: ReleaseRequest, registries: Mapping[str, Registry], issued: date
) -> Path:
    """Record ``request``'s release (issued on ``issued``) for the metadata catalogue."""
    released = [
        ReleasedVariable(request.registry, form, column)
        for form, columns in request.variables.items()
        for column in columns
    ]
    basis = "; ".join(f"{k}: {v}" for k, v in sorted(request.legal_basis.items()))
    dataset = ReleaseDataset(
        registry=request.registry,
        identifier=request.release_id,
        title=f"Utlevering {request.release_id}: {request.title}",
        description=(
            f"Forskningsutlevering til prosjekt {request.project_id} ({request.organisation}), "
            f"pseudonymisert; ikke offentlig."
        ),
        issued=issued,
        project=f"{request.project_id}, REK {request.rek}",
        legal_basis=basis,
        variables=tuple(f"raw_{v.registry}.{v.table}.{v.column}" for v in released),
        period_start=request.period_from,
        period_end=request.period_to,
    )
    return register_release(layout, dataset, load_catalogue(layout, registries), released)
