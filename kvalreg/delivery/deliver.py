"""Deliver a named set of files to a recipient: check, stage, upload, record — exactly once.

The one entry point :func:`deliver` is generic over what is shipped (an NPR extract, a
release package, a key file): a recipient name from the configuration, a label, and
``(name, path)`` items. The order of things is what makes it safe:

1. The sender's and the recipient's certificates are checked; a refusal is logged and
   nothing is staged or sent.
2. The delivery id is derived from recipient, label and contents. If the ledger holds it as
   completed, nothing happens (a re-run never re-sends). ``force=True`` with a reason makes
   a new, explicitly logged delivery ``<id>-resend<N>``.
3. The files are sealed into ``outbox/<id>/`` once; retries continue those exact bytes.
4. Upload into ``<remote_dir>/<id>/``: every envelope via ``.part`` + rename, the manifest
   last. A file already in place with the right size counts as done, which is how a re-run
   reconciles from the remote side after a crash between upload and ledger write. Network
   failures are retried with exponential back-off; refused logins, changed host keys and
   missing or unwritable directories are not (they need an operator).
5. Only after the ledger says completed is the outbox copy removed.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from kvalreg.delivery.certs import check_recipient_certificate, check_sender_certificate
from kvalreg.delivery.config import DeliveryConfig, Recipient
from kvalreg.delivery.envelope import PART_BYTES, Signer
from kvalreg.delivery.ledger import (
    COMPLETED,
    FAILED,
    STAGED,
    UPLOADING,
    DeliveryRecord,
    Ledger,
    now_iso,
)
from kvalreg.delivery.package import Item, delivery_id, stage
from kvalreg.delivery.transport import DEFAULT_TUNING, SftpSession, TransportError, Tuning
from kvalreg.paths import Layout

ALREADY_DELIVERED = "already_delivered"
DELIVERED = "delivered"


class DeliveryFailed(RuntimeError):
    """The delivery did not complete; the ledger holds it as failed and a re-run resumes it.

    ``retryable`` is False when an operator must act first (login refused, host key changed,
    remote directory missing or unwritable), so schedulers need not retry in vain.
    """

    def __init__(self, message: str, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class Retry:
    attempts: int = 4  # connection attempts per call
    backoff_seconds: float = 2.0  # doubled after each failed attempt


@dataclass(frozen=True)
class DeliveryResult:
    action: str  # delivered | already_delivered
    record: DeliveryRecord


def deliver(
    layout: Layout,
    config: DeliveryConfig,
    recipient_name: str,
    label: str,
    items: list[Item],
    *,
    force: bool = False,
    reason: str | None = None,
    retry: Retry = Retry(),
    part_bytes: int = PART_BYTES,
    tuning: Tuning = DEFAULT_TUNING,
    progress: Callable[[str, int], None] | None = None,
    before_commit: Callable[[], None] | None = None,
) -> DeliveryResult:
    """Deliver ``items`` to ``recipient_name`` under ``label`` (see the module docstring).

    ``progress(name, bytes_sent)`` and ``before_commit()`` are observation points (the fault
    tests kill the server or the process there).
    """
    recipient = config.recipient(recipient_name)
    ledger = Ledger(layout.deliveries)
    base = delivery_id(recipient.name, label, items)
    try:
        check_sender_certificate(config.sender.cert, config.sender.chain or config.trusted_cas)
        cert = check_recipient_certificate(recipient.cert, recipient.subject, config.trusted_cas)
    except ValueError as exc:
        ledger.event("refused", base, recipient=recipient.name, error=str(exc))
        raise
    if force and not reason:
        raise ValueError("a forced re-send needs a reason (it is logged)")

    with ledger.lock(base):
        ident = base
        forced_from = None
        if force:
            done = ledger.get(base)
            if done is None or done.status != COMPLETED:
                raise ValueError(f"{base} is not completed; deliver it normally (no force)")
            n = 1
            while ledger.get(f"{base}-resend{n}") is not None:
                n += 1
            ident, forced_from = f"{base}-resend{n}", base
            ledger.event("forced_resend", ident, recipient=recipient.name, of=base, reason=reason)
        record = ledger.get(ident)
        if record is not None and record.status == COMPLETED:
            ledger.event("skipped_completed", ident, recipient=recipient.name)
            return DeliveryResult(ALREADY_DELIVERED, record)

        signer = Signer.load(config.sender.key, config.sender.cert, config.sender.chain)
        staged = stage(layout.outbox, ident, recipient.name, cert, signer, items, part_bytes)
        remote_dir = f"{recipient.remote_dir.rstrip('/')}/{ident}"
        if record is None:
            record = DeliveryRecord(
                delivery_id=ident,
                recipient=recipient.name,
                label=label,
                remote_dir=remote_dir,
                files=staged.files,
                uploads=[
                    {
                        "remote_name": u.remote_name,
                        "bytes": u.bytes,
                        "sha256": u.sha256,
                        "remote_path": f"{remote_dir}/{u.remote_name}",
                        "state": "pending",
                    }
                    for u in staged.uploads
                ],
                status=STAGED,
                forced_from=forced_from,
                reason=reason,
            )
            ledger.save(record)
            ledger.event("staged", ident, recipient=recipient.name, files=record.files)

        last_error: TransportError | None = None
        for attempt in range(retry.attempts):
            record.attempts += 1
            record.status = UPLOADING
            ledger.save(record)
            ledger.event("attempt", ident, recipient=recipient.name, attempt=record.attempts)
            try:
                _upload_all(recipient, staged.folder, remote_dir, record, ledger, tuning, progress)
                break
            except TransportError as exc:
                last_error = exc
                record.error = str(exc)
                ledger.save(record)
                ledger.event("attempt_failed", ident, error=str(exc), retryable=exc.retryable)
                if not exc.retryable or attempt == retry.attempts - 1:
                    break
                time.sleep(retry.backoff_seconds * 2**attempt)
        else:  # no attempts configured
            last_error = TransportError("no upload attempt was allowed")
        if any(u["state"] != "done" for u in record.uploads):
            record.status = FAILED
            record.ended_at = now_iso()
            ledger.save(record)
            ledger.event("failed", ident, recipient=recipient.name, error=record.error)
            raise DeliveryFailed(
                f"delivery {ident} to {recipient.name} failed: {last_error}",
                retryable=last_error.retryable if last_error else True,
            )

        if before_commit is not None:
            before_commit()
        record.status = COMPLETED
        record.error = None
        record.ended_at = now_iso()
        ledger.save(record)
        ledger.event(
            "completed", ident, recipient=recipient.name, remote_dir=remote_dir, files=record.files
        )
        shutil.rmtree(staged.folder, ignore_errors=True)
        return DeliveryResult(DELIVERED, record)


def _upload_all(
    recipient: Recipient,
    folder: Path,
    remote_dir: str,
    record: DeliveryRecord,
    ledger: Ledger,
    tuning: Tuning,
    progress: Callable[[str, int], None] | None,
) -> None:
    """One session: every envelope in plan order (manifest last), recording each as done."""
    with SftpSession(recipient, tuning) as session:
        session.ensure_dir(recipient.remote_dir, record.delivery_id)
        for up in record.uploads:
            if up["state"] == "done":
                continue
            name = up["remote_name"]
            outcome = session.upload(
                folder / name,
                remote_dir,
                name,
                (lambda pos, n=name: progress(n, pos)) if progress else None,
            )
            up["state"] = "done"
            ledger.save(record)
            ledger.event("uploaded", record.delivery_id, file=name, outcome=outcome)
