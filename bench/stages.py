"""Single benchmark stages, each run in its own process by ``bench/run.py``.

Each prints one JSON object: the seconds of the operation itself (imports and set-up
excluded), so that the runner can report both that and the wall time of the process.

    python bench/stages.py ingest FILE HOME        # kvalreg ingestion + validation of one dump
    python bench/stages.py ingest-floor FILE OUT   # DuckDB read_csv -> Parquet of the same file
    python bench/stages.py envelope FILE WORK      # kvalreg sign + encrypt (parts, manifest)
    python bench/stages.py envelope-floor FILE WORK  # openssl cms -encrypt of the same bytes
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import duckdb

from kvalreg.delivery.certs import load_certificate
from kvalreg.delivery.devpki import DevPki, create_dev_pki
from kvalreg.delivery.envelope import Signer
from kvalreg.delivery.package import Item, stage
from kvalreg.drop import route
from kvalreg.ingest.dump import ingest_dump
from kvalreg.landing import dump_id, sha256_of
from kvalreg.paths import Layout
from kvalreg.reference import known_resh
from kvalreg.registry import load_registries
from kvalreg.warehouse import connect


def ingest(file: Path, home: Path) -> dict[str, object]:
    registries = load_registries()
    registry = route(file.name, registries)
    if registry is None:
        raise SystemExit(f"{file.name}: no registry's file-name pattern matches")
    form = registry.match_file(file.name)
    assert form is not None
    layout = Layout(home.resolve()).ensure([registry.name])
    landed = layout.landing_for(registry.name) / file.name
    shutil.copyfile(file, landed)
    started = time.perf_counter()
    sha = sha256_of(landed)
    outcome = ingest_dump(
        landed,
        registry,
        form,
        layout=layout,
        dump_id=dump_id(file.name, sha),
        sha256=sha,
        known_units=frozenset(known_resh()),
        connect=partial(connect, layout),
    )
    return {
        "seconds": time.perf_counter() - started,
        "status": outcome.status,
        "rows": outcome.rows,
    }


def ingest_floor(file: Path, out: Path) -> dict[str, object]:
    started = time.perf_counter()
    with duckdb.connect() as con:
        con.execute(
            "COPY (SELECT * FROM read_csv(?, delim = ';', header = true)) TO "
            f"'{out}' (FORMAT parquet)",
            [str(file)],
        )
    return {"seconds": time.perf_counter() - started}


def _bench_pki(work: Path) -> DevPki:
    return create_dev_pki(work / "pki", ("npr",))


def envelope(file: Path, work: Path) -> dict[str, object]:
    """Seal ``file`` for a recipient as a delivery stages it: parts, signed, encrypted."""
    pki = _bench_pki(work)
    signer = Signer.load(pki.sender.key_path, pki.sender.cert_path)
    cert = load_certificate(pki.recipients["npr"].cert_path)
    outbox = work / "outbox"
    shutil.rmtree(outbox, ignore_errors=True)
    started = time.perf_counter()
    stage(outbox, "bench", "npr", cert, signer, [Item(file.name, file)])
    return {"seconds": time.perf_counter() - started, "bytes": file.stat().st_size}


def envelope_floor(file: Path, work: Path) -> dict[str, object]:
    """``openssl cms -encrypt`` of the same bytes to the same certificate (no signature)."""
    pki = _bench_pki(work)
    started = time.perf_counter()
    subprocess.run(
        [
            "openssl",
            "cms",
            "-encrypt",
            "-binary",
            "-aes256",
            "-outform",
            "DER",
            "-in",
            str(file),
            "-out",
            str(work / "floor.p7m"),
            str(pki.recipients["npr"].cert_path),
        ],
        check=True,
    )
    return {"seconds": time.perf_counter() - started}


def main(argv: list[str]) -> None:
    name, *args = argv
    stages = {
        "ingest": ingest,
        "ingest-floor": ingest_floor,
        "envelope": envelope,
        "envelope-floor": envelope_floor,
    }
    print(json.dumps(stages[name](*(Path(a) for a in args))))


if __name__ == "__main__":
    main(sys.argv[1:])
