"""The release log (utleveringslogg): append-only, tamper-evident, answerable per person.

One JSON object per line. Each entry carries ``seq`` (1, 2, ...), ``prev`` (the previous
entry's ``mac``) and its own ``mac`` = HMAC-SHA256 over the canonical JSON of everything
else, under a key derived from the release master secret. Editing an entry breaks its mac;
removing one breaks ``seq``/``prev`` of the next; and because only the secret's holder can
compute macs, a rewritten chain cannot be forged. A head file (``<log>.head``: last ``seq``
and ``mac``, replaced atomically on each append) detects removal of the last entries.

Entry kinds: ``release`` (request, approvals, who triggered it, files, variables, counts),
``person`` (one per person in a release: ``release`` and ``person``, a registry-internal keyed
hash of the fnr — never the fnr), and ``delivery`` (written by whoever delivers a package).
"""

from __future__ import annotations

import fcntl
import hashlib
import hmac
import itertools
import json
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from kvalreg.release.pseudonym import derive_key, master_secret, pseudonyms

LOG_NAME = "utleveringslogg.jsonl"


@dataclass(frozen=True)
class Verification:
    ok: bool
    entries: int
    problems: tuple[str, ...]

    def describe(self, path: Path) -> str:
        if self.ok:
            return f"{path}: OK, {self.entries} entries, hash chain and head intact"
        return "\n".join(
            [f"{path}: TAMPERED ({len(self.problems)} problem(s))"]
            + [f"  {p}" for p in self.problems]
        )


# One encoder for every entry: json.dumps with options builds a new encoder per call, which
# dominates when a release logs one entry per person.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


_BATCH = 10_000  # entries per write


def _canonical(entry: dict[str, Any]) -> bytes:
    return _CANONICAL.encode(entry).encode()


def _write_all(fd: int, data: bytes) -> None:
    """os.write may write less than asked (large buffers, signals): loop until all is out."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def person_hashes(secrets_dir: Path, registry: str, fnrs: pl.Series) -> pl.Series:
    """The registry-internal keyed hash of each fnr (a keyed permutation under a per-registry
    key from the master secret): what the log stores instead of the fnr."""
    key = derive_key(master_secret(secrets_dir), "release-log-person", registry)
    return pseudonyms(fnrs.cast(pl.String).str.strip_chars(), key)


@dataclass(frozen=True)
class PersonEntries:
    """One ``person`` entry per hash, all of one release: what a release build logs.

    Written from a fixed template rather than through the JSON encoder: 300k entries 1.86 ->
    0.86 s, and the log of a 10M-episode release (3M persons) 21 -> 10.7 s. The template
    gives the canonical encoding byte for byte (tests/release/test_log.py).
    """

    release: str
    hashes: Iterable[str]


class _Mac:
    """HMAC-SHA256 under one key, keyed once: each mac copies the keyed state rather than
    keying anew, as ``hmac.digest`` does per call: 1.92 -> 1.25 us a mac, and the lines of a
    release of 3M persons 7.9 -> 6.3 s. The same macs (tests/release/test_log.py)."""

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def hex(self, data: bytes) -> str:
        mac = self._keyed.copy()
        mac.update(data)
        return mac.hexdigest()


class _Chain:
    """The running ``seq`` and ``prev`` of an append; closes each entry's line with its mac."""

    def __init__(self, key: bytes, seq: int, prev: str) -> None:
        self.mac, self.seq, self.prev = _Mac(key).hex, seq, prev

    def line(self, text: str) -> str:
        """``text`` (an entry's canonical JSON without ``mac``) as a log line; the mac closes
        the line (verify parses it out; one encode, not two)."""
        self.prev = self.mac(text.encode())
        return f'{text[:-1]},"mac":"{self.prev}"}}\n'


def _lines(
    bodies: Iterable[dict[str, Any] | PersonEntries], chain: _Chain, at: str
) -> Iterator[str]:
    for body in bodies:
        if isinstance(body, PersonEntries):
            # Canonical order of the keys: at, kind, person, prev, release, seq.
            head = f'{{"at":{_CANONICAL.encode(at)},"kind":"person","person":'
            tail = f'","release":{_CANONICAL.encode(body.release)},"seq":'
            encode = _CANONICAL.encode
            for person in body.hashes:
                chain.seq += 1
                yield chain.line(f'{head}{encode(person)},"prev":"{chain.prev}{tail}{chain.seq}}}')
        else:
            chain.seq += 1
            yield chain.line(
                _CANONICAL.encode({**body, "seq": chain.seq, "prev": chain.prev, "at": at})
            )


