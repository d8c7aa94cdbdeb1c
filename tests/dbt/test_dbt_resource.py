"""The dbt resource skips dagster-dbt's ``dbt --version`` subprocess and in-process adapter.

If a dagster-dbt upgrade renames the private methods ``resources/dbt.py`` overrides, builds
keep working but pay ≈ 4 s of start-up again: these tests fail first.
"""

import inspect
import subprocess

from dagster_dbt import DbtCliResource

from assets.dbt import dbt_project
from resources.dbt import KvalregDbtCliResource, dbt_resource


def test_the_overridden_methods_are_the_ones_dagster_dbt_calls_before_dbt_starts() -> None:
    cli_source = inspect.getsource(DbtCliResource.cli)
    for name in ("_cli_version", "_initialize_dbt_core_adapter"):
        assert name in vars(DbtCliResource), f"dagster-dbt no longer defines {name}"
        assert name in vars(KvalregDbtCliResource)
        assert f"self.{name}" in cli_source, f"DbtCliResource.cli no longer calls {name}"


def test_the_version_read_in_process_is_the_executables() -> None:
    resource = dbt_resource(dbt_project)
    printed = subprocess.run(
        [resource.dbt_executable, "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert f"installed: {resource._cli_version}" in printed
    assert resource._cli_version.major < 2  # dbt Core, not the Fusion engine
