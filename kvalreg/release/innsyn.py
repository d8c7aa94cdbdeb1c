"""Innsyn: what the registries hold about one person, and every release that included them.

The fnr is used only as a query parameter against the raw tables and as input to the
per-registry keyed hash the release log stores; it is never printed, logged or put into an
exception. The answer counts forms and episodes per registry (from the latest accepted dump,
as everything else reads them), names the units and years, and lists each release (project,
recipient, approval, date, the variables released) and delivery that contained the person.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import duckdb
import polars as pl

from kvalreg import warehouse
from kvalreg.fnr import LENGTH
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from kvalreg.release import source
from kvalreg.release.log import ReleaseLog, person_hashes


class InnsynError(ValueError):
    """The given identifier is malformed (the message never repeats it)."""


@dataclass
class FormHolding:
    registry: str
    form: str
    rows: int
    episodes: int
    first: str | None
    last: str | None
    units: tuple[str, ...]


@dataclass
class InnsynAnswer:
    holdings: list[FormHolding] = field(default_factory=list)
    releases: list[dict[str, object]] = field(default_factory=list)
    deliveries: dict[str, list[dict[str, object]]] = field(default_factory=dict)

    def describe(self) -> str:
        lines = ["Innsyn for the person with the given fødselsnummer (not shown)."]
        if not self.holdings:
            lines.append("No registry holds data about this person.")
        for h in self.holdings:
            span = f", {h.first} to {h.last}" if h.first else ""
            lines.append(
                f"  {h.registry}/{h.form}: {h.rows} registration(s), {h.episodes} episode(s)"
                f"{span}; units (RESH) {', '.join(h.units) or '-'}"
            )
        if not self.releases:
            lines.append("No research release has included this person.")
        for r in self.releases:
            project = r.get("project", {})
            recipient = r.get("recipient", {})
            approvals = r.get("approvals", {})
            assert isinstance(project, dict) and isinstance(recipient, dict)
            assert isinstance(approvals, dict)
            lines.append(
                f"  release {r['release']} on {r['at']}: project {project.get('id')} "
                f"({project.get('title')}) to {recipient.get('organisation')}, "
                f"approval {approvals.get('rek')}; variables {r.get('variables')}"
            )
            for d in self.deliveries.get(str(r["release"]), []):
                lines.append(f"    delivered on {d['at']}: {d.get('target', '')}")
        return "\n".join(lines)


def _normalise(fnr: str) -> str:
    value = fnr.strip()
    if len(value) != LENGTH or not value.isdigit():
        raise InnsynError(f"a fødselsnummer has {LENGTH} digits; the value given has not")
    return value


def innsyn(fnr: str, layout: Layout, registries: dict[str, Registry]) -> InnsynAnswer:
    value = _normalise(fnr)
    answer = InnsynAnswer()
    person_by_registry: dict[str, str] = {}
    with_fnr = {n: r for n, r in sorted(registries.items()) if r.keys.fnr}
    if layout.warehouse.exists():
        with warehouse.connect(layout, read_only=True) as con:
            for reg in with_fnr.values():
                answer.holdings += _holdings(con, reg, value)
    for name in with_fnr:
        person_by_registry[name] = person_hashes(layout.secrets, name, pl.Series([value]))[0]
    log = ReleaseLog(layout.release_log, layout.secrets)
    included: set[str] = set()
    releases: dict[str, dict[str, object]] = {}
    deliveries: dict[str, list[dict[str, object]]] = defaultdict(list)
    wanted = set(person_by_registry.values())
    for entry in log.entries():
        kind = entry.get("kind")
        if kind == "person" and entry.get("person") in wanted:
            included.add(str(entry["release"]))
        elif kind == "release":
            releases[str(entry["release"])] = entry
        elif kind == "delivery":
            deliveries[str(entry.get("release"))].append(entry)
    answer.releases = [releases[r] for r in sorted(included) if r in releases]
    answer.deliveries = {r: deliveries[r] for r in sorted(included) if r in deliveries}
    return answer


def _holdings(con: duckdb.DuckDBPyConnection, registry: Registry, fnr: str) -> list[FormHolding]:
    keys = registry.keys
    out: list[FormHolding] = []
    patients: list[object] = []
    for form in registry.forms:
        if keys.fnr in form.columns:
            dump = source.latest_dump(con, registry.name, form.name)
            if dump:
                rows = con.execute(
                    f'SELECT DISTINCT "{keys.patient}" FROM "raw_{registry.name}"."{form.name}" '
                    f'WHERE _dump_id = ? AND trim(CAST("{keys.fnr}" AS VARCHAR)) = ?',
                    [dump, fnr],
                ).fetchall()
                patients += [r[0] for r in rows]
    if not patients:
        return out
    for form in registry.forms:
        dump = source.latest_dump(con, registry.name, form.name)
        if not dump or keys.patient not in form.columns:
            continue
        date_col = keys.event_date if keys.event_date in form.columns else None
        span = f'min("{date_col}"), max("{date_col}")' if date_col else "NULL, NULL"
        unit = f'list(DISTINCT CAST("{keys.unit}" AS VARCHAR) ORDER BY 1)'
        rows, episodes, first, last, units = con.execute(
            f'SELECT count(*), count(DISTINCT "{keys.episode}"), {span}, {unit} '
            f'FROM "raw_{registry.name}"."{form.name}" '
            f'WHERE _dump_id = ? AND list_contains(?, "{keys.patient}")',
            [dump, patients],
        ).fetchall()[0]
        if rows:
            out.append(
                FormHolding(
                    registry.name, form.name, rows, episodes,
                    None if first is None else str(first), None if last is None else str(last),
                    tuple(u for u in units or () if u is not None),
                )
            )  # fmt: skip
    return out
