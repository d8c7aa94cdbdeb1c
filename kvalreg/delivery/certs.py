"""Checks on certificates before anything is encrypted or sent.

Encrypting to the wrong certificate is a disclosure that cannot be undone, so a recipient
certificate is refused unless it was issued by a trusted CA (signature checked), is within
its validity period, allows key encipherment (RSA key transport is what CMS uses here), holds
an RSA key, and carries exactly the subject configured for that recipient. The sender's own
certificate must be valid and allow digital signatures, or recipients would reject the files.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa


class CertificateRefused(ValueError):
    """A certificate failed a check; the message names the file and the reason only."""


def load_certificate(path: Path) -> x509.Certificate:
    data = path.read_bytes()
    try:
        if b"-----BEGIN" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise CertificateRefused(f"{path}: not an X.509 certificate ({exc})") from None


def _key_usage(cert: x509.Certificate) -> x509.KeyUsage | None:
    try:
        return cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return None


def _check_issued_and_valid(
    path: Path, cert: x509.Certificate, trusted: list[x509.Certificate], now: datetime
) -> None:
    issuers = [ca for ca in trusted if ca.subject == cert.issuer]
    for ca in issuers:
        try:
            cert.verify_directly_issued_by(ca)
            break
        except (ValueError, TypeError, InvalidSignature):
            continue
    else:
        raise CertificateRefused(f"{path}: not issued by a trusted CA")
    if now < cert.not_valid_before_utc:
        raise CertificateRefused(
            f"{path}: not yet valid (from {cert.not_valid_before_utc:%Y-%m-%d})"
        )
    if now > cert.not_valid_after_utc:
        raise CertificateRefused(f"{path}: expired on {cert.not_valid_after_utc:%Y-%m-%d}")


def check_recipient_certificate(
    path: Path, expected_subject: str, trusted_cas: tuple[Path, ...], now: datetime | None = None
) -> x509.Certificate:
    """The recipient's certificate if it passes every check, else :class:`CertificateRefused`."""
    cert = load_certificate(path)
    trusted = [load_certificate(p) for p in trusted_cas]
    _check_issued_and_valid(path, cert, trusted, now or datetime.now(UTC))
    usage = _key_usage(cert)
    if usage is None or not usage.key_encipherment:
        raise CertificateRefused(f"{path}: key usage does not allow key encipherment")
    if not isinstance(cert.public_key(), rsa.RSAPublicKey):
        raise CertificateRefused(f"{path}: CMS key transport needs an RSA key")
    want = x509.Name.from_rfc4514_string(expected_subject)
    if cert.subject != want:
        raise CertificateRefused(
            f"{path}: subject {cert.subject.rfc4514_string()!r} is not the configured "
            f"{want.rfc4514_string()!r}"
        )
    return cert


def check_sender_certificate(
    path: Path, trusted_cas: tuple[Path, ...], now: datetime | None = None
) -> x509.Certificate:
    """The sender's signing certificate, if valid and allowed to sign."""
    cert = load_certificate(path)
    if trusted_cas:
        _check_issued_and_valid(
            path, cert, [load_certificate(p) for p in trusted_cas], now or datetime.now(UTC)
        )
    usage = _key_usage(cert)
    if usage is None or not (usage.digital_signature or usage.content_commitment):
        raise CertificateRefused(f"{path}: key usage does not allow digital signatures")
    return cert
