"""The dbt CLI resource, without two start-up costs of dagster-dbt that kvalreg never uses.

dagster-dbt 0.29 spends ≈ 4 s of every marts build before dbt starts (py-spy of ``kvalreg
process`` on a 1M-row export: 2.2 s and 1.7 s of a 17.6 s dbt step):

* ``_cli_version`` runs ``dbt --version`` in a subprocess to tell dbt Core from the Fusion
  engine. kvalreg runs the dbt Core installed beside this interpreter (``dbt_executable``),
  so the installed distribution's version is the executable's version.
* ``_initialize_dbt_core_adapter`` loads the project's macros into an in-process adapter,
  used only by ``fetch_column_metadata`` and ``fetch_row_counts``. kvalreg attaches the
  column schemas from one catalog query after dbt exits (``assets.dbt.with_column_schemas``),
  and the DuckDB file admits no second process while dbt writes it.

Both overrides name private methods of the pinned dagster-dbt (``requirements.lock``); if an
upgrade renames them, builds keep working and only pay the start-up cost again
(``tests/dbt/test_dbt_resource.py`` notices).
"""

from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as distribution_version

from dagster_dbt import DbtCliResource, DbtProject
from packaging import version

from kvalreg.dbt_project import dbt_executable


class KvalregDbtCliResource(DbtCliResource):
    """``DbtCliResource`` for the dbt Core beside this interpreter, with no in-process adapter."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(distribution_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> None:  # type: ignore[override]
        return None


def dbt_resource(project: DbtProject) -> KvalregDbtCliResource:
    return KvalregDbtCliResource(
        project_dir=project,
        profiles_dir=str(project.profiles_dir),
        dbt_executable=dbt_executable(),
    )
