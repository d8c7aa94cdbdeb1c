"""Run the development SFTP server (a real OpenSSH sshd) in the foreground until Ctrl-C.

    .venv/bin/python infra/sshd.py [--port N] [--root DIR]

Creates the dev PKI if needed, prepares the server tree (default
``$KVALREG_HOME/sftp-server``: config, own host key, one drop directory per recipient),
starts ``/usr/sbin/sshd -D -e -f <config>`` on 127.0.0.1 and writes the recipients file
(``Layout.delivery_config``) with the pinned host key and the port. Needs root (the server
logs in an unprivileged account it creates) and the openssh-server package (`make sshd`).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from pathlib import Path

from kvalreg.delivery.devenv import dev_config, dev_pki, dev_server, write_config
from kvalreg.paths import Layout


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--port", type=int, default=None, help="default: a free high port")
    ap.add_argument("--root", type=Path, default=None)
    args = ap.parse_args()
    layout = Layout.from_env()
    pki = dev_pki(layout)
    server = dev_server(pki, args.root or layout.home / "sftp-server", port=args.port)
    with server:
        write_config(dev_config(pki, server, layout.delivery_config))
        print(f"sshd on 127.0.0.1:{server.port} (log {server.log})")
        print(f"recipients file: {layout.delivery_config}")
        for name, drop in server.drops.items():
            print(f"  {name:<18} drop {drop}")
        print(f"known_hosts line: {server.known_hosts_line()}")
        signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
        with contextlib.suppress(KeyboardInterrupt):
            server.process.wait()  # type: ignore[union-attr]
    return 0


if __name__ == "__main__":
    sys.exit(main())
