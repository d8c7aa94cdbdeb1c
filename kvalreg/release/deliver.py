"""Delivering a built release: the package to the project's recipient, the key file to the
trusted third party, then the delivered marker and one release-log entry per delivery.

Both sends go through ``kvalreg.delivery.deliver`` (signed, encrypted, exactly once), so a
re-run after a failure completes what is missing and sends nothing twice. Only when every
part has arrived is the release marked delivered (after which its package is never rebuilt)
and the log told, so ``kvalreg innsyn`` can list the delivery for each person in it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kvalreg.delivery.config import DeliveryConfig
from kvalreg.delivery.deliver import DeliveryResult, deliver
from kvalreg.delivery.package import Item, items_in
from kvalreg.paths import Layout
from kvalreg.release.build import is_delivered, mark_delivered, release_dir
from kvalreg.release.log import ReleaseLog
from kvalreg.release.request import ReleaseRequest

# Recipient names in the delivery configuration: the trusted third party for key files.
TRUSTED_THIRD_PARTY = "helsedataservice"


@dataclass
class ReleaseDelivery:
    release_id: str
    results: list[DeliveryResult] = field(default_factory=list)
    logged: int = 0

    @property
    def sent(self) -> bool:
        return any(r.action == "delivered" for r in self.results)


def package_items(layout: Layout, release_id: str) -> list[Item]:
    """The researcher's package as delivered: its zip (which holds the manifest)."""
    archives = sorted(release_dir(layout, release_id).glob("*.zip"))
    if not archives:
        raise ValueError(f"{release_dir(layout, release_id)}: release {release_id} is not built")
    return [Item(a.name, a) for a in archives]


def key_file_items(layout: Layout, release_id: str) -> list[Item]:
    """The linkage key file (zip) for the trusted third party, if the release has one."""
    folder = layout.release_linkage / release_id
    return [i for i in items_in(folder) if i.name.endswith(".zip")] if folder.is_dir() else []


def deliver_release(
    layout: Layout, config: DeliveryConfig, request: ReleaseRequest
) -> ReleaseDelivery:
    """Send the release of ``request`` to ``request.delivery_recipient`` (and its key file to
    the trusted third party); mark it delivered and log each delivery once."""
    if not request.delivery_recipient:
        raise ValueError(f"{request.path}: delivery.recipient names no recipient")
    release_id = request.release_id
    outcome = ReleaseDelivery(release_id)
    label = f"release-{release_id.replace('@', '-')}"
    outcome.results.append(
        deliver(
            layout, config, request.delivery_recipient, label, package_items(layout, release_id)
        )
    )
    if keys := key_file_items(layout, release_id):
        outcome.results.append(deliver(layout, config, TRUSTED_THIRD_PARTY, f"{label}-key", keys))
    log = ReleaseLog(layout.release_log, layout.secrets)
    logged = {e.get("delivery_id") for e in log.entries("delivery")}
    entries = [
        {
            "kind": "delivery",
            "release": release_id,
            "delivery_id": r.record.delivery_id,
            "target": f"{r.record.recipient}, {r.record.remote_dir}",
            "recipient": r.record.recipient,
            "remote_dir": r.record.remote_dir,
            "files": [{"name": f["name"], "sha256": f["sha256"]} for f in r.record.files],
        }
        for r in outcome.results
        if r.record.delivery_id not in logged
    ]
    if entries:
        log.append(entries)
    outcome.logged = len(entries)
    if not is_delivered(layout, release_id):
        mark_delivered(
            layout,
            release_id,
            {"deliveries": [e.record.delivery_id for e in outcome.results],
             "recipients": [e.record.recipient for e in outcome.results]},
        )  # fmt: skip
    return outcome


def describe(outcome: ReleaseDelivery) -> str:
    lines = [f"release {outcome.release_id}:"]
    for r in outcome.results:
        lines.append(f"  {r.action}: {r.record.delivery_id} to {r.record.recipient} "
                     f"at {r.record.remote_dir}")  # fmt: skip
    return "\n".join(lines)
