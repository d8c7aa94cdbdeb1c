"""Helpers for the release tests: the CLI in a subprocess, the demo request, and scans of
package files for anything that looks like a fødselsnummer."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from kvalreg import fnr
from kvalreg.paths import Layout

KVALREG = Path(sys.executable).with_name("kvalreg")
DEMO_REQUEST = (
    Path(__file__).resolve().parents[2]
    / "kvalreg" / "registries" / "hoftebrudd" / "releases" / "hoftebrudd-demo.yaml"
)  # fmt: skip
# a standalone 11-digit value: not part of a longer token such as a SHA-256 hex digest
ELEVEN_DIGITS = re.compile(r"(?<![0-9A-Za-z])\d{11}(?![0-9A-Za-z])")


def run_kvalreg(
    home: Path, secrets: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = os.environ | {
        "KVALREG_HOME": str(home),
        "DAGSTER_HOME": str(home / "dagster"),
        "KVALREG_SECRETS": str(secrets),
        "KVALREG_SETTLE_SECONDS": "0",
    }
    return subprocess.run(
        [str(KVALREG), *args], env=env, capture_output=True, text=True, timeout=900, input=stdin
    )


def raw_fnrs(layout: Layout) -> set[str]:
    """Every fnr in the raw hoftebrudd operations (to prove none leaves in a package)."""
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        rows = con.execute("SELECT DISTINCT Fodselsnummer FROM raw_hoftebrudd.operasjon").fetchall()
    return {str(r[0]).strip() for r in rows if r[0]}


def single_registration_fnrs(layout: Layout) -> set[str]:
    """The fnrs with exactly one raw hoftebrudd operation (in one dump)."""
    with duckdb.connect(str(layout.warehouse), read_only=True) as con:
        rows = con.execute(
            "SELECT trim(CAST(Fodselsnummer AS VARCHAR)) FROM raw_hoftebrudd.operasjon "
            "WHERE Fodselsnummer IS NOT NULL GROUP BY 1 HAVING count(*) = 1"
        ).fetchall()
    return {r[0] for r in rows}


def package_texts(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` as text; Parquet files rendered cell by cell."""
    out: dict[str, str] = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            out[str(path)] = (
                "\n".join(",".join(str(v) for v in row.values()) for row in table.to_pylist())
                + "\n"
                + ",".join(table.column_names)
            )
        elif path.suffix == ".zip":
            continue  # the zip holds the same files, checked byte for byte elsewhere
        else:
            out[str(path)] = path.read_text(encoding="utf-8")
    return out


def valid_fnrs_in(text: str) -> list[str]:
    return [m for m in ELEVEN_DIGITS.findall(text) if fnr.is_valid(m)]


def assert_no_fnr_in_packages(layout: Layout) -> None:
    """No file of any research package under ``layout`` holds a valid-looking fnr."""
    if not layout.release_packages.exists():
        return
    for folder in layout.release_packages.glob("*/*@v*"):
        if folder.is_dir():
            for path, text in package_texts(folder).items():
                assert valid_fnrs_in(text) == [], path
