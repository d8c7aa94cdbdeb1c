"""The benchmark suite: every stage beside the floor a user could reach with the raw tools.

    python bench/run.py [--sizes 100000 1000000 10000000] [--out bench]

For each size (base-form registrations of the hip-fracture registry; distinct persons are
~30 % of registrations, so 10M rows have ~3M persons) it generates a workload with
``kvalreg generate``, then measures, each in its own process on the same machine in the
same run:

* ingest + validate the base dump, against DuckDB ``read_csv`` -> Parquet of the same file;
* end to end: every file dropped in ``landing/`` -> ``kvalreg process`` (ingest, dbt marts,
  exports), wall time and peak RSS of the whole process tree;
* a no-op re-run of ``kvalreg process`` with nothing new;
* the dbt build of the marts on the ingested warehouse, in total and per model.

Results go to ``<out>/results.json`` and ``<out>/RESULTS.md`` (with machine information,
date and commit). Targets are checked and reported, never asserted: this is not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from measure import Measured, run  # noqa: E402

BIN = Path(sys.executable).parent
REGISTRY = "hoftebrudd"
PERSON_SHARE = 0.3

# stage -> (kind, limit): "ratio" = at most limit x floor; "seconds"/"rss_mb" = at most limit.
TARGETS: dict[str, dict[str, float]] = {
    "ingest": {"ratio": 3.0},
    "noop": {"seconds": 10.0},
}
E2E_TARGETS = {
    1_000_000: {"seconds": 30.0, "rss_mb": 2048.0},
    10_000_000: {"seconds": 300.0, "rss_mb": 8192.0},
}


def kvalreg(*args: str, env: dict[str, str]) -> Measured:
    return run([str(BIN / "kvalreg"), *args], env=env)


def stage(name: str, *args: str, env: dict[str, str]) -> tuple[Measured, dict]:
    measured = run([sys.executable, str(REPO / "bench" / "stages.py"), name, *args], env=env)
    return measured, json.loads(measured.stdout.strip().splitlines()[-1])


def bench_size(rows: int, work: Path) -> list[dict]:
    results: list[dict] = []
    home = work / "home"
    env = os.environ | {
        "KVALREG_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "KVALREG_SECRETS": str(work / "secrets"),
        "KVALREG_SETTLE_SECONDS": "0",
    }
    env.pop("KVALREG_REGISTRIES", None)
    gen = work / "generated"
    persons = max(1, int(rows * PERSON_SHARE))
    m = kvalreg(
        "generate",
        "--registry",
        REGISTRY,
        "--out",
        str(gen),
        "--rows",
        str(rows),
        "--seed",
        "1",
        "--persons",
        str(persons),
        env=env,
    )
    results.append(row("generate", rows, m.seconds, m))
    files = sorted(p for p in gen.iterdir() if p.suffix == ".csv")
    base = next(p for p in files if "_Operasjon_" in p.name)

    _floor_m, floor = stage("ingest-floor", str(base), str(work / "floor.parquet"), env=env)
    ing_m, ing = stage("ingest", str(base), str(work / "ingest-home"), env=env)
    results.append(
        row(
            "ingest",
            rows,
            ing["seconds"],
            ing_m,
            floor=floor["seconds"],
            floor_name="DuckDB read_csv -> Parquet",
        )
    )

    m = run(
        [
            "/bin/sh",
            "-c",
            f'"{BIN}/kvalreg" drop "$@" >/dev/null && "{BIN}/kvalreg" process',
            "sh",
            *map(str, files),
        ],
        env=env,
    )
    results.append(row("end_to_end", rows, m.seconds, m, targets=E2E_TARGETS.get(rows, {})))
    m = kvalreg("process", env=env)
    results.append(row("noop", rows, m.seconds, m))
    results.append(dbt_build(rows, home, work, env))
    return results


def dbt_build(rows: int, home: Path, work: Path, env: dict[str, str]) -> dict:
    target = work / "dbt-target"
    m = run(
        [
            str(BIN / "dbt"),
            "build",
            "--exclude-resource-type",
            "unit_test",
            "--profiles-dir",
            ".",
            "--target-path",
            str(target),
            "--log-path",
            str(work / "dbt-logs"),
            "--vars",
            json.dumps({"kvalreg_home": str(home)}),
        ],
        cwd=REPO / "dbt_project",
        env=env,
    )
    run_results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))
    models = {
        r["unique_id"].split(".")[-1]: round(r["execution_time"], 3)
        for r in run_results["results"]
        if r["unique_id"].startswith("model.")
    }
    result = row("dbt_build", rows, m.seconds, m)
    result["per_model_seconds"] = dict(sorted(models.items(), key=lambda kv: -kv[1]))
    return result


def row(
    stage_name: str,
    rows: int,
    seconds: float,
    m: Measured,
    *,
    floor: float | None = None,
    floor_name: str = "",
    targets: dict[str, float] | None = None,
) -> dict:
    targets = TARGETS.get(stage_name, {}) if targets is None else targets
    result: dict = {
        "stage": stage_name,
        "rows": rows,
        "seconds": round(seconds, 3),
        "wall_seconds": round(m.seconds, 3),
        "peak_rss_mb": round(m.peak_rss_mb, 1),
    }
    if floor is not None:
        result |= {
            "floor": floor_name,
            "floor_seconds": round(floor, 3),
            "ratio": round(seconds / floor, 2),
        }
    met = []
    for kind, limit in targets.items():
        value = {"ratio": result.get("ratio"), "seconds": seconds, "rss_mb": m.peak_rss_mb}[kind]
        met.append(value is not None and value <= limit)
        result.setdefault("targets", {})[kind] = limit
    if met:
        result["target_met"] = all(met)
    return result


def machine() -> dict:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit or "?",
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 2**20, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def markdown(info: dict, results: list[dict]) -> str:
    lines = [
        "# kvalreg benchmarks",
        "",
        f"Run {info['date']} at commit `{info['commit']}` on {info['cpu']}, "
        f"{info['cores']} cores, {info['memory_gb']} GB, Python {info['python']}.",
        "",
        "Generated by `make bench` (bench/run.py); results.json beside this file has every "
        "figure, including dbt's per-model times.",
        "",
        "| stage | rows | seconds | floor | floor s | ratio | peak RSS MB | target | met |",
        "|---|---:|---:|---|---:|---:|---:|---|---|",
    ]
    for r in results:
        target = ", ".join(f"{k} ≤ {v:g}" for k, v in r.get("targets", {}).items())
        met = {True: "yes", False: "**no**"}.get(r.get("target_met"), "")
        lines.append(
            f"| {r['stage']} | {r['rows']:,} | {r['seconds']:.2f} | {r.get('floor', '')} | "
            f"{r.get('floor_seconds', '')} | {r.get('ratio', '')} | {r['peak_rss_mb']:.0f} | "
            f"{target} | {met} |"
        )
    slow = [r for r in results if r["stage"] == "dbt_build"]
    if slow:
        top = list(slow[-1]["per_model_seconds"].items())[:5]
        lines += [
            "",
            f"Slowest dbt models at {slow[-1]['rows']:,} rows: "
            + ", ".join(f"{k} {v:.2f} s" for k, v in top)
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000, 10_000_000])
    parser.add_argument("--out", type=Path, default=REPO / "bench")
    parser.add_argument("--work", type=Path, help="scratch directory (default: a temp dir)")
    args = parser.parse_args(argv)
    info = machine()
    results: list[dict] = []
    scratch = Path(tempfile.mkdtemp(prefix="kvalreg-bench-", dir=args.work))
    try:
        for rows in args.sizes:
            work = scratch / str(rows)
            work.mkdir()
            results += bench_size(rows, work)
            shutil.rmtree(work)
            print(f"{rows:,} rows done", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    args.out.mkdir(parents=True, exist_ok=True)
    payload = {"machine": info, "results": results}
    (args.out / "results.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (args.out / "RESULTS.md").write_text(markdown(info, results), encoding="utf-8")
    print(markdown(info, results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
