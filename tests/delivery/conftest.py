"""Delivery fixtures: a dev PKI (once per session), a real OpenSSH sshd per test, the config.

The server is a real ``/usr/sbin/sshd``; if it is missing the fixtures fail (never skip):
`make test` installs openssh-server first. Its tree lives under /var/tmp because the SFTP
account must traverse it, which pytest's 0700 temp root does not allow.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from kvalreg.delivery.config import DeliveryConfig, load_config
from kvalreg.delivery.devenv import dev_config, dev_server, write_config
from kvalreg.delivery.devpki import DEV_RECIPIENTS, DevPki, create_dev_pki
from kvalreg.delivery.devsshd import DevSshd, require_sshd
from kvalreg.paths import Layout


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    # 2048-bit keys keep the session fast; the format and checks do not depend on the size.
    return create_dev_pki(tmp_path_factory.mktemp("pki") / "dev-pki", DEV_RECIPIENTS, bits=2048)


@pytest.fixture
def server_root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="kvalreg-test-sshd-", dir="/var/tmp"))
    os.chmod(root, 0o755)
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def server(pki: DevPki, server_root: Path) -> Iterator[DevSshd]:
    require_sshd()
    srv = dev_server(pki, server_root / "server")
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def config(layout: Layout, pki: DevPki, server: DevSshd) -> DeliveryConfig:
    """The recipients file for this test's server, written where the CLI looks, re-read."""
    write_config(dev_config(pki, server, layout.delivery_config, timeout=5.0))
    return load_config(layout.delivery_config)
