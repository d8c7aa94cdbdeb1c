"""``dbt docs generate`` into ``KVALREG_HOME/metadata/dbt-docs``.

One dbt invocation gives both things the metadata needs: the browsable dbt docs site
(``index.html`` with ``manifest.json`` and ``catalog.json``) and a manifest with compiled SQL
for the column lineage. Compiling needs the built warehouse (the staging macros introspect
the raw tables), so this runs after the marts, holding the warehouse lock: dbt-duckdb opens
the database file for writing even when it only reads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kvalreg.paths import Layout
from kvalreg.warehouse import warehouse_lock

DBT_PROJECT_DIR = Path(__file__).resolve().parents[2] / "dbt_project"


class DbtDocsError(RuntimeError):
    """dbt docs generate failed; the message holds the tail of dbt's own output."""


@dataclass(frozen=True)
class DbtDocs:
    target: Path

    def manifest(self) -> dict[str, Any]:
        return json.loads((self.target / "manifest.json").read_text(encoding="utf-8"))

    def catalog(self) -> dict[str, Any]:
        return json.loads((self.target / "catalog.json").read_text(encoding="utf-8"))


def _dbt_executable() -> str:
    """The dbt beside this interpreter (the daemon may run without the venv on PATH)."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.is_file() else "dbt"


def generate_dbt_docs(layout: Layout, target: Path) -> DbtDocs:
    """Run ``dbt docs generate`` against ``layout``'s warehouse, writing into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    cmd = [
        _dbt_executable(),
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
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise DbtDocsError(f"dbt docs generate failed (exit {done.returncode}):\n{tail}")
    return DbtDocs(target)