class ReleaseLog:
    """``KVALREG_HOME/releases/log/utleveringslogg.jsonl`` and its head file."""

    def __init__(self, path: Path, secrets_dir: Path) -> None:
        self.path = path
        self.head = path.with_name(path.name + ".head")
        self.lock = path.with_name(path.name + ".lock")
        self.secrets_dir = secrets_dir

    def _key(self) -> bytes:
        return derive_key(master_secret(self.secrets_dir), "release-log", "chain")

    def entries(self, kind: str | None = None) -> Iterator[dict[str, Any]]:
        """The entries in log order; with ``kind``, only those of that kind. The log holds a
        ``person`` entry for every person a release carried (millions), so a line of another
        kind is told by its canonical text and never parsed."""
        if not self.path.exists():
            return
        marker = f'"kind":{_CANONICAL.encode(kind)},' if kind is not None else ""
        with self.path.open(encoding="utf-8") as fh:
            for line in fh:
                if line.strip() and marker in line:
                    entry = json.loads(line)
                    if kind is None or entry.get("kind") == kind:
                        yield entry

    def _read_head(self) -> tuple[int, str]:
        if not self.head.exists():
            return 0, ""
        data = json.loads(self.head.read_text(encoding="utf-8"))
        return int(data["seq"]), str(data["mac"])

    def append(self, bodies: Iterable[dict[str, Any] | PersonEntries]) -> int:
        """Append entries (each a dict with ``kind``, or a ``PersonEntries``) under an exclusive
        lock; returns the last ``seq``. Entries are written in batches as ``bodies`` yields
        them (a release of millions of persons is never held as text); if producing or writing
        one fails, the log is cut back to where it was. They are fsynced before the head
        moves, so a crash leaves at worst entries beyond the head, which ``verify`` reports."""
        key = self._key()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.lock.open("a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            chain = _Chain(key, *self._read_head())
            at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            start = os.lseek(fd, 0, os.SEEK_END)
            try:
                todo = _lines(bodies, chain, at)
                while batch := list(itertools.islice(todo, _BATCH)):
                    _write_all(fd, "".join(batch).encode("utf-8"))
                os.fsync(fd)
            except BaseException:
                os.ftruncate(fd, start)  # an append fails whole: no entries beyond the head
                raise
            finally:
                os.close(fd)
            tmp = self.head.with_name(self.head.name + ".tmp")
            tmp.write_text(
                json.dumps({"seq": chain.seq, "mac": chain.prev}) + "\n", encoding="utf-8"
            )
            with tmp.open("rb") as fh:
                os.fsync(fh.fileno())
            tmp.replace(self.head)
            return chain.seq

    def verify(self) -> Verification:
        """Recompute the chain; every edited, removed, reordered or added entry is reported."""
        mac_of = _Mac(self._key()).hex
        problems: list[str] = []
        prev, expected, count = "", 1, 0
        if self.path.exists():
            with self.path.open(encoding="utf-8") as fh:
                for lineno, line in enumerate(fh, start=1):
                    if not line.strip():
                        continue
                    count += 1
                    try:
                        entry = json.loads(line)
                        mac = entry.pop("mac")
                    except (json.JSONDecodeError, KeyError, AttributeError):
                        problems.append(f"line {lineno}: not a log entry")
                        continue
                    seq = entry.get("seq")
                    if seq != expected:
                        problems.append(
                            f"line {lineno}: entry seq {seq} where {expected} was expected "
                            "(an entry was removed or reordered)"
                        )
                    if entry.get("prev") != prev:
                        problems.append(f"line {lineno}: does not chain to the entry before it")
                    good = mac_of(_canonical(entry))
                    if not hmac.compare_digest(good, str(mac)):
                        problems.append(f"line {lineno}: entry seq {seq} was edited (mac differs)")
                    prev = str(mac)
                    expected = (seq if isinstance(seq, int) else expected) + 1
        head_seq, head_mac = self._read_head()
        if (head_seq, head_mac) != (expected - 1 if count else 0, prev):
            problems.append(
                f"head says the last entry is seq {head_seq}, the log ends at seq {expected - 1} "
                "(entries were removed from or added to the end)"
            )
        return Verification(not problems, count, tuple(problems))
