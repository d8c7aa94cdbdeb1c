"""End to end, exactly as a recipient works: ``kvalreg deliver`` uploads; the recipient fetches
with OpenSSH's sftp client (pinned host key), decrypts and verifies with openssl, joins the
parts and checks every SHA-256 against the manifest. No kvalreg code on the recipient side."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from delivery_helpers import openssl_open, sftp_fetch

from kvalreg.cli import main
from kvalreg.delivery.config import DeliveryConfig
from kvalreg.delivery.devpki import DevPki
from kvalreg.delivery.devsshd import DevSshd
from kvalreg.delivery.ledger import Ledger
from kvalreg.paths import Layout


def test_recipient_fetches_decrypts_and_verifies_with_openssh_and_openssl(
    layout: Layout,
    config: DeliveryConfig,
    server: DevSshd,
    pki: DevPki,
    tmp_path: Path,
    capsys,
) -> None:
    release = tmp_path / "release.parquet"
    release.write_bytes(os.urandom(300_000))
    keyfile = tmp_path / "keys.csv"
    keyfile.write_text("pseudonym;fnr\nP0001;01817712345\n", encoding="utf-8")
    deliver = [
        "deliver", "--recipient", "helsedataservice", "--label", "release-demo",
        f"pakke.parquet={release}", str(keyfile),
    ]  # fmt: skip
    assert main(deliver) == 0
    assert "delivered: release-demo-" in capsys.readouterr().out
    (record,) = Ledger(layout.deliveries).all()

    # --- the recipient's side: OpenSSH + OpenSSL only ---
    hds = pki.recipients["helsedataservice"]
    fetched = tmp_path / "inbox"
    sftp_fetch(
        server.host,
        server.port,
        server.user,
        pki.ssh_keys["helsedataservice"],
        server.known_hosts_line(),
        record.remote_dir,
        fetched,
    )
    folder = fetched / record.delivery_id
    work = tmp_path / "work"
    work.mkdir()
    manifest = json.loads(
        openssl_open(
            folder / "MANIFEST.json.p7m", hds.cert_path, hds.key_path, pki.ca.cert_path, work
        )
    )
    originals = {"pakke.parquet": release, "keys.csv": keyfile}
    assert {f["name"] for f in manifest["files"]} == set(originals)
    for entry in manifest["files"]:
        joined = b"".join(
            openssl_open(folder / part["file"], hds.cert_path, hds.key_path, pki.ca.cert_path, work)
            for part in entry["parts"]
        )
        assert hashlib.sha256(joined).hexdigest() == entry["sha256"]
        assert len(joined) == entry["bytes"]
        assert joined == originals[entry["name"]].read_bytes()

    # --- and kvalreg's convenience commands agree ---
    args = ["--cert", str(hds.cert_path), "--key", str(hds.key_path), "--ca", str(pki.ca.cert_path)]
    assert main(["verify", str(folder), *args]) == 0
    assert main(["decrypt", str(folder), "--out", str(tmp_path / "plain"), *args]) == 0
    assert (tmp_path / "plain" / "pakke.parquet").read_bytes() == release.read_bytes()
    # A second identical command sends nothing.
    assert main(deliver) == 0
    assert "already_delivered" in capsys.readouterr().out


def test_a_package_directory_is_delivered_and_only_its_recipient_can_open_it(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, tmp_path: Path
) -> None:
    package = tmp_path / "p123"
    package.mkdir()
    (package / "data.csv").write_text("pid;x\nP1;2\n", encoding="utf-8")
    (package / "codebook.csv").write_text("variable;label\nx;X\n", encoding="utf-8")
    assert (
        main(["deliver", "--recipient", "forsker_demo", "--label", "release-p123", str(package)])
        == 0
    )
    (record,) = Ledger(layout.deliveries).all()
    assert [f["name"] for f in record.files] == ["codebook.csv", "data.csv"]
    folder = Path(record.remote_dir)
    assert folder.parent == server.drops["forsker_demo"]

    def check(who: str) -> int:
        pair = pki.recipients[who]
        return main(
            [
                "verify",
                str(folder),
                "--cert",
                str(pair.cert_path),
                "--key",
                str(pair.key_path),
                "--ca",
                str(pki.ca.cert_path),
            ]
        )

    assert check("forsker_demo") == 0
    assert check("npr") == 1


def test_cli_reports_a_failed_delivery_and_the_rerun_completes(
    layout: Layout, config: DeliveryConfig, server: DevSshd, tmp_path: Path, capsys
) -> None:
    data = tmp_path / "x.csv"
    data.write_text("a;b\n", encoding="utf-8")
    server.stop()
    assert main(["deliver", "--recipient", "npr", "--label", "x", str(data)]) == 1
    assert "a re-run resumes it" in capsys.readouterr().err
    assert [r.status for r in Ledger(layout.deliveries).all()] == ["failed"]
    server.start()
    assert main(["deliver", "--recipient", "npr", "--label", "x", str(data)]) == 0
    assert main(["deliveries"]) == 0
    assert capsys.readouterr().out.splitlines()[-1].startswith("completed  x-")
