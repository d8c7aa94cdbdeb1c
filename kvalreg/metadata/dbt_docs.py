"""``dbt docs generate`` into ``KVALREG_HOME/metadata/dbt-docs``.

One dbt invocation gives both things the metadata needs: the browsable dbt docs site
(``index.html`` with ``manifest.json`` and ``catalog.json``) and a manifest with compiled SQL
for the column lineage. Compiling needs the built warehouse (the staging macros introspect
the raw tables), so this runs after the marts, holding the warehouse lock: dbt-duckdb opens
the database file for writing even when it only reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kvalreg.atomic import write_atomic
from kvalreg.dbt_project import DBT_PROJECT_DIR, dbt_executable
from kvalreg.paths import Layout
from kvalreg.warehouse import connect_holding_lock, table_columns, warehouse_lock


class DbtDocsError(RuntimeError):
    """dbt docs generate failed; the message holds the tail of dbt's own output."""


@dataclass(frozen=True)
class DbtDocs:
    target: Path
    reused: bool = False  # the previous output still described the project and warehouse

    @property
    def lineage_cache(self) -> Path:
        return self.target / "lineage-edges.json"

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.target / "manifest.json").read_text(encoding="utf-8"))

    def catalog(self) -> dict[str, Any]:
        return json.loads((self.target / "catalog.json").read_text(encoding="utf-8"))


def generate_dbt_docs(layout: Layout, target: Path) -> DbtDocs:
    """Run ``dbt docs generate`` against ``layout``'s warehouse, writing into ``target``.

    The docs describe the project's models and the warehouse's tables and columns, not their
    rows, so when neither changed since the last run (same fingerprint) the previous output
    is kept: a marts build after a new dump does not pay ≈ 10 s for identical docs.
    """
    target.mkdir(parents=True, exist_ok=True)
    stamp = target / "fingerprint.txt"
    cmd = [
        dbt_executable(),
        "docs",
        "generate",
        "--quiet",
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target / "logs"),
        "--vars",
        json.dumps({"kvalreg_home": str(layout.home)}),
    ]
    env = os.environ | {"KVALREG_HOME": str(layout.home), "DBT_SEND_ANONYMOUS_USAGE_STATS": "0"}
    with warehouse_lock(layout):
        fingerprint = _fingerprint(layout, cmd)
        complete = all((target / f).is_file() for f in ("manifest.json", "catalog.json"))
        if complete and stamp.is_file() and stamp.read_text(encoding="utf-8") == fingerprint:
            return DbtDocs(target, reused=True)
        stamp.unlink(missing_ok=True)
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise DbtDocsError(f"dbt docs generate failed (exit {done.returncode}):\n{tail}")
    write_atomic(stamp, fingerprint.encode("utf-8"))
    return DbtDocs(target)


def _fingerprint(layout: Layout, cmd: list[str]) -> str:
    """Hash of what ``dbt docs generate`` output depends on: the command, the dbt project's
    files and every table and column of the warehouse (the caller holds the lock)."""
    digest = hashlib.sha256(json.dumps(cmd).encode())
    skip = {"target", "logs", "dbt_packages"}
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text(encoding="utf-8"))
    # The seeds live outside the project folder (dbt_project.yml `seed-paths`).
    seeds = [(DBT_PROJECT_DIR / p).resolve() for p in project.get("seed-paths", [])]
    for root in (DBT_PROJECT_DIR, *seeds):
        for path in sorted(root.rglob("*")):
            rel = path.relative_to(root)
            if path.is_file() and rel.parts[0] not in skip and not rel.name.startswith("."):
                digest.update(f"{root}/{rel}".encode() + b"\0" + path.read_bytes())
    with connect_holding_lock(layout, read_only=True) as con:
        digest.update(json.dumps(table_columns(con), default=str).encode())
    return digest.hexdigest()
