"""The development delivery environment: dev PKI + a real local sshd + the recipients file.

Used by ``infra/devkeys.py``, ``infra/sshd.py``, ``make run`` and the tests, so all of them
configure recipients the same way. The server's tree lives under ``KVALREG_HOME/sftp-server``
by default (the SFTP account must be able to traverse it); the PKI under
``Layout.secrets/dev-pki``.
"""

from __future__ import annotations

import os
from pathlib import Path

from kvalreg.atomic import write_atomic
from kvalreg.delivery.config import DeliveryConfig, Recipient, Sender, dump_config
from kvalreg.delivery.devpki import DEV_RECIPIENTS, DevPki, create_dev_pki, recipient_subject
from kvalreg.delivery.devsshd import DevSshd, prepare_sshd
from kvalreg.paths import Layout

KINDS = {"npr": "npr", "helsedataservice": "helsedataservice"}  # anything else: research


def dev_pki(layout: Layout, bits: int = 3072) -> DevPki:
    layout.secrets.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(layout.secrets, 0o700)
    return create_dev_pki(layout.secrets / "dev-pki", DEV_RECIPIENTS, bits=bits)


def dev_server(pki: DevPki, root: Path, port: int | None = None) -> DevSshd:
    return prepare_sshd(root, {n: Path(f"{k}.pub") for n, k in pki.ssh_keys.items()}, port=port)


def dev_config(pki: DevPki, server: DevSshd, path: Path, timeout: float = 20.0) -> DeliveryConfig:
    """The recipients configuration pointing at ``server`` (every recipient has a drop)."""
    recipients = {
        name: Recipient(
            name=name,
            kind=KINDS.get(name, "research"),
            host=server.host,
            port=server.port,
            user=server.user,
            remote_dir=str(server.drops[name]),
            host_keys=(server.host_key_line,),
            client_key=pki.ssh_keys[name],
            cert=pki.recipients[name].cert_path,
            subject=recipient_subject(name),
            timeout_seconds=timeout,
        )
        for name in pki.recipients
    }
    return DeliveryConfig(
        path=path,
        sender=Sender(key=pki.sender.key_path, cert=pki.sender.cert_path, chain=()),
        trusted_cas=(pki.ca.cert_path,),
        recipients=recipients,
    )


def write_config(config: DeliveryConfig) -> Path:
    write_atomic(config.path, dump_config(config).encode(), mode=0o644)
    return config.path


def start_dev_environment(layout: Layout, server_root: Path | None = None) -> DevSshd:
    """Create (or reuse) the PKI and server tree, start sshd, write the recipients file."""
    pki = dev_pki(layout)
    server = dev_server(pki, server_root or layout.home / "sftp-server")
    server.start()
    write_config(dev_config(pki, server, layout.delivery_config))
    return server
