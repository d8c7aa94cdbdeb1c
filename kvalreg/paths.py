"""Where everything kvalreg writes lives: one operator-visible tree under ``KVALREG_HOME``.

Keeping every output under one root makes backups, clean-up and permissions a single
decision for the operator, and keeps the repository free of data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("var")


def default_secrets_dir() -> Path:
    """Keys and secrets live outside the repository: ``$KVALREG_SECRETS``, else
    ``$XDG_DATA_HOME/kvalreg/secrets`` (``~/.local/share/kvalreg/secrets``)."""
    if env := os.environ.get("KVALREG_SECRETS"):
        return Path(env).resolve()
    data = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(data) / "kvalreg" / "secrets"


@dataclass(frozen=True)
class Layout:
    """The directory layout under ``KVALREG_HOME`` (documented in the README)."""

    home: Path

    @classmethod
    def from_env(cls) -> Layout:
        return cls(Path(os.environ.get("KVALREG_HOME", DEFAULT_HOME)).resolve())

    @property
    def landing(self) -> Path:
        """Operators drop dumps into ``landing/<registry>/``."""
        return self.home / "landing"

    @property
    def archive(self) -> Path:
        """Accepted originals, byte-identical, content-addressed by SHA-256."""
        return self.home / "archive"

    @property
    def quarantine(self) -> Path:
        """Rejected originals, byte-identical, beside ``<file>.report.json`` and ``.report.txt``."""
        return self.home / "quarantine"

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

    @property
    def warehouse_lock(self) -> Path:
        """Lock file serialising every writer of the warehouse across processes."""
        return self.home / "warehouse.lock"

    @property
    def exports(self) -> Path:
        """What leaves the platform after a marts build (imongr upload, Parquet marts)."""
        return self.home / "exports"

    @property
    def releases(self) -> Path:
        """Research data releases: ``requests/`` in, ``packages/``, ``linkage/`` and ``log/``."""
        return self.home / "releases"

    @property
    def release_requests(self) -> Path:
        """Drop one YAML release request per approved project (and version) here."""
        return self.releases / "requests"

    @property
    def release_packages(self) -> Path:
        """``<request id>@v<version>/``: the researcher's package folder, zip and build record."""
        return self.releases / "packages"

    @property
    def release_linkage(self) -> Path:
        """Key files (pseudonym <-> fnr) for the trusted third party only; 0700/0600."""
        return self.releases / "linkage"

    @property
    def release_log(self) -> Path:
        """The append-only, hash-chained release log (utleveringslogg)."""
        return self.releases / "log" / "utleveringslogg.jsonl"

    @property
    def metadata(self) -> Path:
        """Generated documentation: variable catalogue, lineage, DCAT-AP-NO, HTML, dbt docs."""
        return self.home / "metadata"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def state(self) -> Path:
        """Small bookkeeping files (e.g. the hash cache of files seen in landing)."""
        return self.home / "state"

    @property
    def deliveries(self) -> Path:
        """The delivery ledger: ``ledger.jsonl`` (append-only events) and ``records/<id>.json``."""
        return self.home / "deliveries"

    @property
    def outbox(self) -> Path:
        """Sealed envelopes of deliveries not yet completed, ``outbox/<delivery id>/``."""
        return self.home / "outbox"

    @property
    def delivery_config(self) -> Path:
        """Recipients and the sender's keys: ``$KVALREG_RECIPIENTS``, else
        ``config/recipients.yaml`` (paths only, no key material)."""
        if env := os.environ.get("KVALREG_RECIPIENTS"):
            return Path(env).resolve()
        return self.home / "config" / "recipients.yaml"

    @property
    def secrets(self) -> Path:
        """Private keys and master secrets (0700 directory, 0600 files), never under the repo."""
        return default_secrets_dir()

    def landing_for(self, registry: str) -> Path:
        return self.landing / registry

    def ensure(self, registries: list[str] | tuple[str, ...] = ()) -> Layout:
        """Create the tree (idempotent); landing folders for the given registries."""
        for d in (self.landing, self.archive, self.quarantine, self.dagster_home, self.state):
            d.mkdir(parents=True, exist_ok=True)
        for name in registries:
            self.landing_for(name).mkdir(parents=True, exist_ok=True)
        return self
