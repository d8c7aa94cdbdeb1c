"""`make bench` at a smoke size, so the suite cannot rot: every stage runs and reports."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_bench_runs_every_stage_at_smoke_size(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "bench" / "run.py"),
            "--sizes",
            "500",
            "--out",
            str(out),
            "--work",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))
    stages = {r["stage"]: r for r in payload["results"]}
    assert {
        "generate",
        "ingest",
        "end_to_end",
        "end_to_end_empty_home",
        "noop",
        "dbt_build",
    } <= set(stages)
    assert stages["ingest"]["floor_seconds"] > 0 and stages["ingest"]["ratio"] > 0
    assert all(r["peak_rss_mb"] > 0 for r in stages.values())
    assert stages["dbt_build"]["per_model_seconds"]
    assert payload["machine"]["commit"]
    assert "| ingest | 500 |" in (out / "RESULTS.md").read_text(encoding="utf-8")
