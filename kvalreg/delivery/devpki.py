"""A development PKI and SSH client keys, so delivery can be exercised end to end locally.

Production keys and certificates come from the organisation's CA; this module creates a
stand-in with the same shape: a CA, the sender's signing certificate, one encryption
certificate per recipient (RSA, because CMS key transport in ``cryptography`` is RSA only) and
an Ed25519 SSH client key per recipient connection. Private keys are written 0600 into a 0700
directory under ``Layout.secrets``, never into the repository. :func:`issue_certificate` is
also what the tests use to make expired, foreign-CA and wrong-usage certificates.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID

from kvalreg.atomic import write_atomic, write_private

DEV_RECIPIENTS = ("npr", "helsedataservice", "forsker_demo")
DEV_DOMAIN = "kvalreg.dev"
SIGNING = "signing"  # key usage profile of the sender's certificate
ENCRYPTION = "encryption"  # key usage profile of a recipient's certificate


@dataclass(frozen=True)
class KeyPair:
    key_path: Path
    cert_path: Path


@dataclass(frozen=True)
class DevPki:
    """Where :func:`create_dev_pki` put everything (all paths under one directory)."""

    root: Path
    ca: KeyPair
    sender: KeyPair
    recipients: dict[str, KeyPair]
    ssh_keys: dict[str, Path]  # recipient name -> private key (public key beside it, .pub)

    def subject(self, recipient: str) -> str:
        return recipient_subject(recipient)


def recipient_subject(name: str) -> str:
    return f"CN={name}.recipient.{DEV_DOMAIN},O=kvalreg development PKI"


def sender_subject() -> str:
    return f"CN=sender.{DEV_DOMAIN},O=kvalreg development PKI"


def _name(rfc4514: str) -> x509.Name:
    return x509.Name.from_rfc4514_string(rfc4514)


def new_rsa_key(bits: int = 3072) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def create_ca(bits: int = 3072, days: int = 3650) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = new_rsa_key(bits)
    name = _name("CN=kvalreg development CA,O=kvalreg development PKI")
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def issue_certificate(
    ca_key: rsa.RSAPrivateKey,
    ca_cert: x509.Certificate,
    subject: str,
    key: rsa.RSAPrivateKey,
    profile: str,
    *,
    not_before: datetime | None = None,
    not_after: datetime | None = None,
) -> x509.Certificate:
    """An end-entity certificate for S/MIME-style use: ``SIGNING`` or ``ENCRYPTION`` usage."""
    now = datetime.now(UTC)
    signing = profile == SIGNING
    return (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before or now - timedelta(minutes=5))
        .not_valid_after(not_after or now + timedelta(days=825))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=signing,
                content_commitment=signing,
                key_encipherment=not signing,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def pem_key(key: rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def pem_cert(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_keypair(
    folder: Path, stem: str, key: rsa.RSAPrivateKey, cert: x509.Certificate
) -> KeyPair:
    pair = KeyPair(folder / f"{stem}.key", folder / f"{stem}.pem")
    write_private(pair.key_path, pem_key(key))
    write_atomic(pair.cert_path, pem_cert(cert), mode=0o644)
    return pair


def write_ssh_key(path: Path) -> Path:
    """A new Ed25519 key in OpenSSH format (what both paramiko and OpenSSH's clients read)."""
    key = ed25519.Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    write_private(path, private)
    write_atomic(path.with_name(path.name + ".pub"), public + b" kvalreg-dev\n", mode=0o644)
    return path


def create_dev_pki(
    root: Path, recipients: tuple[str, ...] = DEV_RECIPIENTS, bits: int = 3072
) -> DevPki:
    """Create (or keep, if complete) the development PKI and SSH keys under ``root``.

    Idempotent: an existing, complete PKI is returned unchanged, so re-running ``make run``
    does not invalidate what earlier deliveries were encrypted to.
    """
    ca = KeyPair(root / "ca.key", root / "ca.pem")
    sender = KeyPair(root / "sender.key", root / "sender.pem")
    pairs = {
        n: KeyPair(root / "recipients" / f"{n}.key", root / "recipients" / f"{n}.pem")
        for n in recipients
    }
    ssh = {n: root / "ssh" / f"{n}_ed25519" for n in recipients}
    paths = [ca.key_path, ca.cert_path, sender.key_path, sender.cert_path]
    paths += [p for kp in pairs.values() for p in (kp.key_path, kp.cert_path)]
    paths += list(ssh.values())
    if all(p.exists() for p in paths):
        return DevPki(root, ca, sender, pairs, ssh)

    ca_key, ca_cert = create_ca(bits)
    write_keypair(root, "ca", ca_key, ca_cert)
    sender_key = new_rsa_key(bits)
    write_keypair(
        root,
        "sender",
        sender_key,
        issue_certificate(ca_key, ca_cert, sender_subject(), sender_key, SIGNING),
    )
    for name in recipients:
        key = new_rsa_key(bits)
        cert = issue_certificate(ca_key, ca_cert, recipient_subject(name), key, ENCRYPTION)
        write_keypair(root / "recipients", name, key, cert)
        write_ssh_key(ssh[name])
    return DevPki(root, ca, sender, pairs, ssh)
