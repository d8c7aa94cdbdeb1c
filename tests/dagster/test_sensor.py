"""The landing sensor against a real temp-dir Dagster instance: run keys, partitions, cursor."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import pytest
from dagster._core.definitions.sensor_definition import SensorExecutionData

from assets.quarantine import JOB_NAME as QUARANTINE_JOB
from assets.quarantine import OP_NAME as QUARANTINE_OP
from assets.raw import TAG_LANDING_PATH, TAG_SHA256
from kvalreg import landing
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from orchestration.definitions import build_definitions
from orchestration.instance import open_instance
from resources import WarehouseResource
from sensors import SENSOR_NAME

WriteDump = Callable[..., Path]


@pytest.fixture
def instance(layout: Layout) -> Iterator[dg.DagsterInstance]:
    with open_instance(layout) as inst:
        yield inst


@pytest.fixture
def defs(layout: Layout, registries: dict[str, Registry]) -> dg.Definitions:
    return build_definitions(
        registries, WarehouseResource(kvalreg_home=str(layout.home)), settle_seconds=5
    )


@pytest.fixture
def tick(
    instance: dg.DagsterInstance, defs: dg.Definitions
) -> Callable[[str | None], SensorExecutionData]:
    sensor = defs.resolve_sensor_def(SENSOR_NAME)

    def evaluate(cursor: str | None) -> SensorExecutionData:
        context = dg.build_sensor_context(
            instance=instance,
            instance_ref=instance.get_ref(),
            cursor=cursor,
            definitions=defs,
            sensor_name=SENSOR_NAME,
            resources=defs.resources,
        )
        return sensor.evaluate_tick(context)

    return evaluate


def _keys(data: SensorExecutionData) -> list[str]:
    return [r.run_key or "" for r in data.run_requests or ()]


def test_ready_dump_requests_partition_and_run(
    tick: Callable, write_dump: WriteDump, valid_basis: str
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", valid_basis)
    sha = landing.sha256_of(path)
    data = tick(None)
    (request,) = data.run_requests
    dump_id = f"orchtest_basis_20240301@{sha[:12]}"
    assert request.run_key == f"orchtest:{sha}"
    assert request.job_name == "ingest_orchtest__basis"
    assert request.partition_key == dump_id
    assert request.tags[TAG_LANDING_PATH] == str(path)
    assert request.tags[TAG_SHA256] == sha
    (partitions,) = data.dynamic_partitions_requests
    assert partitions.partitions_def_name == "orchtest__basis"
    assert list(partitions.partition_keys) == [dump_id]
    assert (
        landing.HashCache.from_json(data.cursor)
        .entries["orchtest/orchtest_basis_20240301.csv"]
        .sha256
        == sha
    )


def test_same_bytes_twice_gives_one_run_key(
    tick: Callable, write_dump: WriteDump, valid_basis: str
) -> None:
    write_dump("orchtest_basis_20240301.csv", valid_basis)
    first = tick(None)
    write_dump("orchtest_basis_20240302.csv", valid_basis)  # re-sent under another name
    second = tick(first.cursor)
    dump_keys = [k for k in _keys(first) + _keys(second) if k.startswith("orchtest:")]
    assert len(set(dump_keys)) == 1
    (reject,) = [r for r in second.run_requests if r.job_name == QUARANTINE_JOB]
    config = reject.run_config["ops"][QUARANTINE_OP]["config"]
    assert config["check_id"] == landing.LANDING_DUPLICATE
    assert config["path"].endswith("orchtest_basis_20240302.csv")


def test_corrected_file_with_the_same_name_gets_a_new_key(
    tick: Callable, write_dump: WriteDump, valid_basis: str
) -> None:
    write_dump("orchtest_basis_20240301.csv", valid_basis)
    first = tick(None)
    write_dump("orchtest_basis_20240301.csv", valid_basis + "P0009;9;100001;09.02.2024;70;1\r\n")
    # the changed file is first seen as settling (it differs from the cursor's observation) ...
    settling = tick(first.cursor)
    assert not settling.run_requests and "settling" in (settling.skip_message or "")
    second = tick(settling.cursor)
    (old_key,), (new_key,) = _keys(first), _keys(second)
    assert old_key != new_key and new_key.startswith("orchtest:")
    assert second.run_requests[0].partition_key != first.run_requests[0].partition_key


def test_settling_file_requests_nothing(
    tick: Callable, write_dump: WriteDump, valid_basis: str
) -> None:
    write_dump("orchtest_basis_20240301.csv", valid_basis, age_seconds=0)
    data = tick(None)
    assert not data.run_requests and not data.dynamic_partitions_requests
    assert "orchtest_basis_20240301.csv" in (data.skip_message or "")


def test_rejects_request_quarantine_runs_with_distinct_keys(
    tick: Callable, write_dump: WriteDump, valid_basis: str, layout: Layout
) -> None:
    write_dump(b"orchtest_basis_\xe6.csv", valid_basis)
    write_dump("readme.txt", "hello")
    (layout.landing / "stray.csv").write_text("x")
    data = tick(None)
    by_check = {
        r.run_config["ops"][QUARANTINE_OP]["config"]["check_id"]: r for r in data.run_requests
    }
    assert set(by_check) == {
        landing.LANDING_UNSAFE_NAME,
        landing.LANDING_NAME_PATTERN,
        landing.LANDING_UNKNOWN_REGISTRY,
    }
    unsafe = by_check[landing.LANDING_UNSAFE_NAME]
    assert unsafe.run_key is not None
    unsafe.run_key.encode("utf-8")  # storable: the raw bytes appear escaped
    assert "\\xe6" in unsafe.run_key and landing.LANDING_UNSAFE_NAME in unsafe.run_key
    config = unsafe.run_config["ops"][QUARANTINE_OP]["config"]
    assert os.fsencode(config["path"]).endswith(b"orchtest_basis_\xe6.csv")
    assert (
        by_check[landing.LANDING_UNKNOWN_REGISTRY].run_config["ops"][QUARANTINE_OP]["config"][
            "registry"
        ]
        is None
    )
    assert len(set(_keys(data))) == 3


def test_unchanged_reject_keeps_its_key_changed_reject_gets_a_new_one(
    tick: Callable, write_dump: WriteDump
) -> None:
    path = write_dump("readme.txt", "hello")
    first = tick(None)
    assert _keys(tick(first.cursor)) == _keys(first)
    stamp = time.time() - 100
    os.utime(path, (stamp, stamp))
    assert _keys(tick(first.cursor)) != _keys(first)


def test_bytes_of_a_successful_run_are_a_duplicate(
    tick: Callable, write_dump: WriteDump, valid_basis: str, instance: dg.DagsterInstance
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", valid_basis)
    sha = landing.sha256_of(path)

    @dg.op
    def noop() -> None:
        pass

    @dg.job
    def earlier_ingestion() -> None:
        noop()

    # a real run that processed these bytes earlier (e.g. quarantined them), then a re-drop
    result = earlier_ingestion.execute_in_process(
        instance=instance, tags={"dagster/run_key": f"orchtest:{sha}"}
    )
    assert result.success
    (request,) = tick(None).run_requests
    assert request.job_name == QUARANTINE_JOB
    assert request.run_config["ops"][QUARANTINE_OP]["config"]["check_id"] == "landing_duplicate"


def test_known_partition_is_not_requested_again(
    tick: Callable, write_dump: WriteDump, valid_basis: str, instance: dg.DagsterInstance
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", valid_basis)
    instance.add_dynamic_partitions(
        "orchtest__basis", [landing.dump_id(path.name, landing.sha256_of(path))]
    )
    data = tick(None)
    assert len(data.run_requests) == 1 and not data.dynamic_partitions_requests


def test_sensor_is_declared_running_with_a_minimum_interval(defs: dg.Definitions) -> None:
    sensor = defs.resolve_sensor_def(SENSOR_NAME)
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    assert sensor.minimum_interval_seconds is not None and sensor.minimum_interval_seconds >= 15
