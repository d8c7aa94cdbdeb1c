"""``WarehouseResource``: where ``KVALREG_HOME`` is, and locked DuckDB connections into it.

Assets, sensors and ops get the operator's tree from this one resource instead of reading the
environment themselves, so ``kvalreg process`` can run the very same definitions against the
``Layout`` it was given, and the UI shows where a run wrote.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb

from kvalreg import warehouse
from kvalreg.paths import DEFAULT_HOME, Layout


class WarehouseResource(dg.ConfigurableResource):
    """The ``KVALREG_HOME`` tree and its DuckDB warehouse (one writer at a time)."""

    kvalreg_home: str

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.kvalreg_home).resolve())

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection holding the cross-process warehouse lock (see ``kvalreg.warehouse``)."""
        with warehouse.connect(self.layout, read_only=read_only) as con:
            yield con


def warehouse_resource_from_env() -> WarehouseResource:
    """Configured from ``KVALREG_HOME`` (shown as an env var in the UI), else ``./var``."""
    if os.environ.get("KVALREG_HOME"):
        return WarehouseResource(kvalreg_home=dg.EnvVar("KVALREG_HOME"))
    return WarehouseResource(kvalreg_home=str(DEFAULT_HOME.resolve()))
