"""``orchestration.instance``: DAGSTER_HOME is prepared from the template, and it is honoured."""

from __future__ import annotations

import pytest
import yaml
from dagster._core.run_coordinator import QueuedRunCoordinator

from kvalreg.paths import Layout
from orchestration import instance as inst


def test_prepared_home_opens_with_queued_single_run_and_sqlite_under_it(layout: Layout) -> None:
    home = inst.prepare_dagster_home(layout)
    config = yaml.safe_load((home / "dagster.yaml").read_text())
    assert config["telemetry"] == {"enabled": False}
    assert config["storage"]["sqlite"]["base_dir"] == str(layout.dagster_home)
    with inst.open_instance(layout) as instance:
        assert isinstance(instance.run_coordinator, QueuedRunCoordinator)
        assert instance.run_coordinator.get_run_queue_config().max_concurrent_runs == 1
        assert instance.root_directory == str(layout.dagster_home)
    assert (layout.dagster_home / "history").is_dir()  # sqlite run storage lives in the home


def test_managed_config_follows_a_moved_home(tmp_path, layout: Layout) -> None:
    inst.prepare_dagster_home(layout)
    moved = Layout(tmp_path / "moved")
    moved.dagster_home.mkdir(parents=True)
    stale = (layout.dagster_home / "dagster.yaml").read_text()
    (moved.dagster_home / "dagster.yaml").write_text(stale)
    inst.prepare_dagster_home(moved)
    assert str(moved.dagster_home) in (moved.dagster_home / "dagster.yaml").read_text()


def test_operator_owned_config_is_left_alone(layout: Layout) -> None:
    layout.dagster_home.mkdir(parents=True, exist_ok=True)
    own = "telemetry:\n  enabled: false\n"
    (layout.dagster_home / "dagster.yaml").write_text(own)
    inst.prepare_dagster_home(layout)
    assert (layout.dagster_home / "dagster.yaml").read_text() == own


def test_main_refuses_a_dagster_home_elsewhere(
    layout: Layout, monkeypatch: pytest.MonkeyPatch, tmp_path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert inst.main() == 0
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "elsewhere"))
    assert inst.main() == 1
    assert "KVALREG_HOME/dagster" in capsys.readouterr().err
