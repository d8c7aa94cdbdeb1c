"""Scanning ``landing/``: classify every entry as ready, settling, ignored or rejected.

Operators (and ``kvalreg drop``) put dumps into ``landing/<registry>/``. Anything can show up
there: half-copied files, editor temp files, symlinks, folders, names in a legacy encoding,
the same export dropped twice. This module decides, without touching the files, what each
entry is, so the sensor only has to translate the answer into run requests:

* **ready**: a regular file whose name fits one of the registry's forms, quiet for
  ``settle_seconds`` and unchanged since the previous scan, with bytes never seen before;
* **settling**: probably still being written; looked at again on the next scan;
* **ignored**: hidden or temporary names (``.x``, ``x.part``, ``x.tmp``), the convention
  for "not finished yet" that ``kvalreg drop`` and most copy tools follow;
* **rejected** with a check id from the check registry, to be moved into quarantine.

Names are scanned as bytes so that a file name that is not valid UTF-8 is seen and rejected
instead of crashing the scan or being silently mangled. Symlinks are never followed: a link
could point anywhere on the host, and the platform promises to archive originals.

Hashing a large dump costs seconds, so hashes are cached by ``(path, size, mtime_ns)``. The
cache is a small JSON document (it is the landing sensor's cursor) and only ever holds files
that are currently in landing, so it stays bounded.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from kvalreg.paths import Layout
from kvalreg.registry import Registry

CACHE_VERSION = 1
HASH_CHUNK = 1 << 20

LANDING_UNKNOWN_REGISTRY = "landing_unknown_registry"
LANDING_NAME_PATTERN = "landing_name_pattern"
LANDING_UNSAFE_NAME = "landing_unsafe_name"
LANDING_SYMLINK = "landing_symlink"
LANDING_NOT_A_FILE = "landing_not_a_file"
LANDING_DUPLICATE = "landing_duplicate"

# Bidirectional-text controls can make a name display differently from what it is.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class CacheEntry:
    size: int
    mtime_ns: int
    sha256: str | None  # None while the file is still settling


@dataclass
class HashCache:
    """Last observation of each regular file in landing, keyed by its path below landing/."""

    entries: dict[str, CacheEntry] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": CACHE_VERSION,
                "files": {
                    k: [e.size, e.mtime_ns, e.sha256] for k, e in sorted(self.entries.items())
                },
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> HashCache:
        """An unreadable or old-format cursor just means "hash everything again"."""
        if not text:
            return cls()
        try:
            doc = json.loads(text)
            if doc.get("v") != CACHE_VERSION:
                return cls()
            return cls(
                {
                    str(k): CacheEntry(int(size), int(mtime), None if sha is None else str(sha))
                    for k, (size, mtime, sha) in doc["files"].items()
                }
            )
        except (ValueError, TypeError, KeyError, AttributeError):
            return cls()


@dataclass(frozen=True)
class ReadyDump:
    registry: str
    form: str
    path: Path
    sha256: str
    size: int
    mtime_ns: int

    @property
    def dump_id(self) -> str:
        """The partition key: readable in the UI, unique per content."""
        return dump_id(self.path.name, self.sha256)


@dataclass(frozen=True)
class Settling:
    path: Path
    reason: str


@dataclass(frozen=True)
class Rejected:
    path: Path  # may hold surrogate escapes for a non-UTF-8 name (os.fsdecode)
    registry: str | None
    check_id: str
    reason: str  # names the entry and the rule, never file contents
    size: int
    mtime_ns: int

    @property
    def display_name(self) -> str:
        return display_name(self.path)


@dataclass(frozen=True)
class ScanResult:
    ready: tuple[ReadyDump, ...]
    settling: tuple[Settling, ...]
    rejected: tuple[Rejected, ...]
    ignored: tuple[Path, ...]
    cache: HashCache


def dump_id(file_name: str, sha256: str) -> str:
    return f"{Path(file_name).stem}@{sha256[:12]}"


def display_name(path: Path | str) -> str:
    """A printable form of a possibly non-UTF-8 name (invalid bytes as ``\\xNN``)."""
    return os.fsencode(Path(path).name).decode("utf-8", "backslashreplace")


def safe_label(path: Path | str) -> str:
    """A file label that is one harmless path component, for quarantine names and reports.

    Rejected names can hold anything (invalid UTF-8, backslashes, ``..``, control characters);
    the label keeps what is readable and replaces the rest with ``_``.
    """
    label = re.sub(r"[^\w.@+-]", "_", display_name(path)).replace("..", "__").lstrip(".-")
    return label or "unnamed"


def sha256_of(path: Path) -> str:
    """Streamed, so a multi-gigabyte dump never has to fit in memory."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(HASH_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def archived_copy(layout: Layout, registry: str, sha256: str) -> Path | None:
    """The archived original with these bytes, if any.

    The archive is ``archive/<registry>/<form>/<dump id>/<file>`` beside ``<file>.sha256``
    (``sha256sum`` format); the dump id ends in the first 12 hex digits, so only candidates
    with that suffix are opened, and the full digest in the sidecar decides.
    """
    base = layout.archive / registry
    if not base.is_dir():
        return None
    for sidecar in sorted(base.glob(f"*/*@{sha256[:12]}/*.sha256")):
        try:
            recorded = sidecar.read_text(encoding="utf-8").split(maxsplit=1)[0].lower()
        except (OSError, IndexError, UnicodeDecodeError):
            continue
        original = sidecar.with_suffix("")
        if recorded == sha256 and original.is_file():
            return original
    return None


