"""A wrong recipient certificate is refused before anything is staged or sent; dev keys are 0600."""

from __future__ import annotations

import stat
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from kvalreg.delivery.certs import CertificateRefused
from kvalreg.delivery.config import DeliveryConfig
from kvalreg.delivery.deliver import deliver
from kvalreg.delivery.devpki import (
    ENCRYPTION,
    SIGNING,
    DevPki,
    create_ca,
    create_dev_pki,
    issue_certificate,
    new_rsa_key,
    pem_cert,
    recipient_subject,
)
from kvalreg.delivery.devsshd import DevSshd
from kvalreg.delivery.envelope import load_private_key
from kvalreg.delivery.ledger import Ledger
from kvalreg.delivery.package import Item
from kvalreg.paths import Layout


def _ca(pki: DevPki):
    from kvalreg.delivery.certs import load_certificate

    return load_private_key(pki.ca.key_path), load_certificate(pki.ca.cert_path)


def _cert_file(tmp_path: Path, cert) -> Path:
    p = tmp_path / "recipient.pem"
    p.write_bytes(pem_cert(cert))
    return p


def _bad_certs(pki: DevPki, tmp_path: Path) -> dict[str, Path]:
    ca_key, ca_cert = _ca(pki)
    key = new_rsa_key(2048)
    subject = recipient_subject("npr")
    now = datetime.now(UTC)
    foreign_key, foreign_ca = create_ca(bits=2048)
    made = {
        "expired": issue_certificate(
            ca_key,
            ca_cert,
            subject,
            key,
            ENCRYPTION,
            not_before=now - timedelta(days=400),
            not_after=now - timedelta(days=1),
        ),
        "not yet valid": issue_certificate(
            ca_key, ca_cert, subject, key, ENCRYPTION, not_before=now + timedelta(days=2)
        ),
        "not issued by a trusted CA": issue_certificate(
            foreign_key, foreign_ca, subject, key, ENCRYPTION
        ),
        "key encipherment": issue_certificate(ca_key, ca_cert, subject, key, SIGNING),
        "subject": issue_certificate(
            ca_key, ca_cert, recipient_subject("forsker_demo"), key, ENCRYPTION
        ),
    }
    out = {}
    for reason, cert in made.items():
        d = tmp_path / reason.replace(" ", "_")
        d.mkdir()
        out[reason] = _cert_file(d, cert)
    return out


def test_wrong_recipient_certificates_are_refused_before_anything_is_sent(
    layout: Layout, config: DeliveryConfig, server: DevSshd, pki: DevPki, tmp_path: Path
) -> None:
    data = tmp_path / "x.csv"
    data.write_text("a;b\n", encoding="utf-8")
    for reason, cert in _bad_certs(pki, tmp_path).items():
        bad = replace(
            config,
            recipients={**config.recipients, "npr": replace(config.recipients["npr"], cert=cert)},
        )
        with pytest.raises(CertificateRefused, match=reason):
            deliver(layout, bad, "npr", "x", [Item("x.csv", data)])
    assert list(server.drops["npr"].iterdir()) == []
    assert not layout.outbox.exists() or list(layout.outbox.iterdir()) == []
    events = Ledger(layout.deliveries).events()
    assert [e["event"] for e in events] == ["refused"] * 5
    assert Ledger(layout.deliveries).all() == []


def test_dev_pki_private_keys_are_0600_and_creation_is_idempotent(tmp_path: Path) -> None:
    root = tmp_path / "pki"
    pki = create_dev_pki(root, ("npr",), bits=2048)
    private = [
        pki.ca.key_path,
        pki.sender.key_path,
        pki.recipients["npr"].key_path,
        pki.ssh_keys["npr"],
    ]
    for p in private:
        assert stat.S_IMODE(p.stat().st_mode) == 0o600, p
        assert stat.S_IMODE(p.parent.stat().st_mode) == 0o700, p.parent
    before = {p: p.read_bytes() for p in private}
    again = create_dev_pki(root, ("npr",), bits=2048)
    assert {p: p.read_bytes() for p in private} == before
    assert again.recipients["npr"].cert_path == pki.recipients["npr"].cert_path
