"""Run the NPR coverage delivery job once, in-process, on the persistent instance.

What the yearly schedule does, on demand: ``make run`` calls it (through
``infra/demo_delivery.py``) so the demo delivery shows in the UI like a scheduled one.
"""

from __future__ import annotations

from collections.abc import Mapping

import dagster as dg

from assets.delivery import NPR_JOB, extract_key, npr_registries
from kvalreg.paths import Layout
from kvalreg.registry import Registry, load_registries
from orchestration.definitions import build_definitions
from orchestration.instance import open_instance
from orchestration.process import QUIET_CONSOLE
from resources import DeliveryResource, WarehouseResource


def run_npr_delivery(
    layout: Layout, registries: Mapping[str, Registry] | None = None, year: int = 0
) -> dg.ExecuteInProcessResult:
    """Build and deliver every registry's NPR extract (``year`` 0: the default year)."""
    regs = load_registries() if registries is None else registries
    defs = build_definitions(
        regs,
        WarehouseResource(kvalreg_home=str(layout.home)),
        delivery=DeliveryResource(kvalreg_home=str(layout.home)),
    )
    ops = {
        extract_key(r.name).to_python_identifier(): {"config": {"year": year}}
        for r in npr_registries(regs)
    }
    with open_instance(layout) as instance:
        return defs.resolve_job_def(NPR_JOB).execute_in_process(
            run_config={**QUIET_CONSOLE, "ops": ops}, instance=instance, raise_on_error=False
        )


def delivery_metadata(result: dg.ExecuteInProcessResult) -> dict[str, dict]:
    """Registry -> the delivery materialization's metadata (plain values)."""
    out: dict[str, dict] = {}
    for event in result.get_asset_materialization_events():
        key = event.asset_key
        if key.path[0] == "npr" and key.path[-1] == "delivery":
            meta = event.step_materialization_data.materialization.metadata
            out[key.path[1]] = {k: v.value for k, v in meta.items()}
    return out
