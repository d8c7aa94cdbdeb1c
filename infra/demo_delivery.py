"""The demo delivery of `make run`: start the dev sshd, deliver each registry's NPR extract
through the Dagster job and the demo research release (package to the researcher, key file to
Helsedataservice), show where they landed, stop sshd.

    .venv/bin/python infra/demo_delivery.py [RELEASE_REQUEST.yaml]

Then fetch, decrypt and verify as a recipient would (printed at the end).
"""

from __future__ import annotations

import sys
from pathlib import Path

from kvalreg.delivery.config import load_config
from kvalreg.delivery.devenv import dev_pki, start_dev_environment
from kvalreg.paths import Layout
from kvalreg.registry import load_registries
from kvalreg.release.deliver import deliver_release, describe
from kvalreg.release.request import load_request
from orchestration.npr_delivery import delivery_metadata, run_npr_delivery


def main(argv: list[str]) -> int:
    layout = Layout.from_env()
    server = start_dev_environment(layout)
    try:
        result = run_npr_delivery(layout)
        for request_file in argv:
            request = load_request(Path(request_file), load_registries())
            print(describe(deliver_release(layout, load_config(layout.delivery_config), request)))
    finally:
        server.stop()
    deliveries = delivery_metadata(result)
    for registry, meta in sorted(deliveries.items()):
        print(f"NPR extract of {registry}: {meta['action']} as {meta['delivery_id']}")
        print(f"  landed in {meta['remote_dir']} (sftp server tree {server.root})")
        for f in meta["files"]:
            print(f"  {f['name']}: {f['bytes']} bytes, sha256 {f['sha256'][:16]}...")
    if not result.success:
        print(f"NPR delivery run {result.run_id} failed; see the Dagster UI", file=sys.stderr)
        return 1
    pki = dev_pki(layout)
    npr = pki.recipients["npr"]
    print(
        "Open as NPR would: kvalreg decrypt <dir> --out <plain dir> "
        f"--cert {npr.cert_path} --key {npr.key_path} --ca {pki.ca.cert_path}\n"
        "  (or per file: openssl cms -decrypt -inform DER -binary ... | openssl cms -verify ...)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
