"""The package archive: readable by any zip reader, deterministic, and deflated by ISA-L."""

from __future__ import annotations

import random
import zipfile
import zlib
from pathlib import Path

import polars as pl
import pytest

from kvalreg.release.package import deflater, sorted_rows, write_zip


def _folder(tmp_path: Path) -> Path:
    """A package-like folder: a CSV of several MiB (several write chunks) and a Parquet-named
    binary member that must be stored, not deflated."""
    folder = tmp_path / "demo@v1"
    (folder / "data").mkdir(parents=True)
    rng = random.Random(7)
    lines = ["person,episode,alder,asa"] + [
        f"P{rng.randrange(10**9):09d},E{i:08d},{rng.randrange(60, 100)},{rng.choice('1234')}"
        for i in range(150_000)
    ]
    (folder / "data" / "operasjon.csv").write_text("\n".join(lines) + "\n")
    (folder / "data" / "operasjon.parquet").write_bytes(rng.randbytes(300_000))
    (folder / "README.md").write_text("# demo\n")
    return folder


def _isal_size(data: bytes) -> int:
    """Compressed size of ``data`` fed to ISA-L in the 1 MiB chunks write_zip copies in."""
    c = deflater()
    chunks = (data[i : i + (1 << 20)] for i in range(0, len(data), 1 << 20))
    return sum(len(c.compress(chunk)) for chunk in chunks) + len(c.flush())


def test_zip_reads_back_every_file_and_deflates_text_with_isal(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    archive = tmp_path / "demo.zip"
    write_zip(folder, archive)
    csv = (folder / "data" / "operasjon.csv").read_bytes()
    assert len(csv) > 3 << 20
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None  # every member's CRC checks
        for rel in ("data/operasjon.csv", "data/operasjon.parquet", "README.md"):
            assert zf.read(f"demo@v1/{rel}") == (folder / rel).read_bytes()
        text = zf.getinfo("demo@v1/data/operasjon.csv")
        binary = zf.getinfo("demo@v1/data/operasjon.parquet")
    assert binary.compress_type == zipfile.ZIP_STORED
    assert text.compress_type == zipfile.ZIP_DEFLATED
    # ISA-L's stream, not zlib's: fails if zipfile stops using the replaced compressor.
    assert text.compress_size == _isal_size(csv)
    assert text.compress_size != len(zlib.compress(csv, 1, wbits=-15))
    assert (text.external_attr >> 16) == 0o644 and text.date_time == (1980, 1, 1, 0, 0, 0)


def test_zip_is_byte_identical_when_written_again(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    write_zip(folder, tmp_path / "a.zip")
    write_zip(folder, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


@pytest.mark.parametrize("width", [None, 7, 32], ids=["widths-vary", "7-bytes", "32-bytes"])
@pytest.mark.parametrize("ties", [False, True])
def test_rows_sort_as_on_every_column(ties: bool, width: int | None) -> None:
    """The same order as a sort on every column, whether or not the leading two tie, and
    whether their values have one width (sorted as words; multibyte letters included) or
    not."""
    rng = random.Random(3)
    n = 5_000

    def ident(prefix: str, k: int) -> str:
        if width is None:
            return f"{prefix}{k}"
        # 'ø' is two bytes, as 'zz' is: one width, multibyte letters sorting after ASCII.
        text = f"{prefix}{k:06d}" if width < 9 else f"{prefix}{'ø' if k % 3 else 'zz'}{k:06d}"
        return text + "a" * (width - len(text.encode()))

    persons = [ident("p", rng.randrange(n // 3)) for _ in range(n)]
    episodes = [ident("e", rng.randrange(50) if ties else i) for i in range(n)]
    if width is not None:
        assert {len(x.encode()) for x in persons + episodes} == {width}
    frame = pl.DataFrame(
        {
            "person": persons,
            "episode": episodes,
            "value": [rng.choice([None, 1, 2, 3]) for _ in range(n)],
            "text": [rng.choice([None, "a", "b"]) for _ in range(n)],
        }
    )
    assert frame.select("person", "episode").is_duplicated().any() is ties
    assert sorted_rows(frame).equals(frame.sort(frame.columns, nulls_last=True))
