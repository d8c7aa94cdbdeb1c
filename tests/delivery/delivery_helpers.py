"""What a recipient does, with stock tools only (no kvalreg code): shared by the tests."""

from __future__ import annotations

import subprocess
from pathlib import Path


def openssl(*args: str, input: bytes | None = None) -> bytes:
    """Run the real openssl binary; fail the test with its stderr if it fails."""
    proc = subprocess.run(["openssl", *args], input=input, capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout


def openssl_open(envelope: Path, cert: Path, key: Path, ca: Path, workdir: Path) -> bytes:
    """What a recipient does with one envelope, with stock OpenSSL only."""
    signed = workdir / (envelope.name + ".p7s")
    plain = workdir / (envelope.name + ".plain")
    openssl(
        "cms",
        "-decrypt",
        "-inform",
        "DER",
        "-binary",
        "-in",
        str(envelope),
        "-recip",
        str(cert),
        "-inkey",
        str(key),
        "-out",
        str(signed),
    )
    openssl(
        "cms",
        "-verify",
        "-inform",
        "DER",
        "-binary",
        "-in",
        str(signed),
        "-CAfile",
        str(ca),
        "-out",
        str(plain),
    )
    return plain.read_bytes()


def sftp_fetch(
    host: str, port: int, user: str, key: Path, known_hosts_line: str, remote: str, dest: Path
) -> None:
    """Fetch a remote directory with OpenSSH's sftp client: batch mode, pinned host key."""
    dest.mkdir(parents=True, exist_ok=True)
    known = dest.parent / "known_hosts"
    known.write_text(known_hosts_line + "\n")
    batch = dest.parent / "sftp.batch"
    batch.write_text(f"lcd {dest}\nget -r {remote}\n")
    proc = subprocess.run(
        [
            "sftp",
            "-b",
            str(batch),
            "-i",
            str(key),
            "-P",
            str(port),
            "-o",
            f"UserKnownHostsFile={known}",
            "-o",
            "StrictHostKeyChecking=yes",
            "-o",
            "BatchMode=yes",
            "-o",
            "IdentitiesOnly=yes",
            f"{user}@{host}",
        ],
        capture_output=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr.decode()
