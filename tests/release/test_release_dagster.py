"""The release sensor, partitions and asset on a real Dagster instance, and the whole path
through ``kvalreg process`` on the command line."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import yaml
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG

from assets.release import RELEASE_JOB, RELEASE_PARTITIONS, TAG_REQUEST_PATH
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from kvalreg.release.build import mark_delivered
from kvalreg.release.inbox import submit
from kvalreg.release.pseudonym import MASTER_SECRET_FILE
from orchestration.definitions import build_definitions
from orchestration.instance import open_instance
from release.support import (
    DEMO_REQUEST,
    assert_no_fnr_in_packages,
    raw_fnrs,
    run_kvalreg,
    valid_fnrs_in,
)
from resources import WarehouseResource
from sensors import evaluate_releases


@pytest.fixture
def instance(release_env: Layout) -> Iterator[dg.DagsterInstance]:
    release_env.ensure()
    with open_instance(release_env) as inst:
        yield inst


def evaluate(instance: dg.DagsterInstance, layout: Layout) -> dg.SensorResult:
    return evaluate_releases(instance, layout, now=time.time(), settle_seconds=0.0)


def test_one_partition_per_request_version(
    instance: dg.DagsterInstance, release_env: Layout, hoftebrudd: dict[str, Registry],
    tmp_path: Path,
) -> None:  # fmt: skip
    assert evaluate(instance, release_env).run_requests == []
    submit(DEMO_REQUEST, release_env, hoftebrudd)
    (release_env.release_requests / "notes.txt").write_text("not a request")
    (release_env.release_requests / "broken.yaml").write_text("request: [\n")
    result = evaluate(instance, release_env)
    (request,) = result.run_requests
    assert request.partition_key == "hoftebrudd-demo@v1"
    assert request.job_name == RELEASE_JOB
    assert request.run_key.startswith("hoftebrudd-demo@v1:")
    (add,) = result.dynamic_partitions_requests
    assert add.partitions_def_name == RELEASE_PARTITIONS
    assert list(add.partition_keys) == ["hoftebrudd-demo@v1"]

    data = yaml.safe_load(DEMO_REQUEST.read_text(encoding="utf-8")) | {"version": 2}
    v2 = tmp_path / "v2.yaml"
    v2.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    submit(v2, release_env, hoftebrudd)
    instance.add_dynamic_partitions(RELEASE_PARTITIONS, ["hoftebrudd-demo@v1"])
    result = evaluate(instance, release_env)
    assert [r.partition_key for r in result.run_requests] == [
        "hoftebrudd-demo@v1", "hoftebrudd-demo@v2",
    ]  # fmt: skip
    (add,) = result.dynamic_partitions_requests
    assert list(add.partition_keys) == ["hoftebrudd-demo@v2"], "v1 already has its partition"


def test_the_asset_builds_with_metadata_free_of_identifiers_and_keys(
    instance: dg.DagsterInstance, release_env: Layout, hoftebrudd: dict[str, Registry]
) -> None:
    path = submit(DEMO_REQUEST, release_env, hoftebrudd)
    assert path.read_bytes() == DEMO_REQUEST.read_bytes()  # copied whole, no temporary left
    assert [p.name for p in path.parent.iterdir()] == [path.name]
    instance.add_dynamic_partitions(RELEASE_PARTITIONS, ["hoftebrudd-demo@v1"])
    defs = build_definitions(
        hoftebrudd, WarehouseResource(kvalreg_home=str(release_env.home)), settle_seconds=0
    )
    job = defs.resolve_job_def(RELEASE_JOB)
    runs = [
        job.execute_in_process(
            instance=instance, partition_key="hoftebrudd-demo@v1",
            tags={TAG_REQUEST_PATH: str(path)},
        )
        for _ in range(2)
    ]  # fmt: skip
    metas = [r.get_asset_materialization_events()[0].materialization.metadata for r in runs]
    assert metas[0]["archive_sha256"] == metas[1]["archive_sha256"], "re-run: same bytes"
    assert metas[0]["logged"].value is True and metas[1]["logged"].value is False
    assert metas[0]["persons"].value > 100
    text = json.dumps({k: str(v.value) for k, v in metas[0].items()})
    master = (release_env.secrets / MASTER_SECRET_FILE).read_bytes()
    assert master.hex() not in text and valid_fnrs_in(text) == []
    assert not any(f in text for f in raw_fnrs(release_env))
    events = instance.all_logs(runs[0].run_id)
    logged = " ".join(str(e.message) + str(e.dagster_event) for e in events)
    assert master.hex() not in logged and not any(f in logged for f in raw_fnrs(release_env))


def test_a_delivered_release_is_not_requested_again(
    instance: dg.DagsterInstance, release_env: Layout, hoftebrudd: dict[str, Registry]
) -> None:
    from kvalreg.release.build import build_release

    build_release(submit(DEMO_REQUEST, release_env, hoftebrudd), release_env, hoftebrudd)
    mark_delivered(release_env, "hoftebrudd-demo@v1", {"target": "test"})
    assert evaluate(instance, release_env).run_requests == []


def test_end_to_end_through_kvalreg_process(ingested: tuple[Path, Path], tmp_path: Path) -> None:
    """request → package via the command line, on the session's processed home."""
    home, _ = ingested
    secrets = home.parent / "secrets"
    submitted = run_kvalreg(home, secrets, "release", "submit", str(DEMO_REQUEST))
    assert submitted.returncode == 0, submitted.stderr
    proc = run_kvalreg(home, secrets, "process")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "release:     hoftebrudd-demo@v1: package " in proc.stdout
    assert "-linkage.zip" in proc.stdout
    layout = Layout(home)
    archive = layout.release_packages / "hoftebrudd-demo@v1" / "hoftebrudd-demo@v1.zip"
    first = archive.read_bytes()
    again = run_kvalreg(home, secrets, "process")
    assert again.returncode == 0 and "skipped 1 already-run" in again.stdout
    assert archive.read_bytes() == first
    assert_no_fnr_in_packages(layout)
    # The release is recorded for the metadata catalogue, with its codebook.
    record = layout.metadata / "releases" / "hoftebrudd" / "hoftebrudd-demo@v1.json"
    assert json.loads(record.read_text(encoding="utf-8"))["identifier"] == "hoftebrudd-demo@v1"
    codebook = json.loads(record.with_suffix(".codebook.json").read_text(encoding="utf-8"))
    assert codebook["variables"] and codebook["lineage"]
    verify = run_kvalreg(home, secrets, "log", "verify")
    assert verify.returncode == 0 and "hash chain and head intact" in verify.stdout
    with open_instance(layout) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(tags={SENSOR_NAME_TAG: "release_sensor"}))
        assert len(runs) == 1 and runs[0].status == dg.DagsterRunStatus.SUCCESS
        assert runs[0].tags[RUN_KEY_TAG].startswith("hoftebrudd-demo@v1:")
        assert instance.get_dynamic_partitions(RELEASE_PARTITIONS) == ["hoftebrudd-demo@v1"]


def test_process_reports_a_bad_request_by_file_and_field(
    release_env: Layout, hoftebrudd: dict[str, Registry]
) -> None:
    from orchestration.process import process_once

    data = yaml.safe_load(DEMO_REQUEST.read_text(encoding="utf-8"))
    data["approvals"]["expires"] = "2020-01-01"
    release_env.release_requests.mkdir(parents=True)
    bad = release_env.release_requests / "expired.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    summary = process_once(release_env, hoftebrudd, settle_seconds=0)
    (failed,) = summary.failed
    assert "hoftebrudd-demo@v1" in failed
    assert str(bad) in failed and "field 'approvals.expires'" in failed
    assert not release_env.release_packages.exists()
