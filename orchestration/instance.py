"""The persistent Dagster instance under ``KVALREG_HOME/dagster``.

``kvalreg process``, ``dagster dev`` (webserver + daemon) and runs they launch must all use
one instance: that is what makes runs visible in the UI and lets the daemon and the CLI
see each other's run keys. The instance's ``dagster.yaml`` is rendered from the template in
``infra/dagster.yaml`` with the absolute path of the home, so it works whether or not
``DAGSTER_HOME`` is set in the environment of the process that opens it.

Run ``python -m orchestration.instance`` (``make ui`` does) to prepare ``DAGSTER_HOME``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from string import Template

import dagster as dg

from kvalreg.paths import Layout

TEMPLATE = Path(__file__).resolve().parents[1] / "infra" / "dagster.yaml"
MANAGED_MARKER = "# kvalreg-managed"
CONFIG_NAME = "dagster.yaml"


def render_config(dagster_home: Path) -> str:
    return Template(TEMPLATE.read_text(encoding="utf-8")).substitute(dagster_home=str(dagster_home))


def prepare_dagster_home(layout: Layout) -> Path:
    """Create ``layout.dagster_home`` with its ``dagster.yaml``; return the directory.

    A missing config is written; a config still carrying the managed marker is re-rendered
    when it differs (template changed, or the home was moved); a config without the marker
    belongs to the operator and is left alone.
    """
    home = layout.dagster_home
    home.mkdir(parents=True, exist_ok=True)
    target = home / CONFIG_NAME
    wanted = render_config(home)
    if target.exists():
        current = target.read_text(encoding="utf-8")
        if current == wanted or not current.startswith(MANAGED_MARKER):
            return home
    tmp = target.with_name(f".{CONFIG_NAME}.tmp")
    tmp.write_text(wanted, encoding="utf-8")
    os.replace(tmp, target)
    return home


def open_instance(layout: Layout) -> dg.DagsterInstance:
    """The persistent instance for ``layout`` (prepared first); close it after use."""
    return dg.DagsterInstance.from_config(str(prepare_dagster_home(layout)))


def main() -> int:
    layout = Layout.from_env()
    home = prepare_dagster_home(layout)
    env_home = os.environ.get("DAGSTER_HOME")
    if env_home and Path(env_home).resolve() != home:
        print(
            f"DAGSTER_HOME={env_home} is not KVALREG_HOME/dagster ({home}); the UI would not "
            "show the runs of `kvalreg process`",
            file=sys.stderr,
        )
        return 1
    print(f"Dagster instance ready in {home}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
