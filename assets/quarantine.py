"""The ``quarantine_landing_file`` job: move one rejected landing entry into quarantine.

Rejected entries (wrong folder, unknown form, unsafe name, symlink, duplicate ...) are not
dumps, so they get no asset: a plain op job moves them, byte-identical and with a report,
into ``quarantine/`` via ``kvalreg.store.quarantine``. Running it as a Dagster job (rather
than inside the sensor) keeps the sensor side-effect free and gives every rejection a run
with logs in the UI.
"""

import os
import stat
from pathlib import Path

import dagster as dg

from kvalreg import landing, store
from kvalreg.ingest.problems import Problem, Severity
from resources import WarehouseResource

JOB_NAME = "quarantine_landing_file"
OP_NAME = "quarantine_entry"


class QuarantineConfig(dg.Config):
    """Which landing entry to move and why (set by the landing sensor)."""

    path: str  # absolute; non-UTF-8 bytes as surrogate escapes (os.fsdecode)
    check_id: str
    registry: str | None = None
    reason: str = ""


@dg.op(name=OP_NAME, description="Move a rejected landing entry into quarantine with a report.")
def quarantine_entry(
    context: dg.OpExecutionContext, config: QuarantineConfig, warehouse: WarehouseResource
) -> dg.Output[None]:
    layout = warehouse.layout
    src = Path(config.path)
    name = landing.display_name(src)
    if not _inside(src, layout.landing):
        raise dg.Failure(f"refusing to quarantine {name!r}: it is not under landing/")
    if not os.path.lexists(src):
        context.log.info(f"{name!r} is no longer in landing; nothing to do")
        return dg.Output(None, metadata={"moved": False, "check_id": config.check_id})
    label = landing.safe_label(src)
    problem = Problem(
        check_id=config.check_id,
        severity=Severity.FATAL,
        message=config.reason or f"rejected in landing ({config.check_id})",
        file=name,
    )
    details = {"check_id": config.check_id, "landing_entry": name, "run_id": context.run_id}
    mode = os.lstat(src).st_mode
    if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        # Directories, fifos, sockets: never opened (reading a fifo would block), renamed as a
        # whole within the same filesystem; the store then only writes the reports.
        target = store.quarantine_path(
            layout, registry=config.registry, file_label=label, stamp=store.quarantine_stamp()
        )
        target.parent.mkdir(parents=True, exist_ok=True)
        os.rename(src, target)
        src = target
    stored, report = store.quarantine(
        layout, src, [problem], registry=config.registry, file_label=label, context=details
    )
    context.log.info(f"moved {name!r} to quarantine ({config.check_id})")
    return dg.Output(
        None,
        metadata={
            "moved": True,
            "check_id": config.check_id,
            "stored_path": dg.MetadataValue.path(str(stored)),
            "report_path": dg.MetadataValue.path(str(report)),
        },
    )


def _inside(path: Path, root: Path) -> bool:
    """Lexical check (no symlink resolution: the entry itself may be a symlink)."""
    return Path(os.path.normpath(path)).is_relative_to(root)


@dg.job(
    name=JOB_NAME,
    description="Move one rejected landing entry into quarantine/ with a report.",
    tags={"kvalreg/kind": "quarantine"},
)
def quarantine_landing_file() -> None:
    quarantine_entry()
