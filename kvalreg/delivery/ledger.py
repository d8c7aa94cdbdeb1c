"""The delivery ledger: what was sent to whom, when, with what outcome — and exactly once.

Two stores under ``Layout.deliveries``:

- ``records/<delivery id>.json``: the current state of each delivery (recipient, label,
  files with SHA-256 and size, remote paths, start and end, status, attempts, last error),
  replaced atomically on every change;
- ``ledger.jsonl``: an append-only, fsync'ed event log (staged, attempt, uploaded, completed,
  failed, refused, forced_resend, skipped_completed) — the audit trail.

Neither ever holds key material, certificate private parts or file contents.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kvalreg.atomic import write_atomic
from kvalreg.store import safe_component

STAGED, UPLOADING, COMPLETED, FAILED = "staged", "uploading", "completed", "failed"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


@dataclass
class DeliveryRecord:
    delivery_id: str
    recipient: str
    label: str
    remote_dir: str  # the delivery's own directory on the server
    files: list[dict]  # name, bytes, sha256 of each plaintext file
    uploads: list[dict]  # remote_name, bytes, sha256 (envelope), remote_path, state
    status: str = STAGED
    started_at: str = field(default_factory=now_iso)
    ended_at: str | None = None
    attempts: int = 0
    error: str | None = None
    forced_from: str | None = None  # the completed delivery this one deliberately re-sends
    reason: str | None = None  # why it was forced

    def as_metadata(self) -> dict:
        """Everything in the record (it holds no secrets), as plain JSON-able data."""
        return asdict(self)


class Ledger:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.records = root / "records"
        self.log = root / "ledger.jsonl"

    def _path(self, delivery_id: str) -> Path:
        return self.records / f"{safe_component(delivery_id, 'delivery id')}.json"

    def get(self, delivery_id: str) -> DeliveryRecord | None:
        p = self._path(delivery_id)
        if not p.is_file():
            return None
        return DeliveryRecord(**json.loads(p.read_text(encoding="utf-8")))

    def save(self, record: DeliveryRecord) -> None:
        write_atomic(self._path(record.delivery_id), json.dumps(asdict(record), indent=2).encode())

    def event(self, kind: str, delivery_id: str, **fields: object) -> None:
        """Append one event line, flushed to disk before returning."""
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"at": now_iso(), "event": kind, "delivery_id": delivery_id, **fields})
        fd = os.open(self.log, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            os.write(fd, (line + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)

    def events(self, delivery_id: str | None = None) -> list[dict]:
        if not self.log.is_file():
            return []
        out = [json.loads(x) for x in self.log.read_text(encoding="utf-8").splitlines() if x]
        return [e for e in out if delivery_id is None or e["delivery_id"] == delivery_id]

    def all(self) -> list[DeliveryRecord]:
        if not self.records.is_dir():
            return []
        return [
            DeliveryRecord(**json.loads(p.read_text(encoding="utf-8")))
            for p in sorted(self.records.glob("*.json"))
        ]

    @contextmanager
    def lock(self, delivery_id: str) -> Iterator[None]:
        """One process at a time works on a delivery (a second one waits)."""
        locks = self.root / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        fd = os.open(
            locks / f"{safe_component(delivery_id, 'delivery id')}.lock",
            os.O_RDWR | os.O_CREAT,
            0o640,
        )
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)
