"""The benchmark suite: every stage beside the floor a user could reach with the raw tools.

    python bench/run.py [--sizes 100000 1000000 10000000] [--out bench]

For each size (base-form registrations of the hip-fracture registry; distinct persons are
~30 % of registrations, so 10M rows have ~3M persons) it generates a workload with
``kvalreg generate``, then measures, each in its own process on the same machine in the
same run:

* ingest + validate the base dump, against DuckDB ``read_csv`` -> Parquet of the same file;
* end to end, in an installation already in use: every file dropped in ``landing/`` ->
  ``kvalreg process`` (ingest, dbt marts, exports, metadata, release build) -> ``kvalreg
  release deliver`` to a local sshd, wall time and peak RSS of the whole process tree; up to
  1M rows also from an empty home (without the delivery);
* a no-op re-run of ``kvalreg process`` with nothing new;
* the dbt build of the marts on the ingested warehouse, in total and per model;
* pseudonymisation of a table of that many rows (``bench/pseudonymise.py``), against a plain
  per-row Python ``hmac`` loop;
* sealing the base dump as a delivery does (sign + encrypt in parts), against
  ``openssl cms -encrypt`` of the same bytes;
* SFTP upload of the base dump to a real local sshd (``bench/sftp.py``), against OpenSSH's
  ``sftp put`` of the same file to the same server.

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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from measure import Measured, run  # noqa: E402

from kvalreg.delivery.devenv import start_dev_environment  # noqa: E402
from kvalreg.paths import Layout  # noqa: E402

BIN = Path(sys.executable).parent
REGISTRY = "hoftebrudd"
DEMO_REQUEST = REPO / "kvalreg" / "registries" / REGISTRY / "releases" / "hoftebrudd-demo.yaml"
PERSON_SHARE = 0.3

# stage -> (kind, limit): "ratio" = at most limit x floor; "seconds"/"rss_mb" = at most limit.
# For the throughput stages the ratio is kvalreg time / floor time, so "≥ 0.5x openssl" is a
# ratio of at most 2 and "≥ 0.8x OpenSSH" at most 1.25.
TARGETS: dict[str, dict[str, float]] = {
    "ingest": {"ratio": 3.0},
    "noop": {"seconds": 10.0},
    "envelope": {"ratio": 2.0},
    "sftp_upload": {"ratio": 1.25},
    "pseudonymise": {"rows_per_second_min": 5_000_000.0},
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

    results += guarded("end_to_end", rows, lambda: end_to_end(rows, files, work, env))
    results += guarded("dbt_build", rows, lambda: [dbt_build(rows, home, work, env)])

    env_m, env_r = stage("envelope", str(base), str(work), env=env)
    _, env_floor = stage("envelope-floor", str(base), str(work), env=env)
    results.append(
        row(
            "envelope",
            rows,
            env_r["seconds"],
            env_m,
            floor=env_floor["seconds"],
            floor_name="openssl cms -encrypt",
        )
    )
    results.append(pseudonymise(rows, persons, env))
    results.append(sftp_upload(rows, base, env))
    return results


def guarded(name: str, rows: int, measure: Callable[[], list[dict]]) -> list[dict]:
    """The stage's rows, or one row saying it failed and why: a failure at 10M rows must not
    lose the figures of every other stage."""
    try:
        return measure()
    except Exception as exc:  # reported in the results; the suite goes on
        print(f"{name} at {rows:,} rows failed: {exc}", file=sys.stderr)
        return [{"stage": name, "rows": rows, "error": str(exc)[-2000:]}]


def end_to_end(rows: int, files: list[Path], work: Path, env: dict[str, str]) -> list[dict]:
    """A new export lands in an installation in use, until its release is delivered.

    The home first processes a small earlier export (warm-up, not timed), as a registry's
    installation would have; the demo release request is submitted and the local sshd started
    (a service, not part of the path). Timed: drop the export into ``landing/`` ->
    ``kvalreg process`` (ingest, dbt marts, exports, metadata, release build) -> ``kvalreg
    release deliver`` (package to the researcher, key file to Helsedataservice), then a no-op
    ``kvalreg process``. For sizes up to 1M the same path from an empty home is measured too.
    """
    results = []
    home = Path(env["KVALREG_HOME"])
    warm = work / "warmup"
    kvalreg("generate", "--registry", REGISTRY, "--out", str(warm), "--rows", "2000",
            "--seed", "2", env=env)  # fmt: skip
    _drop_and_process(sorted(warm.glob("*.csv")), env)
    kvalreg("release", "submit", str(DEMO_REQUEST), env=env)
    os.environ["KVALREG_SECRETS"] = env["KVALREG_SECRETS"]  # the dev PKI's place (Layout)
    # The SFTP account must be able to traverse the server tree: not under a private tmp.
    sftp_root = Path(tempfile.mkdtemp(prefix="kvalreg-bench-e2e-", dir="/var/tmp"))
    sftp_root.chmod(0o755)
    server = start_dev_environment(Layout(home), sftp_root / "server")
    try:
        m = _drop_and_process(files, env, deliver=True)
        results.append(row("end_to_end", rows, m.seconds, m, targets=E2E_TARGETS.get(rows, {})))
        m = kvalreg("process", env=env)
        results.append(row("noop", rows, m.seconds, m))
    finally:
        server.stop()
        shutil.rmtree(sftp_root, ignore_errors=True)
    if rows <= 1_000_000:
        cold = work / "cold-home"
        cold_env = env | {"KVALREG_HOME": str(cold), "DAGSTER_HOME": str(cold / "dagster")}
        m = _drop_and_process(files, cold_env)
        results.append(row("end_to_end_empty_home", rows, m.seconds, m))
        shutil.rmtree(cold)
    return results


def _drop_and_process(files: list[Path], env: dict[str, str], deliver: bool = False) -> Measured:
    script = f'"{BIN}/kvalreg" drop "$@" >/dev/null && "{BIN}/kvalreg" process'
    if deliver:
        script += f' && "{BIN}/kvalreg" release deliver "{DEMO_REQUEST}"'
    return run(["/bin/sh", "-c", script, "sh", *map(str, files)], env=env)


def pseudonymise(rows: int, persons: int, env: dict[str, str]) -> dict:
    m = run(
        [
            sys.executable,
            str(REPO / "bench" / "pseudonymise.py"),
            "--rows",
            str(rows),
            "--persons",
            str(persons),
            "--repeat",
            "3",
        ],
        env=env,
    )
    out = json.loads(m.stdout[m.stdout.index("{") :])
    result = row(
        "pseudonymise",
        rows,
        out["bulk_seconds"],
        m,
        floor=rows / out["hmac_loop_rows_per_second"],
        floor_name="Python hmac loop (per row)",
    )
    result["rows_per_second"] = out["bulk_rows_per_second"]
    met = out["bulk_rows_per_second"] >= TARGETS["pseudonymise"]["rows_per_second_min"]
    result["target_met"] = met
    return result


def sftp_upload(rows: int, base: Path, env: dict[str, str]) -> dict:
    mb = max(1, round(base.stat().st_size / 2**20))
    m = run(
        [sys.executable, str(REPO / "bench" / "sftp.py"), "--mb", str(mb), "--repeat", "3"], env=env
    )
    out = json.loads(m.stdout[m.stdout.index("{") :])
    result = row(
        "sftp_upload",
        rows,
        mb / out["kvalreg_upload_mb_s"],
        m,
        floor=mb / out["openssh_sftp_put_mb_s"],
        floor_name="OpenSSH sftp put",
    )
    result |= {
        "mb": mb,
        "kvalreg_mb_s": out["kvalreg_upload_mb_s"],
        "openssh_mb_s": out["openssh_sftp_put_mb_s"],
        "paramiko_default_mb_s": out["paramiko_putfo_default_mb_s"],
    }
    return result


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
        "cpu_seconds": round(m.cpu_seconds, 2),
        "disk_read_mb": round(m.disk_read_mb, 1),
    }
    if floor is not None:
        result |= {
            "floor": floor_name,
            "floor_seconds": round(floor, 3),
            "ratio": round(seconds / floor, 2),
        }
    met = []
    for kind, limit in targets.items():
        result.setdefault("targets", {})[kind] = limit
        if kind == "rows_per_second_min":  # a minimum, judged by the stage itself
            continue
        value = {"ratio": result.get("ratio"), "seconds": seconds, "rss_mb": m.peak_rss_mb}[kind]
        met.append(value is not None and value <= limit)
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
        "CPU s is the user + system time of the command's whole process tree (2 cores: up to "
        "twice the wall time); disk read MB what it read from storage rather than the page "
        "cache, so a slow stage shows whether it computed or waited.",
        "",
        "| stage | rows | seconds | floor | floor s | ratio | peak RSS MB | CPU s | disk read MB "
        "| target | met |",
        "|---|---:|---:|---|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in results:
        if "error" in r:
            why = r["error"].strip().splitlines()[-1][:160].replace("|", "/")
            lines.append(f"| {r['stage']} | {r['rows']:,} | failed: {why} | | | | | | | | **no** |")
            continue
        target = ", ".join(
            f"rows/s ≥ {v:,.0f}" if k == "rows_per_second_min" else f"{k} ≤ {v:g}"
            for k, v in r.get("targets", {}).items()
        )
        met = {True: "yes", False: "**no**"}.get(r.get("target_met"), "")
        lines.append(
            f"| {r['stage']} | {r['rows']:,} | {r['seconds']:.2f} | {r.get('floor', '')} | "
            f"{r.get('floor_seconds', '')} | {r.get('ratio', '')} | {r['peak_rss_mb']:.0f} | "
            f"{r['cpu_seconds']:.1f} | {r['disk_read_mb']:.0f} | {target} | {met} |"
        )
    slow = [r for r in results if r["stage"] == "dbt_build" and "per_model_seconds" in r]
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
            write_results(args.out, info, results)  # each size as soon as it is done
            print(f"{rows:,} rows done", file=sys.stderr)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    print(markdown(info, results))
    return 0


def write_results(out: Path, info: dict, results: list[dict]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    payload = {"machine": info, "results": results}
    (out / "results.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    (out / "RESULTS.md").write_text(markdown(info, results), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
