"""The code location loads in a real ``dagster-webserver`` serving ``workspace.yaml``.

This is what ``make ui`` starts; the test talks to it only through its GraphQL API, so it
catches anything that breaks loading in a separate code-server process (imports, resource
configuration from the environment, definitions errors) rather than only in-process.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from kvalreg.paths import Layout
from orchestration.instance import open_instance, prepare_dagster_home
from orchestration.process import WORKSPACE_YAML, sensor_origin, store_cursor

REPO = Path(__file__).resolve().parents[2]
WEBSERVER = Path(sys.executable).with_name("dagster-webserver")
STARTUP_SECONDS = 120

QUERY = """
{
  workspaceOrError {
    __typename
    ... on Workspace {
      locationEntries {
        name
        loadStatus
        locationOrLoadError {
          __typename
          ... on PythonError { message }
          ... on RepositoryLocation {
            repositories {
              name
              jobs { name }
              sensors {
                name
                sensorState { status typeSpecificData { ... on SensorData { lastCursor } } }
              }
              assetNodes {
                assetKey { path }
                groupName
                partitionDefinition { type }
                assetChecksOrError {
                  __typename
                  ... on AssetChecks { checks { name blocking } }
                }
              }
            }
          }
        }
      }
    }
  }
}
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CURSOR = '{"v":1,"files":{}}'


@pytest.fixture
def webserver(layout: Layout) -> Iterator[str]:
    prepare_dagster_home(layout)
    # what `kvalreg process` leaves behind: the sensor's cursor in the instance's sensor state
    with open_instance(layout) as instance:
        store_cursor(instance, sensor_origin(), CURSOR, 15)
    port = _free_port()
    env = os.environ | {
        "DAGSTER_HOME": str(layout.dagster_home),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
    }
    log = layout.home / "webserver.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [str(WEBSERVER), "-h", "127.0.0.1", "-p", str(port), "-w", str(WORKSPACE_YAML)],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/graphql"
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while True:
            assert proc.poll() is None, f"webserver exited:\n{log.read_text(errors='replace')}"
            try:
                if requests.get(f"http://127.0.0.1:{port}/server_info", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, f"no webserver:\n{log.read_text(errors='replace')}"
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _location(url: str) -> dict:
    """The kvalreg location entry once it has finished loading."""
    deadline = time.monotonic() + STARTUP_SECONDS
    while True:
        body = requests.post(url, json={"query": QUERY}, timeout=30).json()
        assert "errors" not in body, body
        (entry,) = body["data"]["workspaceOrError"]["locationEntries"]
        if entry["loadStatus"] == "LOADED":
            return entry
        assert time.monotonic() < deadline, entry
        time.sleep(0.5)


def test_code_location_loads_with_assets_checks_and_sensor(webserver: str) -> None:
    """Also: the cursor stored by ``kvalreg process`` is the one the UI/daemon see."""
    entry = _location(webserver)
    assert entry["name"] == "kvalreg"
    location = entry["locationOrLoadError"]
    assert location["__typename"] == "RepositoryLocation", location
    (repo,) = location["repositories"]

    assets = {"/".join(n["assetKey"]["path"]): n for n in repo["assetNodes"]}
    assert {"raw/orchtest/basis", "raw/orchtest/oppf"} <= set(assets)
    basis = assets["raw/orchtest/basis"]
    assert basis["groupName"] == "raw_orchtest"
    assert basis["partitionDefinition"]["type"] == "DYNAMIC"
    assert basis["assetChecksOrError"]["__typename"] == "AssetChecks"
    checks = {c["name"]: c["blocking"] for c in basis["assetChecksOrError"]["checks"]}
    assert checks == {
        "accepted": True,
        "conformance": False,
        "completeness": False,
        "plausibility": False,
    }

    sensors = {s["name"]: s["sensorState"] for s in repo["sensors"]}
    assert set(sensors) == {"landing_sensor", "marts_after_ingest", "release_sensor"}
    assert sensors["landing_sensor"]["status"] == "RUNNING"
    assert sensors["release_sensor"]["status"] == "RUNNING"
    assert sensors["landing_sensor"]["typeSpecificData"]["lastCursor"] == CURSOR
    jobs = {j["name"] for j in repo["jobs"]}
    assert {
        "ingest_orchtest__basis", "ingest_orchtest__oppf", "quarantine_landing_file",
        "build_release",
    } <= jobs  # fmt: skip
