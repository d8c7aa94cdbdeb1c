"""Single benchmark stages, each run in its own process by ``bench/run.py``.

Each prints one JSON object: the seconds of the operation itself (imports and set-up
excluded), so that the runner can report both that and the wall time of the process.

    python bench/stages.py ingest FILE HOME        # kvalreg ingestion + validation of one dump
    python bench/stages.py ingest-floor FILE OUT   # DuckDB read_csv -> Parquet of the same file
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from functools import partial
from pathlib import Path

import duckdb

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


def main(argv: list[str]) -> None:
    stage, *args = argv
    stages = {"ingest": ingest, "ingest-floor": ingest_floor}
    print(json.dumps(stages[stage](*(Path(a) for a in args))))


if __name__ == "__main__":
    main(sys.argv[1:])
