"""Upload throughput over loopback: kvalreg's paramiko transport vs OpenSSH's ``sftp put``.

Starts a real sshd (kvalreg.delivery.devsshd), uploads the same random file with OpenSSH's
``sftp`` client, with paramiko's stock ``SFTPClient.putfo`` and with kvalreg's tuned
transport (each ``--repeat`` times, best run kept), and prints JSON with MB/s and the ratio
kvalreg / OpenSSH (target >= 0.8). Needs root (the server's account) and openssh-server.

    .venv/bin/python bench/sftp.py --mb 256 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import paramiko

from kvalreg.delivery.config import Recipient
from kvalreg.delivery.devpki import write_ssh_key
from kvalreg.delivery.devsshd import prepare_sshd
from kvalreg.delivery.transport import DEFAULT_TUNING, SftpSession, Tuning


def _openssh_put(srv, key: Path, known_hosts: Path, src: Path, name: str) -> None:
    batch = src.parent / "batch"
    batch.write_text(f"put {src} {name}\n")
    subprocess.run(
        [
            "sftp",
            "-q",
            "-b",
            str(batch),
            "-i",
            str(key),
            "-P",
            str(srv.port),
            "-o",
            f"UserKnownHostsFile={known_hosts}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            f"{srv.user}@{srv.host}",
        ],
        check=True,
        capture_output=True,
    )


def _paramiko_default(recipient: Recipient, src: Path, remote: str) -> None:
    with SftpSession(recipient, Tuning(window_bytes=2 * 1024 * 1024, ciphers=())) as s:
        assert s.sftp is not None
        with open(src, "rb") as fh:
            s.sftp.putfo(fh, remote, confirm=True)


def _kvalreg(recipient: Recipient, src: Path, remote_dir: str, name: str, tuning: Tuning) -> None:
    with SftpSession(recipient, tuning) as s:
        s.upload(src, remote_dir, name)


def _best(fn, clean, repeat: int, size: int) -> float:
    best = 0.0
    for _ in range(repeat):
        clean()
        t0 = time.perf_counter()
        fn()
        best = max(best, size / (time.perf_counter() - t0) / 1e6)
    clean()
    return round(best, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="kvalreg-bench-", dir="/var/tmp"))
    os.chmod(work, 0o755)
    key = write_ssh_key(work / "keys" / "bench_ed25519")
    srv = prepare_sshd(work / "server", {"bench": Path(f"{key}.pub")})
    known_hosts = work / "known_hosts"
    known_hosts.write_text(srv.known_hosts_line() + "\n")
    src = work / "payload.bin"
    with open(src, "wb") as fh:
        for _ in range(args.mb):
            fh.write(os.urandom(1 << 20))
    size = src.stat().st_size
    drop = srv.drops["bench"]
    recipient = Recipient(
        name="bench",
        kind="other",
        host=srv.host,
        port=srv.port,
        user=srv.user,
        remote_dir=str(drop),
        host_keys=(srv.host_key_line,),
        client_key=key,
        cert=key,  # the transport never reads the certificate (no envelope in this benchmark)
        subject="CN=bench",
    )

    def clean() -> None:
        for p in drop.iterdir():
            p.unlink()

    with srv:
        openssh = _best(
            lambda: _openssh_put(srv, key, known_hosts, src, "o.bin"), clean, args.repeat, size
        )
        stock = _best(
            lambda: _paramiko_default(recipient, src, f"{drop}/p.bin"), clean, args.repeat, size
        )
        tuned = _best(
            lambda: _kvalreg(recipient, src, str(drop), "k.bin", DEFAULT_TUNING),
            clean,
            args.repeat,
            size,
        )
        ctr = _best(
            lambda: _kvalreg(
                recipient, src, str(drop), "c.bin", replace(DEFAULT_TUNING, ciphers=("aes128-ctr",))
            ),
            clean,
            args.repeat,
            size,
        )
    subprocess.run(["rm", "-rf", str(work)], check=False)
    print(
        json.dumps(
            {
                "file_mb": args.mb,
                "repeat": args.repeat,
                "openssh_sftp_put_mb_s": openssh,
                "paramiko_putfo_default_mb_s": stock,
                "kvalreg_upload_mb_s": tuned,
                "kvalreg_upload_aes128_ctr_mb_s": ctr,
                "ratio_kvalreg_vs_openssh": round(tuned / openssh, 2),
                "ratio_paramiko_default_vs_openssh": round(stock / openssh, 2),
                "paramiko": paramiko.__version__,
            },
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
