"""The envelope: sign, then encrypt, as standard DER CMS (RFC 5652) that stock OpenSSL opens.

Sealing is ``PKCS7SignatureBuilder`` (SignedData with the content embedded, SHA-256, the
sender's certificate and chain included) followed by ``PKCS7EnvelopeBuilder`` (EnvelopedData,
AES-256-CBC content key wrapped with the recipient's RSA key). Signing first means the
signature travels inside the encryption and also protects the CBC ciphertext's content,
which has no integrity of its own. A recipient opens one envelope with::

    openssl cms -decrypt -inform DER -binary -in F.p7m -recip cert.pem -inkey key.pem -out F.p7s
    openssl cms -verify -inform DER -binary -in F.p7s -CAfile sender-ca.pem -out F

``cryptography`` seals in memory (bytes in, bytes out), so large files are cut into parts of
at most :data:`PART_BYTES` plaintext bytes, each sealed on its own; peak memory is about four
times the part size per part being sealed (plaintext, signed, encrypted, and the copy being
written), and staging seals two parts at a time (``delivery.package.SEALING_THREADS``).
``cryptography`` has no CMS verification API, so :func:`open_envelope` decrypts with it and
verifies with the ``openssl`` binary — the same tool the recipient uses.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7

from kvalreg.delivery.certs import load_certificate

PART_BYTES = 64 * 1024 * 1024  # plaintext bytes per sealed part (see module docstring)
OPENSSL = "openssl"


class EnvelopeError(ValueError):
    """An envelope could not be opened or its signature did not verify."""


@dataclass(frozen=True)
class Signer:
    """The sender's signing key and certificate, plus certificates to include (chain)."""

    key: rsa.RSAPrivateKey
    cert: x509.Certificate
    chain: tuple[x509.Certificate, ...] = ()

    @classmethod
    def load(cls, key_path: Path, cert_path: Path, chain: tuple[Path, ...] = ()) -> Signer:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{key_path}: the signing key must be RSA")
        return cls(key, load_certificate(cert_path), tuple(load_certificate(p) for p in chain))


def seal(data: bytes, signer: Signer, recipient: x509.Certificate) -> bytes:
    """``data`` signed by ``signer`` then encrypted to ``recipient``, as DER CMS."""
    builder = (
        pkcs7.PKCS7SignatureBuilder()
        .set_data(data)
        .add_signer(signer.cert, signer.key, hashes.SHA256())
    )
    for extra in signer.chain:
        builder = builder.add_certificate(extra)
    signed = builder.sign(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    return (
        pkcs7.PKCS7EnvelopeBuilder()
        .set_data(signed)
        .add_recipient(recipient)
        .set_content_encryption_algorithm(pkcs7.algorithms.AES256)
        .encrypt(serialization.Encoding.DER, [pkcs7.PKCS7Options.Binary])
    )


def decrypt(envelope: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> bytes:
    """The signed (still unverified) CMS inside ``envelope``."""
    try:
        return pkcs7.pkcs7_decrypt_der(envelope, cert, key, [])
    except ValueError as exc:
        raise EnvelopeError(f"cannot decrypt: {exc}") from None


def verify_signed(signed: bytes, ca_file: Path) -> bytes:
    """The content of a DER SignedData if its signature verifies to ``ca_file``."""
    proc = subprocess.run(
        [OPENSSL, "cms", "-verify", "-inform", "DER", "-binary", "-CAfile", str(ca_file)],
        input=signed,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0:
        reason = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise EnvelopeError(f"signature does not verify: {reason[-1] if reason else 'unknown'}")
    return proc.stdout


def open_envelope(
    envelope: bytes, cert: x509.Certificate, key: rsa.RSAPrivateKey, ca_file: Path
) -> bytes:
    """Decrypt, then verify: the plaintext of one sealed part."""
    return verify_signed(decrypt(envelope, cert, key), ca_file)


def load_private_key(path: Path) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"{path}: expected an RSA private key")
    return key
