"""``process_once`` end to end on a temp ``KVALREG_HOME``: what ``kvalreg process`` does."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import dagster as dg
import duckdb
from dagster._core.storage.tags import RUN_KEY_TAG, SENSOR_NAME_TAG

from assets.raw import TAG_OUTCOME
from kvalreg import landing
from kvalreg.cli import main
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from orchestration.instance import open_instance
from orchestration.process import load_cursor, process_once, sensor_origin
from sensors import SENSOR_NAME

WriteDump = Callable[..., Path]


def test_accepted_quarantined_rejected_then_a_no_op(
    layout: Layout,
    registries: dict[str, Registry],
    write_dump: WriteDump,
    valid_basis: str,
    broken_basis: str,
) -> None:
    good = write_dump("orchtest_basis_20240301.csv", valid_basis)
    good_sha = landing.sha256_of(good)
    write_dump("orchtest_basis_20240302.csv", broken_basis)
    write_dump(
        "orchtest_oppf_20240301.csv", "ForlopsID;AvdRESH;OppfDato\r\n1;9900107;01.03.2024\r\n"
    )
    write_dump(b"orchtest_basis_\xff.csv", valid_basis + "P9;9;9900107;01.01.2024;50;1\r\n")
    write_dump("notes.txt", "x")

    summary = process_once(layout, registries, settle_seconds=1)
    assert summary.ok, summary.describe()
    assert sorted(summary.processed) == [
        landing.dump_id(good.name, good_sha),
        f"orchtest_oppf_20240301@{summary.processed[1].split('@')[1]}",
    ]
    assert [d.split("@")[0] for d in summary.quarantined] == ["orchtest_basis_20240302"]
    assert sorted(summary.rejected) == [
        "notes.txt (landing_name_pattern)",
        "orchtest_basis_\\xff.csv (landing_unsafe_name)",
    ]
    assert os.listdir(layout.landing_for("orchtest")) == []
    assert len(list((layout.quarantine / "orchtest").glob("*.report.json"))) == 3
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM raw_orchtest.basis").fetchall() == [(3,)]

    with open_instance(layout) as instance:
        runs = instance.get_runs()
        statuses = sorted(
            (r.tags.get(TAG_OUTCOME, r.job_name), r.status.value) for r in runs
        )  # the quarantined dump's run fails on its blocking check; every other run succeeds
        assert statuses == sorted(
            [("accepted", "SUCCESS")] * 2
            + [("quarantined", "FAILURE")]
            + [("quarantine_landing_file", "SUCCESS")] * 2
        )
        assert all(r.tags[SENSOR_NAME_TAG] == SENSOR_NAME for r in runs)
        keys = {r.tags[RUN_KEY_TAG] for r in runs}
        assert f"orchtest:{good_sha}" in keys
        cursor = load_cursor(instance, sensor_origin())
        assert cursor is not None  # stored where the daemon reads it
    assert "orchtest/orchtest_basis_20240301.csv" in landing.HashCache.from_json(cursor).entries

    again = process_once(layout, registries, settle_seconds=1)
    assert again.ok
    assert (again.processed, again.quarantined, again.rejected, again.failed) == ([], [], [], [])
    with open_instance(layout) as instance:
        assert len(instance.get_runs()) == 5
        # the cache only holds what is in landing now: nothing
        assert landing.HashCache.from_json(load_cursor(instance, sensor_origin())).entries == {}


def test_same_bytes_dropped_again_later_are_a_duplicate(
    layout: Layout, registries: dict[str, Registry], write_dump: WriteDump, valid_basis: str
) -> None:
    write_dump("orchtest_basis_20240301.csv", valid_basis)
    assert len(process_once(layout, registries, settle_seconds=1).processed) == 1
    write_dump("orchtest_basis_20240301.csv", valid_basis)  # the operator re-sends the file
    second = process_once(layout, registries, settle_seconds=1)
    assert second.processed == [] and second.rejected == [
        "orchtest_basis_20240301.csv (landing_duplicate)"
    ]


def test_settling_file_is_waited_for(
    layout: Layout, registries: dict[str, Registry], write_dump: WriteDump, valid_basis: str
) -> None:
    write_dump("orchtest_basis_20240301.csv", valid_basis, age_seconds=0)
    summary = process_once(layout, registries, settle_seconds=1.5)
    assert len(summary.processed) == 1 and summary.settling == 0


def test_run_key_that_already_has_a_run_is_skipped(
    layout: Layout, registries: dict[str, Registry], write_dump: WriteDump, valid_basis: str
) -> None:
    path = write_dump("orchtest_basis_20240301.csv", valid_basis)
    run_key = f"orchtest:{landing.sha256_of(path)}"

    @dg.op
    def crash() -> None:
        raise RuntimeError("simulated crash of an earlier ingestion run")

    @dg.job
    def earlier_run() -> None:
        crash()

    with open_instance(layout) as instance:  # e.g. a daemon-launched run that failed
        earlier_run.execute_in_process(
            instance=instance,
            tags={RUN_KEY_TAG: run_key, SENSOR_NAME_TAG: SENSOR_NAME},
            raise_on_error=False,
        )
    summary = process_once(layout, registries, settle_seconds=1)
    assert summary.skipped == [run_key] and summary.processed == []
    assert path.exists(), "left for the operator to re-execute the failed run"


def test_cli_process_exit_code(
    layout: Layout, write_dump: WriteDump, valid_basis: str, capsys
) -> None:
    write_dump("orchtest_basis_20240301.csv", valid_basis)
    assert main(["process"]) == 0
    assert "processed 1 dump(s)" in capsys.readouterr().out
