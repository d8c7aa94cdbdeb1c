"""Delivery against a real OpenSSH sshd: exactly once, and every fault leaves nothing lost or
duplicated. Each fault is followed by a re-run that completes the same delivery."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from kvalreg.delivery.config import DeliveryConfig
from kvalreg.delivery.deliver import ALREADY_DELIVERED, DELIVERED, DeliveryFailed, Retry, deliver
from kvalreg.delivery.devpki import DevPki, write_ssh_key
from kvalreg.delivery.devsshd import DevSshd
from kvalreg.delivery.ledger import COMPLETED, FAILED, Ledger
from kvalreg.delivery.package import MANIFEST_NAME, Item, delivery_id
from kvalreg.delivery.receive import RecipientKeys, verify_delivery
from kvalreg.delivery.transport import HostKeyRefused
from kvalreg.paths import Layout

PART = 256 * 1024
FAST = Retry(attempts=1, backoff_seconds=0.01)


@pytest.fixture
def items(tmp_path: Path) -> list[Item]:
    big = tmp_path / "aktivitet.csv"
    with open(big, "wb") as fh:
        fh.write(os.urandom(3 * PART + 1234))  # four parts
    small = tmp_path / "kobling.csv"
    small.write_text("Fnr;PID\n", encoding="utf-8")
    return [Item("aktivitet.csv", big), Item("kobling.csv", small)]


def _expected_names() -> set[str]:
    return {
        *(f"aktivitet.csv.00{n}.p7m" for n in range(1, 5)),
        "kobling.csv.001.p7m",
        MANIFEST_NAME,
    }


def _assert_complete(server: DevSshd, pki: DevPki, ident: str, items: list[Item]) -> None:
    """Exactly the expected files, no leftovers, and the recipient can open all of it."""
    folder = server.drops["npr"] / ident
    assert {p.name for p in folder.iterdir()} == _expected_names()
    npr = pki.recipients["npr"]
    out = folder.parent.parent / f"plain-{ident}"
    result = verify_delivery(
        folder, RecipientKeys(npr.cert_path, npr.key_path, pki.ca.cert_path), out
    )
    assert result.ok, result.problems
    for item in items:
        assert (out / item.name).read_bytes() == item.path.read_bytes()


def _deliver(layout: Layout, config: DeliveryConfig, items: list[Item], **kw):
    kw.setdefault("retry", FAST)
    return deliver(layout, config, "npr", "npr-test", items, part_bytes=PART, **kw)


def test_delivery_completes_and_a_rerun_sends_nothing(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, items: list[Item]
) -> None:
    first = _deliver(layout, config, items)
    assert first.action == DELIVERED and first.record.status == COMPLETED
    ident = first.record.delivery_id
    _assert_complete(server, pki, ident, items)
    assert first.record.remote_dir == f"{server.drops['npr']}/{ident}"
    assert not (layout.outbox / ident).exists()  # sealed copies dropped once recorded
    mtimes = {p.name: p.stat().st_mtime_ns for p in (server.drops["npr"] / ident).iterdir()}

    again = _deliver(layout, config, items)
    assert again.action == ALREADY_DELIVERED
    assert {p.name: p.stat().st_mtime_ns for p in (server.drops["npr"] / ident).iterdir()} == mtimes
    events = [e["event"] for e in Ledger(layout.deliveries).events(ident)]
    assert events.count("attempt") == 1 and events[-1] == "skipped_completed"
    record = Ledger(layout.deliveries).get(ident)
    assert record is not None and record.ended_at and record.started_at
    assert [f["name"] for f in record.files] == ["aktivitet.csv", "kobling.csv"]
    assert all(u["remote_path"].startswith(record.remote_dir) for u in record.uploads)


def test_connection_dropped_mid_upload_resumes_on_rerun(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, items: list[Item]
) -> None:
    tuning_kw = {"tuning": _small_reads()}
    killed = []

    def kill_midway(name: str, sent: int) -> None:
        if name == "aktivitet.csv.002.p7m" and sent >= PART // 2 and not killed:
            part = next(server.drops["npr"].glob("*/aktivitet.csv.002.p7m.part"))
            deadline = time.monotonic() + 5
            while part.stat().st_size == 0 and time.monotonic() < deadline:
                time.sleep(0.01)  # let the server write what is in flight, then kill it
            killed.append(server.kill_sessions())

    with pytest.raises(DeliveryFailed):
        _deliver(layout, config, items, progress=kill_midway, **tuning_kw)
    assert killed and killed[0] >= 1
    ident = delivery_id("npr", "npr-test", items)
    folder = server.drops["npr"] / ident
    left = {p.name for p in folder.iterdir()}
    assert "aktivitet.csv.001.p7m" in left and MANIFEST_NAME not in left
    partial = folder / "aktivitet.csv.002.p7m.part"
    assert partial.exists() and partial.stat().st_size > 0
    assert Ledger(layout.deliveries).get(ident).status == FAILED

    result = _deliver(layout, config, items, **tuning_kw)
    assert result.action == DELIVERED and result.record.attempts == 2
    _assert_complete(server, pki, ident, items)
    outcomes = [
        e.get("outcome")
        for e in Ledger(layout.deliveries).events(ident)
        if e["event"] == "uploaded"
    ]
    assert outcomes.count("resumed") == 1


def test_sshd_killed_and_restarted_within_one_call_retries_with_backoff(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, items: list[Item]
) -> None:
    done = []

    def crash_server(name: str, sent: int) -> None:
        if name == "aktivitet.csv.003.p7m" and not done:
            done.append(True)
            server.stop()  # the whole server dies, sessions included ...
            server.start()  # ... and comes back on the same port before the retry

    result = _deliver(
        layout,
        config,
        items,
        progress=crash_server,
        tuning=_small_reads(),
        retry=Retry(attempts=3, backoff_seconds=0.05),
    )
    assert result.action == DELIVERED and result.record.attempts == 2
    _assert_complete(server, pki, result.record.delivery_id, items)


def _small_reads():
    from kvalreg.delivery.transport import DEFAULT_TUNING

    return replace(DEFAULT_TUNING, read_bytes=PART // 4)  # progress reported every 64 KiB


def test_login_refused_sends_nothing_and_is_not_retried(
    layout: Layout, config: DeliveryConfig, server: DevSshd, items: list[Item], tmp_path: Path
) -> None:
    stranger = write_ssh_key(tmp_path / "stranger_ed25519")
    bad = replace(
        config,
        recipients={
            **config.recipients,
            "npr": replace(config.recipients["npr"], client_key=stranger),
        },
    )
    with pytest.raises(DeliveryFailed, match="login"):
        _deliver(layout, bad, items, retry=Retry(attempts=3, backoff_seconds=0.01))
    assert list(server.drops["npr"].iterdir()) == []
    ident = delivery_id("npr", "npr-test", items)
    record = Ledger(layout.deliveries).get(ident)
    assert record.status == FAILED and record.attempts == 1  # not retried: needs an operator
    # Fixed configuration: the same delivery completes.
    assert _deliver(layout, config, items).action == DELIVERED


def test_changed_host_key_is_refused_before_login(
    layout: Layout, config: DeliveryConfig, server: DevSshd, items: list[Item], tmp_path: Path
) -> None:
    other = write_ssh_key(tmp_path / "other_host")
    pinned = " ".join(Path(f"{other}.pub").read_text().split()[:2])
    bad = replace(
        config,
        recipients={
            **config.recipients,
            "npr": replace(config.recipients["npr"], host_keys=(pinned,)),
        },
    )
    with pytest.raises(DeliveryFailed, match="host key"):
        _deliver(layout, bad, items)
    assert list(server.drops["npr"].iterdir()) == []
    assert "Accepted publickey" not in server.log.read_text()
    with pytest.raises(HostKeyRefused):
        from kvalreg.delivery.transport import SftpSession

        with SftpSession(bad.recipients["npr"]):
            pass


def test_missing_remote_directory_then_fixed(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, items: list[Item]
) -> None:
    missing = f"{server.drops['npr']}/not-there"
    bad = replace(
        config,
        recipients={
            **config.recipients,
            "npr": replace(config.recipients["npr"], remote_dir=missing),
        },
    )
    with pytest.raises(DeliveryFailed, match="missing"):
        _deliver(layout, bad, items, retry=Retry(attempts=3, backoff_seconds=0.01))
    ident = delivery_id("npr", "npr-test", items)
    assert Ledger(layout.deliveries).get(ident).attempts == 1
    assert _deliver(layout, config, items).action == DELIVERED
    _assert_complete(server, pki, ident, items)


def test_unwritable_remote_directory_then_fixed(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, items: list[Item]
) -> None:
    drop = server.drops["npr"]
    os.chmod(drop, 0o550)
    try:
        with pytest.raises(DeliveryFailed, match="not writable"):
            _deliver(layout, config, items)
    finally:
        os.chmod(drop, 0o750)
    assert list(drop.iterdir()) == []
    result = _deliver(layout, config, items)
    _assert_complete(server, pki, result.record.delivery_id, items)


def test_server_write_error_then_fixed(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, items: list[Item]
) -> None:
    """The server's disk fails a write (its .part is /dev/full): failure, nothing final."""
    ident = delivery_id("npr", "npr-test", items)
    folder = server.drops["npr"] / ident
    folder.mkdir()
    os.chown(folder, *_owner(server.drops["npr"]))
    (folder / "aktivitet.csv.002.p7m.part").symlink_to("/dev/full")
    with pytest.raises(DeliveryFailed, match="refused a write"):
        _deliver(layout, config, items, retry=Retry(attempts=2, backoff_seconds=0.01))
    assert MANIFEST_NAME not in {p.name for p in folder.iterdir()}
    (folder / "aktivitet.csv.002.p7m.part").unlink()
    assert _deliver(layout, config, items).action == DELIVERED
    _assert_complete(server, pki, ident, items)


