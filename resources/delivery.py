"""``DeliveryResource``: the recipients configuration and ledger location for delivery assets.

The configuration file is read when a delivery runs, not when the code location loads, so a
location without recipients configured still serves ingestion and the marts.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from kvalreg.delivery.config import DeliveryConfig, load_config
from kvalreg.paths import DEFAULT_HOME, Layout


class DeliveryResource(dg.ConfigurableResource):
    """Where ``KVALREG_HOME`` is, and (optionally) an explicit recipients file."""

    kvalreg_home: str
    recipients_file: str = ""  # empty: ``Layout.delivery_config``

    @property
    def layout(self) -> Layout:
        return Layout(Path(self.kvalreg_home).resolve())

    def config(self) -> DeliveryConfig:
        path = Path(self.recipients_file) if self.recipients_file else self.layout.delivery_config
        return load_config(path)


def delivery_resource_from_env() -> DeliveryResource:
    if os.environ.get("KVALREG_HOME"):
        return DeliveryResource(kvalreg_home=dg.EnvVar("KVALREG_HOME"))
    return DeliveryResource(kvalreg_home=str(DEFAULT_HOME.resolve()))
