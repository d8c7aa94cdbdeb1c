"""The NPR coverage-analysis extract (dekningsgradsanalyse) of one registry, from the warehouse.

NPR links the registry's episodes with its own activity data and sends back coverage per unit.
What it gets is minimal and keeps identity apart from content (domain brief §7):

- ``<registry>_<year>_kobling.csv`` — the link file: ``Fnr;PID``, one row per person;
- ``<registry>_<year>_aktivitet.csv`` — the activity file: ``PID;Dato;Kode;AvdRESH;Sykehus``.

Rows come from the registry's base form in its latest accepted dump (dumps are full snapshots),
completed forms only (``SkjemaStatus`` = 1), one calendar year of the main date, with exact
duplicates of (person, date, code, unit) removed. ``PID`` is a number local to this extract
(1..n in the order of SHA-256(fnr)), so it links the two files and nothing else. ``Kode`` is
the registry's own diagnosis or procedure variable translated to NCSP/ICD-10 by the
``npr_extract`` section of ``registry.yaml`` (a registry is data); ``Sykehus`` is the hospital
of the RESH id on that date from the reference units. Format: UTF-8, ``;``-separated, a header
row, ISO dates, LF line ends; the same warehouse contents give byte-identical files, so a
re-run does not make a new delivery.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb

from kvalreg.atomic import write_atomic
from kvalreg.reference import load_units
from kvalreg.registry import Registry

LINK_COLUMNS = ("Fnr", "PID")
ACTIVITY_COLUMNS = ("PID", "Dato", "Kode", "AvdRESH", "Sykehus")


@dataclass(frozen=True)
class ExtractSpec:
    """The ``npr_extract`` section of a registry.yaml."""

    form: str
    code_variable: str
    code_system: str
    code_map: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, registry: Registry) -> ExtractSpec | None:
        raw = registry.extra.get("npr_extract")
        if raw is None:
            return None
        where = f"{registry.folder / 'registry.yaml'}: npr_extract"
        base = next((f.name for f in registry.forms if f.role == "base"), None)
        code = raw.get("code") or {}
        spec = cls(
            form=str(raw.get("form", base)),
            code_variable=str(code.get("variable", "")),
            code_system=str(code.get("system", "")),
            code_map={str(k): str(v) for k, v in (code.get("map") or {}).items()},
        )
        form = registry.form(spec.form)
        missing = [
            k for k in ("fnr", "event_date", "unit", "status") if getattr(registry.keys, k) is None
        ]
        if missing:
            raise ValueError(f"{where}: the registry's keys lack {', '.join(missing)}")
        if spec.code_variable not in form.columns:
            raise ValueError(f"{where}: code.variable {spec.code_variable!r} is not in {form.name}")
        return spec


@dataclass(frozen=True)
class NprExtract:
    registry: str
    year: int
    dump_id: str
    link: Path
    activity: Path
    persons: int
    activities: int

    def files(self) -> list[tuple[str, Path]]:
        return [(self.link.name, self.link), (self.activity.name, self.activity)]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _latest_dump(con: duckdb.DuckDBPyConnection, registry: str, form: str) -> str | None:
    rows = con.execute(
        """
        select dump_id from meta.dumps
        where registry = ? and form = ? and status = 'accepted'
        order by received_at desc, processed_at desc, dump_id desc
        limit 1
        """,
        [registry, form],
    ).fetchall()
    return rows[0][0] if rows else None


def default_year(con: duckdb.DuckDBPyConnection, registry: Registry, today: date) -> int | None:
    """Last calendar year, or the latest year with completed forms if the data stop earlier."""
    spec = ExtractSpec.of(registry)
    if spec is None:
        return None
    dump = _latest_dump(con, registry.name, spec.form)
    if dump is None:
        return None
    k = registry.keys
    (latest,) = con.execute(
        f"select max(year({_q(k.event_date)})) from {_q('raw_' + registry.name)}.{_q(spec.form)} "
        f"where _dump_id = ? and {_q(k.status)} = 1",
        [dump],
    ).fetchall()[0]
    return None if latest is None else min(today.year - 1, int(latest))


def _hospital(resh: str, day: date) -> str:
    for unit in load_units():
        if unit.resh == resh and unit.valid_on(day):
            return unit.hospital
    return ""


def _csv(header: tuple[str, ...], rows: list[tuple]) -> bytes:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue().encode("utf-8")


def build_npr_extract(
    con: duckdb.DuckDBPyConnection, registry: Registry, year: int, out_dir: Path
) -> NprExtract:
    """Write the two files of ``registry``'s extract for ``year`` into ``out_dir``."""
    spec = ExtractSpec.of(registry)
    if spec is None:
        raise ValueError(f"registry {registry.name!r} has no npr_extract section")
    dump = _latest_dump(con, registry.name, spec.form)
    if dump is None:
        raise ValueError(f"registry {registry.name!r} has no accepted {spec.form} dump yet")
    k = registry.keys
    rows = con.execute(
        f"""
        select distinct
            trim(cast({_q(k.fnr)} as varchar)) as fnr,
            cast({_q(k.event_date)} as date) as dato,
            cast({_q(spec.code_variable)} as varchar) as code,
            cast({_q(k.unit)} as varchar) as resh
        from {_q("raw_" + registry.name)}.{_q(spec.form)}
        where _dump_id = ?
          and {_q(k.status)} = 1
          and year({_q(k.event_date)}) = ?
          and {_q(k.fnr)} is not null and {_q(k.event_date)} is not null
          and {_q(k.unit)} is not null
        """,
        [dump, year],
    ).fetchall()
    order = sorted({r[0] for r in rows}, key=lambda f: hashlib.sha256(f.encode()).hexdigest())
    pid = {fnr: n for n, fnr in enumerate(order, start=1)}
    activity = sorted(
        (
            pid[fnr],
            dato.isoformat(),
            spec.code_map.get(code or "", code or ""),
            resh,
            _hospital(resh, dato),
        )
        for fnr, dato, code, resh in rows
    )
    activity = sorted(set(activity))  # codes mapped to the same NPR code count once
    link = sorted((pid[f], f) for f in order)
    out_dir.mkdir(parents=True, exist_ok=True)
    link_path = out_dir / f"{registry.name}_{year}_kobling.csv"
    activity_path = out_dir / f"{registry.name}_{year}_aktivitet.csv"
    write_atomic(link_path, _csv(LINK_COLUMNS, [(f, p) for p, f in link]), mode=0o600)
    write_atomic(activity_path, _csv(ACTIVITY_COLUMNS, activity), mode=0o600)
    return NprExtract(registry.name, year, dump, link_path, activity_path, len(link), len(activity))
