"""bench/measure.py: the CPU time and storage reads it reports are the command tree's own."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))

from measure import run

BURN = "import time\nend = time.process_time() + 0.5\nwhile time.process_time() < end: pass"


def test_cpu_seconds_include_the_commands_children() -> None:
    # The measured command only waits; the CPU is spent by the process it starts.
    m = run(["/bin/sh", "-c", f'"{sys.executable}" -c "$0"', BURN])
    assert m.cpu_seconds >= 0.45
    assert m.peak_rss_mb > 0


def test_disk_reads_count_only_what_the_page_cache_did_not_serve(tmp_path: Path) -> None:
    data = tmp_path / "data.bin"
    with data.open("wb") as fh:
        fh.write(os.urandom(32 * 2**20))
        fh.flush()
        os.fsync(fh.fileno())
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)  # out of the page cache
    read = ["dd", f"if={data}", "of=/dev/null", "bs=1M"]
    cold = run(read)
    warm = run(read)
    assert cold.disk_read_mb >= 24
    assert warm.disk_read_mb < 4
