"""Envelopes open with stock OpenSSL; kvalreg verify/decrypt agree; tampering is caught."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from pathlib import Path

import pytest
from delivery_helpers import openssl_open

from kvalreg.delivery.certs import load_certificate
from kvalreg.delivery.devpki import DevPki, create_ca, pem_cert
from kvalreg.delivery.envelope import Signer, seal
from kvalreg.delivery.package import MANIFEST_NAME, Item, stage
from kvalreg.delivery.receive import RecipientKeys, verify_delivery


def _signer(pki: DevPki) -> Signer:
    return Signer.load(pki.sender.key_path, pki.sender.cert_path)


def test_openssl_decrypts_and_verifies_one_envelope(pki: DevPki, tmp_path: Path) -> None:
    data = os.urandom(100_000) + "æøå;\r\n".encode()
    env = tmp_path / "x.p7m"
    env.write_bytes(seal(data, _signer(pki), load_certificate(pki.recipients["npr"].cert_path)))
    npr = pki.recipients["npr"]
    assert openssl_open(env, npr.cert_path, npr.key_path, pki.ca.cert_path, tmp_path) == data
    # The DER is standard CMS: EnvelopedData with AES-256-CBC, RSA key transport.
    info = subprocess.run(
        ["openssl", "cms", "-cmsout", "-print", "-inform", "DER", "-in", str(env)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "pkcs7-envelopedData" in info and "aes-256-cbc" in info


def test_signature_does_not_verify_against_another_ca(pki: DevPki, tmp_path: Path) -> None:
    env = tmp_path / "x.p7m"
    env.write_bytes(seal(b"data", _signer(pki), load_certificate(pki.recipients["npr"].cert_path)))
    other_ca = tmp_path / "other-ca.pem"
    other_ca.write_bytes(pem_cert(create_ca(bits=2048)[1]))
    npr = pki.recipients["npr"]
    with pytest.raises(AssertionError, match=r"(?i)verif"):
        openssl_open(env, npr.cert_path, npr.key_path, other_ca, tmp_path)


def test_wrong_recipient_key_cannot_decrypt(pki: DevPki, tmp_path: Path) -> None:
    env = tmp_path / "x.p7m"
    env.write_bytes(seal(b"data", _signer(pki), load_certificate(pki.recipients["npr"].cert_path)))
    hds = pki.recipients["helsedataservice"]
    with pytest.raises(AssertionError):
        openssl_open(env, hds.cert_path, hds.key_path, pki.ca.cert_path, tmp_path)


def _stage(pki: DevPki, tmp_path: Path, size: int, part_bytes: int):
    src = tmp_path / "activity.csv"
    with open(src, "wb") as fh:
        fh.write(os.urandom(size))
    staged = stage(
        tmp_path / "outbox",
        "demo-1",
        "npr",
        load_certificate(pki.recipients["npr"].cert_path),
        _signer(pki),
        [Item("aktivitet.csv", src), Item("kobling.csv", _small(tmp_path))],
        part_bytes=part_bytes,
    )
    return src, staged


def _small(tmp_path: Path) -> Path:
    p = tmp_path / "link.csv"
    p.write_text("Fnr;PID\n01817712345;1\n", encoding="utf-8")
    return p


def test_large_file_is_split_into_parts_that_openssl_opens_and_joins(
    pki: DevPki, tmp_path: Path
) -> None:
    src, staged = _stage(pki, tmp_path, size=250_000, part_bytes=100_000)
    names = [u.remote_name for u in staged.uploads]
    assert names == [
        "aktivitet.csv.001.p7m",
        "aktivitet.csv.002.p7m",
        "aktivitet.csv.003.p7m",
        "kobling.csv.001.p7m",
        MANIFEST_NAME,
    ]
    npr = pki.recipients["npr"]
    ca = pki.ca.cert_path
    manifest = json.loads(
        openssl_open(staged.folder / MANIFEST_NAME, npr.cert_path, npr.key_path, ca, tmp_path)
    )
    entry = next(f for f in manifest["files"] if f["name"] == "aktivitet.csv")
    joined = b"".join(
        openssl_open(staged.folder / p["file"], npr.cert_path, npr.key_path, ca, tmp_path)
        for p in entry["parts"]
    )
    assert joined == src.read_bytes()
    assert hashlib.sha256(joined).hexdigest() == entry["sha256"]
    assert entry["bytes"] == 250_000 and manifest["part_bytes"] == 100_000


def test_kvalreg_decrypt_and_verify_and_tamper_detection(pki: DevPki, tmp_path: Path) -> None:
    src, staged = _stage(pki, tmp_path, size=150_000, part_bytes=100_000)
    npr = pki.recipients["npr"]
    keys = RecipientKeys(npr.cert_path, npr.key_path, pki.ca.cert_path)
    out = tmp_path / "plain"
    result = verify_delivery(staged.folder, keys, out)
    assert result.ok, result.problems
    assert (out / "aktivitet.csv").read_bytes() == src.read_bytes()
    assert sorted(result.files) == ["aktivitet.csv", "kobling.csv"]

    part = staged.folder / "aktivitet.csv.002.p7m"
    data = bytearray(part.read_bytes())
    data[-20] ^= 0xFF
    part.write_bytes(bytes(data))
    bad = verify_delivery(staged.folder, keys, tmp_path / "plain2")
    assert not bad.ok
    assert any("aktivitet.csv.002.p7m" in p for p in bad.problems)
    assert not (tmp_path / "plain2" / "aktivitet.csv").exists()  # nothing half-written

    (staged.folder / MANIFEST_NAME).unlink()
    assert "incomplete" in verify_delivery(staged.folder, keys).problems[0]


def test_staging_is_idempotent(pki: DevPki, tmp_path: Path) -> None:
    _src, first = _stage(pki, tmp_path, size=1000, part_bytes=100_000)
    before = {p.name: p.read_bytes() for p in first.folder.iterdir()}
    again = stage(
        tmp_path / "outbox",
        "demo-1",
        "npr",
        load_certificate(pki.recipients["npr"].cert_path),
        _signer(pki),
        [Item("aktivitet.csv", tmp_path / "activity.csv")],
    )
    assert {p.name: p.read_bytes() for p in again.folder.iterdir()} == before
