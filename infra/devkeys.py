"""Create the development PKI and SSH client keys under Layout.secrets (idempotent).

    .venv/bin/python infra/devkeys.py

Writes ``<secrets>/dev-pki/``: ``ca.{key,pem}``, ``sender.{key,pem}`` (signing),
``recipients/<name>.{key,pem}`` (encryption; npr, helsedataservice, forsker_demo) and
``ssh/<name>_ed25519{,.pub}``. Private keys are 0600 in 0700 directories.
"""

from __future__ import annotations

import sys

from kvalreg.delivery.devenv import dev_pki
from kvalreg.paths import Layout


def main() -> int:
    pki = dev_pki(Layout.from_env())
    print(f"dev CA:          {pki.ca.cert_path}")
    print(f"sender:          {pki.sender.cert_path}")
    for name, pair in pki.recipients.items():
        print(f"recipient {name:<16} {pair.cert_path}  ssh key {pki.ssh_keys[name]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
