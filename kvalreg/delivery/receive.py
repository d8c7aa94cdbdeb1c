"""The recipient's side: verify and decrypt a fetched delivery directory.

Recipients need nothing of kvalreg (``openssl cms`` suffices, see ``envelope``); these are
conveniences behind ``kvalreg verify`` and ``kvalreg decrypt``. Both open the manifest first,
then every part in manifest order, checking the envelope's SHA-256 and size, the signature,
each part's and each joined file's plaintext SHA-256 and size. ``decrypt`` writes each joined
file through a temporary name and renames it only when its SHA-256 matches.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from kvalreg.delivery.certs import load_certificate
from kvalreg.delivery.envelope import EnvelopeError, load_private_key, open_envelope
from kvalreg.delivery.package import MANIFEST_FORMAT, MANIFEST_NAME
from kvalreg.store import safe_component


@dataclass
class Verification:
    delivery_id: str = ""
    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class RecipientKeys:
    cert: Path
    key: Path
    sender_ca: Path


def read_manifest(folder: Path, keys: RecipientKeys) -> dict:
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise EnvelopeError(f"{path}: missing; the delivery is incomplete")
    plain = open_envelope(
        path.read_bytes(),
        load_certificate(keys.cert),
        load_private_key(keys.key),
        keys.sender_ca,
    )
    manifest = json.loads(plain)
    if manifest.get("format") != MANIFEST_FORMAT:
        raise EnvelopeError(f"{path}: unknown manifest format {manifest.get('format')!r}")
    return manifest


def _parts(folder: Path, entry: dict, keys: RecipientKeys, problems: list[str]):
    """Yield each verified part's plaintext of one manifest file entry, in order."""
    cert, key = load_certificate(keys.cert), load_private_key(keys.key)
    for part in entry["parts"]:
        path = folder / safe_component(part["file"], "part name")
        if not path.is_file():
            problems.append(f"{path}: missing")
            return
        sealed = path.read_bytes()
        if (len(sealed), hashlib.sha256(sealed).hexdigest()) != (
            part["envelope_bytes"],
            part["envelope_sha256"],
        ):
            problems.append(f"{path}: envelope size or SHA-256 differs from the manifest")
            return
        try:
            plain = open_envelope(sealed, cert, key, keys.sender_ca)
        except EnvelopeError as exc:
            problems.append(f"{path}: {exc}")
            return
        if (len(plain), hashlib.sha256(plain).hexdigest()) != (part["bytes"], part["sha256"]):
            problems.append(f"{path}: plaintext size or SHA-256 differs from the manifest")
            return
        yield plain


def verify_delivery(folder: Path, keys: RecipientKeys, out: Path | None = None) -> Verification:
    """Check everything; with ``out``, also write the joined plaintext files there."""
    result = Verification()
    try:
        manifest = read_manifest(folder, keys)
    except (EnvelopeError, ValueError) as exc:
        result.problems.append(str(exc))
        return result
    result.delivery_id = manifest["delivery_id"]
    for entry in manifest["files"]:
        name = safe_component(entry["name"], "file name")
        digest, size = hashlib.sha256(), 0
        tmp = None
        fh = None
        if out is not None:
            out.mkdir(parents=True, exist_ok=True)
            tmp = out / f".{name}.{secrets.token_hex(4)}.tmp"
            fh = open(tmp, "xb")  # noqa: SIM115 - closed below on every path
        try:
            before = len(result.problems)
            for plain in _parts(folder, entry, keys, result.problems):
                digest.update(plain)
                size += len(plain)
                if fh is not None:
                    fh.write(plain)
            if len(result.problems) == before and (size, digest.hexdigest()) != (
                entry["bytes"],
                entry["sha256"],
            ):
                result.problems.append(f"{name}: joined size or SHA-256 differs from the manifest")
            ok = len(result.problems) == before
            if fh is not None and tmp is not None:
                fh.flush()
                os.fsync(fh.fileno())
                fh.close()
                fh = None
                if ok:
                    os.replace(tmp, out / name)
            if ok:
                result.files.append(name)
        finally:
            if fh is not None:
                fh.close()
            if tmp is not None:
                tmp.unlink(missing_ok=True)
    return result