def is_ignored(name: bytes) -> bool:
    return name.startswith(b".") or name.endswith((b".part", b".tmp"))


def unsafe_reason(name: bytes) -> str | None:
    """Why a name is unsafe to carry through paths, logs and reports, or None if it is fine."""
    try:
        text = name.decode("utf-8")
    except UnicodeDecodeError:
        return "the file name is not valid UTF-8"
    if ".." in text:
        return "the file name contains '..'"
    if "\\" in text:
        return "the file name contains a backslash"
    if text.startswith("-"):
        return "the file name starts with '-'"
    if any(unicodedata.category(c) == "Cc" or c in _BIDI_CONTROLS for c in text):
        return "the file name contains control characters"
    return None


def scan(
    layout: Layout,
    registries: Mapping[str, Registry],
    cache: HashCache,
    now: float,
    settle_seconds: float,
    *,
    already_processed: Callable[[str, str], bool] | None = None,
) -> ScanResult:
    """Classify every entry under ``landing/`` (see the module docstring).

    ``now`` is seconds since the epoch; a file modified after ``now - settle_seconds`` is
    settling. ``already_processed(registry, sha256)`` lets the caller add knowledge the
    filesystem does not have (e.g. a finished run that quarantined these bytes); archived
    bytes are always recognised.
    """
    scanner = _Scanner(layout, registries, cache, now, settle_seconds, already_processed)
    landing = os.fsencode(layout.landing)
    if os.path.isdir(landing):
        with os.scandir(landing) as it:
            top = sorted(it, key=lambda e: e.name)
        for entry in top:
            scanner.top_level(entry)
    return ScanResult(
        ready=tuple(scanner.ready),
        settling=tuple(scanner.settling),
        rejected=tuple(scanner.rejected),
        ignored=tuple(scanner.ignored),
        cache=HashCache(scanner.new_cache),
    )


