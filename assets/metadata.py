"""The metadata asset: variable catalogue, lineage, DCAT-AP-NO, HTML and dbt docs.

A thin shell around ``kvalreg.metadata.build.write_metadata``. It depends on every raw asset
and every mart, so Dagster shows it stale when they change and the marts job (run after
ingestion by ``kvalreg process`` and the ``marts_after_ingest`` sensor) regenerates it. Its
code version is a hash of the registry folders (codebooks, ``registry.yaml``,
``indicators.yaml``), so an edited codebook also marks it stale in the UI.

The asset check ``dcat_shacl`` is blocking: a catalog with a SHACL violation against
DCAT-AP-NO fails the run and is reported, never silently published.
"""

import hashlib
from collections.abc import Mapping, Sequence

import dagster as dg

from kvalreg.metadata.build import write_metadata
from kvalreg.registry import Registry
from resources import WarehouseResource

METADATA_KEY = dg.AssetKey(["metadata", "catalogue"])
SHACL_CHECK = "dcat_shacl"


def registries_version(registries: Mapping[str, Registry]) -> str:
    """A hash of every file in the registry folders: changes when a codebook changes."""
    digest = hashlib.sha256()
    for name in sorted(registries):
        folder = registries[name].folder
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            digest.update(f"{name}/{path.relative_to(folder)}\0".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def build_metadata_asset(
    registries: Mapping[str, Registry], upstream: Sequence[dg.AssetKey]
) -> dg.AssetsDefinition:
    @dg.asset(
        key=METADATA_KEY,
        deps=list(upstream),
        group_name="metadata",
        kinds={"json", "html", "rdf"},
        code_version=registries_version(registries),
        description=(
            "Variable catalogue (metadata/variables.json/.csv/.parquet) with column lineage from "
            "dump column to mart column, DCAT-AP-NO per registry (metadata/dcat/*.ttl, "
            "*.jsonld), a static HTML catalogue (metadata/html/) and dbt docs "
            "(metadata/dbt-docs/), all generated from codebooks, the dbt manifest and the "
            "warehouse under KVALREG_HOME."
        ),
        check_specs=[
            dg.AssetCheckSpec(
                SHACL_CHECK,
                asset=METADATA_KEY,
                blocking=True,
                description="Every registry's DCAT-AP-NO catalog has no SHACL violation.",
            )
        ],
    )
    def metadata_catalogue(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        summary = write_metadata(warehouse.layout, registries)
        context.log.info(summary.describe())
        per_registry = {
            f"{name}_violations": v.violations for name, v in sorted(summary.validation.items())
        }
        return dg.MaterializeResult(
            metadata={
                "variables": summary.variables,
                "lineage_edges": summary.lineage_edges,
                "dcat_registries": len(summary.validation),
                "without_dcat": ", ".join(sorted(summary.skipped)) or "none",
                "problems": len(summary.problems),
                "metadata_dir": dg.MetadataValue.path(str(summary.out)),
                "html": dg.MetadataValue.path(str(summary.out / "html" / "index.html")),
            },
            check_results=[
                dg.AssetCheckResult(
                    check_name=SHACL_CHECK,
                    passed=summary.conforms,
                    severity=dg.AssetCheckSeverity.ERROR,
                    metadata={
                        **per_registry,
                        "warnings": sum(v.warnings for v in summary.validation.values()),
                    },
                )
            ],
        )

    return metadata_catalogue
