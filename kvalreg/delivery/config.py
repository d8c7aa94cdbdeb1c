"""Recipients are configuration: where each one's SFTP drop box is and what it encrypts to.

One YAML file (``Layout.delivery_config``; ``infra/recipients.example.yaml`` documents it)
names the sender's signing key and certificate, the CA(s) trusted to issue recipient
certificates, and per recipient: SFTP host, port, user, remote directory, pinned host key(s),
client key, encryption certificate and the subject that certificate must carry. The file
holds paths, never key material, so it may be shown and versioned; relative paths are
resolved against the file's own directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from kvalreg.registry import NAME_RE


class ConfigError(ValueError):
    """The delivery configuration is missing, malformed or names a missing file."""


@dataclass(frozen=True)
class Sender:
    key: Path
    cert: Path
    chain: tuple[Path, ...] = ()  # intermediate/CA certificates recipients verify against


@dataclass(frozen=True)
class Recipient:
    name: str
    kind: str  # npr | helsedataservice | research | other: what the recipient is, for people
    host: str
    port: int
    user: str
    remote_dir: str  # an existing directory on the server; each delivery gets a subdirectory
    host_keys: tuple[str, ...]  # pinned, OpenSSH public-key lines ("ssh-ed25519 AAAA...")
    client_key: Path
    cert: Path
    subject: str  # RFC 4514 subject the certificate must carry
    timeout_seconds: float = 20.0


@dataclass(frozen=True)
class DeliveryConfig:
    path: Path
    sender: Sender
    trusted_cas: tuple[Path, ...]
    recipients: dict[str, Recipient]

    def recipient(self, name: str) -> Recipient:
        if name not in self.recipients:
            known = ", ".join(sorted(self.recipients)) or "none"
            raise ConfigError(f"{self.path}: no recipient {name!r}; configured: {known}")
        return self.recipients[name]


def _path(base: Path, value: object, where: str) -> Path:
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{where}: a file path is required")
    p = Path(value).expanduser()
    return p if p.is_absolute() else (base / p)


def _require(mapping: dict, key: str, where: str) -> object:
    if key not in mapping or mapping[key] in (None, ""):
        raise ConfigError(f"{where}: {key!r} is required")
    return mapping[key]


def load_config(path: Path) -> DeliveryConfig:
    """Parse and check the configuration; every named file must exist."""
    if not path.is_file():
        raise ConfigError(
            f"delivery configuration {path} not found (create dev defaults with "
            "`python infra/devkeys.py` and `python infra/sshd.py`)"
        )
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    base = path.parent
    s = _require(raw, "sender", str(path))
    if not isinstance(s, dict):
        raise ConfigError(f"{path}: sender must be a mapping")
    sender = Sender(
        key=_path(base, s.get("key"), f"{path}: sender.key"),
        cert=_path(base, s.get("cert"), f"{path}: sender.cert"),
        chain=tuple(_path(base, c, f"{path}: sender.chain") for c in s.get("chain", [])),
    )
    cas = tuple(_path(base, c, f"{path}: trusted_cas") for c in raw.get("trusted_cas", []))
    if not cas:
        raise ConfigError(f"{path}: trusted_cas must name at least one CA certificate")
    recipients: dict[str, Recipient] = {}
    for name, r in (raw.get("recipients") or {}).items():
        where = f"{path}: recipients.{name}"
        if not NAME_RE.match(str(name)):
            raise ConfigError(f"{where}: name must match {NAME_RE.pattern}")
        if not isinstance(r, dict):
            raise ConfigError(f"{where}: must be a mapping")
        keys = r.get("host_keys") or []
        if not keys or not all(isinstance(k, str) and len(k.split()) >= 2 for k in keys):
            raise ConfigError(f"{where}: host_keys must pin at least one 'type base64' key")
        recipients[name] = Recipient(
            name=name,
            kind=str(r.get("kind", "other")),
            host=str(_require(r, "host", where)),
            port=int(r.get("port", 22)),
            user=str(_require(r, "user", where)),
            remote_dir=str(_require(r, "remote_dir", where)),
            host_keys=tuple(keys),
            client_key=_path(base, r.get("client_key"), f"{where}.client_key"),
            cert=_path(base, r.get("cert"), f"{where}.cert"),
            subject=str(_require(r, "subject", where)),
            timeout_seconds=float(r.get("timeout_seconds", 20.0)),
        )
    config = DeliveryConfig(path, sender, cas, recipients)
    for p in [sender.key, sender.cert, *sender.chain, *cas]:
        if not p.is_file():
            raise ConfigError(f"{path}: {p} does not exist")
    for r in recipients.values():
        for p in (r.client_key, r.cert):
            if not p.is_file():
                raise ConfigError(f"{path}: recipients.{r.name}: {p} does not exist")
    return config


def dump_config(config: DeliveryConfig) -> str:
    """The YAML form of ``config`` (paths absolute), as the dev scripts write it."""
    data = {
        "sender": {
            "key": str(config.sender.key),
            "cert": str(config.sender.cert),
            "chain": [str(p) for p in config.sender.chain],
        },
        "trusted_cas": [str(p) for p in config.trusted_cas],
        "recipients": {
            r.name: {
                "kind": r.kind,
                "host": r.host,
                "port": r.port,
                "user": r.user,
                "remote_dir": r.remote_dir,
                "host_keys": list(r.host_keys),
                "client_key": str(r.client_key),
                "cert": str(r.cert),
                "subject": r.subject,
                "timeout_seconds": r.timeout_seconds,
            }
            for r in config.recipients.values()
        },
    }
    header = "# kvalreg delivery configuration (see infra/recipients.example.yaml)\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