class _Scanner:
    """One scan's working state; kept private so ``scan`` stays a plain function."""

    def __init__(
        self,
        layout: Layout,
        registries: Mapping[str, Registry],
        cache: HashCache,
        now: float,
        settle_seconds: float,
        already_processed: Callable[[str, str], bool] | None,
    ) -> None:
        self.layout = layout
        self.registries = registries
        self.old_cache = cache.entries
        self.new_cache: dict[str, CacheEntry] = {}
        self.settle_before_ns = int((now - settle_seconds) * 1_000_000_000)
        self.already_processed = already_processed
        self.ready: list[ReadyDump] = []
        self.settling: list[Settling] = []
        self.rejected: list[Rejected] = []
        self.ignored: list[Path] = []
        self.seen_sha: dict[tuple[str, str], Path] = {}

    def _reject(
        self, entry: os.DirEntry[bytes], registry: str | None, check_id: str, reason: str
    ) -> None:
        st = entry.stat(follow_symlinks=False)
        self.rejected.append(
            Rejected(
                path=Path(os.fsdecode(entry.path)),
                registry=registry,
                check_id=check_id,
                reason=reason,
                size=st.st_size,
                mtime_ns=st.st_mtime_ns,
            )
        )

    def _screen(self, entry: os.DirEntry[bytes], registry: str | None) -> bool:
        """Checks shared by both levels; True when the entry needs no further look."""
        if is_ignored(entry.name):
            self.ignored.append(Path(os.fsdecode(entry.path)))
            return True
        reason = unsafe_reason(entry.name)
        if reason is not None:
            self._reject(entry, registry, LANDING_UNSAFE_NAME, reason)
            return True
        if entry.is_symlink():
            self._reject(entry, registry, LANDING_SYMLINK, "symbolic links are never followed")
            return True
        return False

    def top_level(self, entry: os.DirEntry[bytes]) -> None:
        if self._screen(entry, None):
            return
        name = entry.name.decode("utf-8")
        if entry.is_dir(follow_symlinks=False) and name in self.registries:
            with os.scandir(entry.path) as it:
                children = sorted(it, key=lambda e: e.name)
            for child in children:
                self.in_registry(child, self.registries[name])
            return
        if entry.is_dir(follow_symlinks=False):
            reason = f"'{name}' is not a known registry folder"
        else:
            reason = "files must be put in landing/<registry>/, not directly in landing/"
        self._reject(entry, None, LANDING_UNKNOWN_REGISTRY, reason)

    def in_registry(self, entry: os.DirEntry[bytes], registry: Registry) -> None:
        if self._screen(entry, registry.name):
            return
        st = entry.stat(follow_symlinks=False)
        if not stat.S_ISREG(st.st_mode):
            kind = "a directory" if stat.S_ISDIR(st.st_mode) else "not a regular file"
            self._reject(entry, registry.name, LANDING_NOT_A_FILE, f"the entry is {kind}")
            return
        name = entry.name.decode("utf-8")
        form = registry.match_file(name)
        if form is None:
            self._reject(
                entry,
                registry.name,
                LANDING_NAME_PATTERN,
                f"the name fits none of the forms of registry '{registry.name}'",
            )
            return
        path = Path(os.fsdecode(entry.path))
        key = f"{registry.name}/{name}"
        previous = self.old_cache.get(key)
        if st.st_mtime_ns > self.settle_before_ns:
            self._settle(key, path, st, "modified within the settle window")
            return
        if previous is not None and (previous.size, previous.mtime_ns) != (
            st.st_size,
            st.st_mtime_ns,
        ):
            self._settle(key, path, st, "size or modification time changed since the last scan")
            return
        if previous is not None and previous.sha256 is not None:
            digest = previous.sha256
        else:
            digest = sha256_of(path)
            after = path.stat()
            if (after.st_size, after.st_mtime_ns) != (st.st_size, st.st_mtime_ns):
                self._settle(key, path, after, "changed while being hashed")
                return
        self.new_cache[key] = CacheEntry(st.st_size, st.st_mtime_ns, digest)
        earlier = self.seen_sha.get((registry.name, digest))
        if earlier is not None:
            reason = f"same bytes as '{display_name(earlier)}' in the same landing scan"
            self._reject(entry, registry.name, LANDING_DUPLICATE, reason)
            return
        self.seen_sha[(registry.name, digest)] = path
        if archived_copy(self.layout, registry.name, digest) is not None:
            reason = "these bytes were already ingested (an archived dump has the same SHA-256)"
            self._reject(entry, registry.name, LANDING_DUPLICATE, reason)
            return
        if self.already_processed is not None and self.already_processed(registry.name, digest):
            reason = "these bytes were already processed (a finished run has the same SHA-256)"
            self._reject(entry, registry.name, LANDING_DUPLICATE, reason)
            return
        self.ready.append(
            ReadyDump(registry.name, form.name, path, digest, st.st_size, st.st_mtime_ns)
        )

    def _settle(self, key: str, path: Path, st: os.stat_result, reason: str) -> None:
        self.new_cache[key] = CacheEntry(st.st_size, st.st_mtime_ns, None)
        self.settling.append(Settling(path, reason))


DEFAULT_SETTLE_SECONDS = 5.0


def settle_seconds_from_env() -> float:
    """``KVALREG_SETTLE_SECONDS``: how long a file must be quiet before it is picked up."""
    raw = os.environ.get("KVALREG_SETTLE_SECONDS", "")
    return float(raw) if raw.strip() else DEFAULT_SETTLE_SECONDS
