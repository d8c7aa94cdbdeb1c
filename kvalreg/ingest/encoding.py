"""Which of a registry's allowed encodings a dump is in, and transcoding to UTF-8 for DuckDB.

DuckDB reads UTF-8 natively and nothing like cp1252, so a non-UTF-8 dump is transcoded to a
temporary UTF-8 file first. Everything here streams in fixed-size chunks: dumps can be far
larger than the memory we are willing to spend on them. Transcoding keeps line ends byte for
byte, so physical line numbers in the temporary file equal those of the original.
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

CHUNK_BYTES = 1 << 20


@dataclass(frozen=True)
class DecodeFailure:
    """Where ``encoding`` first failed: byte offset, physical line and byte column (1-based)."""

    encoding: str
    offset: int
    line: int
    column: int


@dataclass(frozen=True)
class Detection:
    encoding: str | None  # the first allowed encoding that decodes every byte, else None
    tried: tuple[str, ...]
    failures: tuple[DecodeFailure, ...]  # one per encoding that failed, in the order tried


def is_utf8(encoding: str) -> bool:
    """UTF-8 with or without BOM: DuckDB can read such a file as it is."""
    return codecs.lookup(encoding).name in ("utf-8", "utf-8-sig")


def iter_chunks(path: Path, size: int = CHUNK_BYTES) -> Iterator[bytes]:
    with path.open("rb") as fh:
        while chunk := fh.read(size):
            yield chunk


def first_decode_error(chunks: Iterable[bytes], encoding: str) -> int | None:
    """Byte offset of the first undecodable byte, or None if the whole stream decodes."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    consumed = 0  # bytes fed to the decoder before the current chunk
    for chunk in chunks:
        pending = len(decoder.getstate()[0])  # bytes held back from earlier chunks
        try:
            decoder.decode(chunk)
        except UnicodeDecodeError as exc:
            # exc.start indexes the held-back bytes followed by this chunk.
            return consumed - pending + exc.start
        consumed += len(chunk)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        return consumed - len(exc.object) + exc.start
    return None


def locate(path: Path, offset: int) -> tuple[int, int]:
    """Physical line (1-based) and byte column (1-based) of ``offset``, by counting newlines."""
    line, line_start, seen = 1, 0, 0
    for chunk in iter_chunks(path):
        part = chunk[: max(0, offset - seen)]
        n = part.count(b"\n")
        if n:
            line += n
            line_start = seen + part.rindex(b"\n") + 1
        seen += len(chunk)
        if seen >= offset:
            break
    return line, offset - line_start + 1


def detect(path: Path, encodings: Iterable[str]) -> Detection:
    """Try ``encodings`` in order (the registry's hints); the first that decodes everything wins.

    Order matters: every byte string decodes as latin-1, and most as cp1252, so hints list the
    strict UTF-8 first. Failures keep their positions so that a report can point at the byte.
    """
    tried: list[str] = []
    failures: list[DecodeFailure] = []
    for encoding in encodings:
        codecs.lookup(encoding)  # an unknown name in the hints is a configuration error
        tried.append(encoding)
        offset = first_decode_error(iter_chunks(path), encoding)
        if offset is None:
            return Detection(encoding, tuple(tried), tuple(failures))
        line, column = locate(path, offset)
        failures.append(DecodeFailure(encoding, offset, line, column))
    return Detection(None, tuple(tried), tuple(failures))


def transcode_to_utf8(src: Path, dst: Path, encoding: str) -> None:
    """Write ``src`` decoded from ``encoding`` as UTF-8 (no BOM) to ``dst``, chunk by chunk."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with dst.open("wb") as out:
        for chunk in iter_chunks(src):
            out.write(decoder.decode(chunk).encode("utf-8"))
        out.write(decoder.decode(b"", final=True).encode("utf-8"))
