"""Where the dbt project is and which dbt runs it, for every caller (Dagster and the CLI)."""

import sys
from pathlib import Path

DBT_PROJECT_DIR = Path(__file__).resolve().parents[1] / "dbt_project"


def dbt_executable() -> str:
    """The dbt beside this interpreter: the daemon may run without the venv on PATH."""
    local = Path(sys.executable).parent / "dbt"
    return str(local) if local.is_file() else "dbt"
