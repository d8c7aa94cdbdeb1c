"""The release asset: one dynamic partition per release (``<request id>@v<version>``).

A thin shell around ``kvalreg.release.build.build_release``: it finds the request file (the
sensor's run tag, else a scan of ``releases/requests/``), builds, and reports counts, paths
and hashes as metadata — never an fnr, a key or a pseudonym.
"""

from collections.abc import Mapping
from datetime import date
from pathlib import Path

import dagster as dg

from kvalreg.registry import Registry
from kvalreg.release.build import build_release
from kvalreg.release.catalogue import register_in_catalogue
from kvalreg.release.inbox import find_request
from kvalreg.release.request import load_request
from resources import WarehouseResource

RELEASE_PARTITIONS = "release_requests"
RELEASE_JOB = "build_release"
RELEASE_ASSET = dg.AssetKey(["releases", "package"])
TAG_REQUEST_PATH = "kvalreg/request_path"
TAG_REQUEST_SHA256 = "kvalreg/request_sha256"

release_partitions = dg.DynamicPartitionsDefinition(name=RELEASE_PARTITIONS)


def build_release_asset(registries: Mapping[str, Registry]) -> dg.AssetsDefinition:
    @dg.asset(
        key=RELEASE_ASSET,
        partitions_def=release_partitions,
        group_name="releases",
        kinds={"parquet", "csv"},
        description=(
            "A research data release package (pseudonymised, generalised, k-anonymous), its "
            "zip, the key file for a trusted third party if asked, and the release log entry."
        ),
    )
    def release_package(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> dg.MaterializeResult:
        layout = warehouse.layout
        tagged = context.run.tags.get(TAG_REQUEST_PATH)
        path = Path(tagged) if tagged else find_request(layout, context.partition_key)
        who = context.run.tags.get("dagster/sensor_name", "manual run")
        result = build_release(
            path, layout, dict(registries), triggered_by=f"dagster {who}, run {context.run.run_id}"
        )
        # The release joins its registry's catalogue (non-public) at the next metadata build.
        catalogued = register_in_catalogue(
            layout, load_request(path, dict(registries)), registries, date.today()
        )
        report = result.kanon
        metadata: dict[str, dg.RawMetadataValue] = {
            "release": result.release_id,
            "persons": result.persons,
            **{f"rows_{table}": n for table, n in result.rows.items()},
            "k": report.k,
            "k_violating_records": report.violating_records,
            "k_generalised_records": report.generalised_records,
            "k_suppressed_records": report.suppressed_records,
            "package": dg.MetadataValue.path(str(result.package_dir)),
            "archive": dg.MetadataValue.path(str(result.archive)),
            "archive_sha256": result.archive_sha256,
            "logged": result.logged,
            "catalogue_record": dg.MetadataValue.path(str(catalogued)),
        }
        if result.linkage_archive:
            metadata["linkage_archive"] = dg.MetadataValue.path(str(result.linkage_archive))
        return dg.MaterializeResult(metadata=metadata)

    return release_package


release_job = dg.define_asset_job(
    RELEASE_JOB,
    selection=dg.AssetSelection.assets(RELEASE_ASSET),
    description="Build one release package (one partition = one request version).",
)
