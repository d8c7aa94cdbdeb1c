"""The NPR job on a real Dagster instance and a real sshd: extract -> signed, encrypted delivery,
the ledger entry as metadata (no fnr, no key material), and a re-run that sends nothing."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from delivery_helpers import openssl_open

from kvalreg.delivery.config import DeliveryConfig
from kvalreg.delivery.devpki import DevPki
from kvalreg.delivery.devsshd import DevSshd
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from orchestration.npr_delivery import delivery_metadata, run_npr_delivery


def test_npr_job_delivers_each_registry_once_with_ledger_metadata(
    layout: Layout,
    registries: dict[str, Registry],
    config: DeliveryConfig,
    server: DevSshd,
    pki: DevPki,
    tmp_path: Path,
    ingest_generated: Callable[..., Path],
) -> None:
    regs = {n: registries[n] for n in ("hoftebrudd", "hjerneslag")}
    for name, reg in regs.items():
        ingest_generated(reg, reg.forms[0], tmp_path / name, 400, 3)

    result = run_npr_delivery(layout, regs, year=2023)
    assert result.success
    meta = delivery_metadata(result)
    assert set(meta) == {"hoftebrudd", "hjerneslag"}
    npr = pki.recipients["npr"]
    for name, m in meta.items():
        assert m["action"] == "delivered" and m["status"] == "completed"
        assert m["delivery_id"].startswith(f"npr-{name}-2023-")
        folder = Path(m["remote_dir"])
        assert folder.parent == server.drops["npr"]
        names = {f["name"] for f in m["files"]}
        assert names == {f"{name}_2023_kobling.csv", f"{name}_2023_aktivitet.csv"}
        # NPR opens the link file with stock OpenSSL and gets the extract's bytes back.
        link = next(f for f in m["files"] if f["name"].endswith("kobling.csv"))
        plain = openssl_open(
            folder / f"{link['name']}.001.p7m",
            npr.cert_path,
            npr.key_path,
            pki.ca.cert_path,
            tmp_path,
        )
        assert hashlib.sha256(plain).hexdigest() == link["sha256"]
        assert plain.startswith(b"Fnr;PID\n")
        # Metadata holds the ledger entry and nothing identifying: no fnr from the file.
        text = json.dumps(m, default=str)
        some_fnr = plain.split(b"\n")[1].split(b";")[0].decode()
        assert some_fnr not in text and "PRIVATE KEY" not in text

    again = run_npr_delivery(layout, regs, year=2023)
    assert again.success
    assert {m["action"] for m in delivery_metadata(again).values()} == {"already_delivered"}
