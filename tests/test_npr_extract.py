"""The NPR coverage extract equals an independent reading of the generated dump: completed
forms of one year, deduplicated, identity (Fnr;PID) apart from content, nothing else."""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from kvalreg import warehouse
from kvalreg.npr_extract import ACTIVITY_COLUMNS, LINK_COLUMNS, ExtractSpec, build_npr_extract
from kvalreg.paths import Layout
from kvalreg.registry import Registry


def _expected(reg: Registry, dump: Path, year: int) -> set[tuple[str, str, str, str]]:
    spec = ExtractSpec.of(reg)
    k = reg.keys
    text = (
        dump.read_bytes().decode("utf-8-sig")
        if reg.name == "hoftebrudd"
        else (dump.read_bytes().decode("cp1252"))
    )
    rows = csv.DictReader(text.splitlines(), delimiter=";")
    out = set()
    for r in rows:
        day = datetime.strptime(r[k.event_date], "%d.%m.%Y").date()
        if r[k.status] == "1" and day.year == year:
            code = spec.code_map.get(r[spec.code_variable], r[spec.code_variable])
            out.add((r[k.fnr], day.isoformat(), code, r[k.unit]))
    return out


def _read(path: Path) -> tuple[list[str], list[list[str]]]:
    lines = list(csv.reader(path.read_text(encoding="utf-8").splitlines(), delimiter=";"))
    return lines[0], lines[1:]


def test_extract_matches_the_dump_and_is_minimal_and_reproducible(
    layout: Layout,
    registries: dict[str, Registry],
    tmp_path: Path,
    ingest_generated: Callable[..., Path],
) -> None:
    reg = registries["hoftebrudd"]
    # the original moved from gen/ into the archive
    dump = ingest_generated(reg, reg.form(ExtractSpec.of(reg).form), tmp_path / "gen", 1500, 7)
    out = layout.exports / "npr" / reg.name / "2023"
    with warehouse.connect(layout, read_only=True) as con:
        ext = build_npr_extract(con, reg, 2023, out)
    link_header, link = _read(ext.link)
    act_header, activity = _read(ext.activity)
    assert tuple(link_header) == LINK_COLUMNS and tuple(act_header) == ACTIVITY_COLUMNS
    fnr_of = {pid: fnr for fnr, pid in link}
    assert len(fnr_of) == len(link) == len({f for f, _ in link})  # one row per person
    got = {(fnr_of[pid], day, code, resh) for pid, day, code, resh, _hospital in activity}
    assert len(got) == len(activity)  # deduplicated
    assert got == _expected(reg, dump, 2023)
    assert ext.persons == len(link) and ext.activities == len(activity) > 100
    assert all(h for *_, h in activity)  # every RESH resolves to a hospital
    assert {c for _, _, c, _, _ in activity} <= {"S72.0", "S72.1", "S72.2", "S72.9"}
    assert (ext.link.stat().st_mode & 0o777) == 0o600  # the link file holds fnr

    before = (ext.link.read_bytes(), ext.activity.read_bytes())
    with warehouse.connect(layout, read_only=True) as con:
        again = build_npr_extract(con, reg, 2023, out)
    assert (again.link.read_bytes(), again.activity.read_bytes()) == before