def _owner(path: Path) -> tuple[int, int]:
    st = path.stat()
    return st.st_uid, st.st_gid


KILL_BEFORE_COMMIT = """
import os, sys
from pathlib import Path
from kvalreg.delivery.config import load_config
from kvalreg.delivery.deliver import Retry, deliver
from kvalreg.delivery.package import Item
from kvalreg.paths import Layout
layout = Layout.from_env()
items = [Item(n, Path(p)) for n, p in zip(sys.argv[1::2], sys.argv[2::2])]
deliver(layout, load_config(layout.delivery_config), "npr", "npr-test", items,
        part_bytes=int(os.environ["PART"]), retry=Retry(attempts=1),
        before_commit=lambda: os._exit(9))
"""


def test_process_killed_between_upload_and_ledger_write_reconciles_from_remote(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, items: list[Item]
) -> None:
    args = [x for i in items for x in (i.name, str(i.path))]
    proc = subprocess.run(
        [sys.executable, "-c", KILL_BEFORE_COMMIT, *args],
        env={**os.environ, "PART": str(PART)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 9, proc.stderr
    ident = delivery_id("npr", "npr-test", items)
    assert Ledger(layout.deliveries).get(ident).status != COMPLETED
    folder = server.drops["npr"] / ident
    mtimes = {p.name: p.stat().st_mtime_ns for p in folder.iterdir()}
    assert set(mtimes) == _expected_names()  # everything, manifest included, had arrived

    result = _deliver(layout, config, items)
    assert result.action == DELIVERED and result.record.status == COMPLETED
    assert {p.name: p.stat().st_mtime_ns for p in folder.iterdir()} == mtimes  # nothing resent
    _assert_complete(server, pki, ident, items)


def test_forced_resend_is_explicit_and_logged(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, items: list[Item]
) -> None:
    first = _deliver(layout, config, items)
    with pytest.raises(ValueError, match="reason"):
        _deliver(layout, config, items, force=True)
    again = _deliver(layout, config, items, force=True, reason="NPR lost the files (ticket 42)")
    assert again.action == DELIVERED
    assert again.record.delivery_id == f"{first.record.delivery_id}-resend1"
    assert again.record.forced_from == first.record.delivery_id
    events = Ledger(layout.deliveries).events(again.record.delivery_id)
    assert events[0]["event"] == "forced_resend" and "ticket 42" in events[0]["reason"]
    _assert_complete(server, pki, again.record.delivery_id, items)
    assert _deliver(layout, config, items).action == ALREADY_DELIVERED
