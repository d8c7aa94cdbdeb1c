"""``generate``: a synthetic registry dump with an NPR extract and exact ground truth.

The generator is generic: it reads the registry's codebook and the ``synthetic:`` hints of its
registry.yaml, and nothing about any particular registry is written here.

How the numbers with a known answer arise:

* Coverage: per unit, a planted under-reporting rate ``u`` and registry-only share ``s`` split
  the true events into registry-only (a), both (b) and NPR-only (c). Registry rows are a and b
  events; the NPR extract holds b and c events with the same fnr, RESH and date.
* Timeliness: per unit, a lognormal delay (planted median) from event date to registration.
* Outcomes: per unit, a planted rate for each outcome variable.

Generation runs in chunks of ``chunk_rows`` base rows; each chunk has its own RNG seeded from
(seed, chunk index), and persons (hence fnr) are decoded from a running person index, so memory
stays flat however many rows are asked for, and identical arguments give identical bytes.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl

from kvalreg.codebook.mrs import write_rapport_xlsx
from kvalreg.codebook.oqr import write_klokebok
from kvalreg.generate.columns import EPOCH, Column, Table, TextFormat
from kvalreg.generate.defects import CHECKS, NOT_A_NUMBER, empty_counts, plant, protected
from kvalreg.generate.model import (
    Hints,
    UnitModel,
    episodes_for_mean,
    export_hints,
    load_hints,
)
from kvalreg.generate.persons import PersonIds
from kvalreg.generate.truth import Coverage, Outcome, Timeliness, years_of
from kvalreg.generate.values import RowContext, fill
from kvalreg.reference import known_resh
from kvalreg.registry import Form, Registry, load_registries

CHUNK_ROWS = 50_000
GROUND_TRUTH = "ground_truth.json"
OUTCOME_TOLERANCE_Z = 4.0


@dataclass
class GenerationSummary:
    registry: str
    out: Path
    seed: int
    rows: int
    defects: bool
    export_time: datetime
    files: dict[str, int] = field(default_factory=dict)  # file name -> data rows (0: other)
    planted_defects: int = 0
    seconds: float = 0.0

    def describe(self) -> str:
        lines = [
            f"generated {self.registry} (seed {self.seed}, {self.rows} base rows"
            f"{', with defects' if self.defects else ''}) in {self.seconds:.1f} s -> {self.out}",
            f"export time {self.export_time:%Y-%m-%d %H:%M}",
        ]
        for name, rows in self.files.items():
            size = (self.out / name).stat().st_size
            detail = f"{rows} rows, " if rows else ""
            lines.append(f"  {name}  ({detail}{size:,} bytes)")
        if self.defects:
            lines.append(f"planted defects: {self.planted_defects} (see {GROUND_TRUTH})")
        return "\n".join(lines)


class _Sink:
    """One export file, written chunk by chunk into a hidden ``.part`` file."""

    def __init__(
        self, path: Path, form: Form, registry: Registry, export_encoding: str, line_terminator: str
    ) -> None:
        self.part = path
        self.form = form
        self.encoding = export_encoding
        self.line_terminator = line_terminator
        f = registry.format
        self.text = TextFormat(
            date=f.date_formats[0],
            datetime=f.datetime_formats[0],
            decimal=f.decimal,
            true=f.true_values[0],
            false=f.false_values[0],
        )
        self.separator = f.separator
        self.rows = 0
        self.fh = path.open("wb")

    def write(self, table: Table) -> None:
        df = pl.DataFrame(
            self.text.table(self.form.variables, table),
            schema={v.name: pl.String for v in self.form.variables},
        )
        buf = io.BytesIO()
        df.write_csv(
            buf,
            separator=self.separator,
            line_terminator=self.line_terminator,
            quote_style="necessary",
            include_header=self.rows == 0,
            null_value="",
        )
        text = buf.getvalue().decode("utf-8")
        encoding = self.encoding
        if self.rows and encoding.lower().replace("_", "-") == "utf-8-sig":
            encoding = "utf-8"  # the byte-order mark belongs at the start of the file only
        self.fh.write(text.encode(encoding))
        self.rows += table.n

    def close(self) -> None:
        self.fh.close()


@dataclass
class _State:
    """Running counters carried from chunk to chunk (all O(1) in the number of rows)."""

    next_person: int = 0
    next_episode: int = 100_001
    next_activity: int = 5_000_001
    max_registered: int = 0  # minutes since 1970


def _unknown_resh() -> Iterator[int]:
    known = {int(r) for r in known_resh()}
    candidate = 8_000_001
    while True:
        if candidate not in known:
            yield candidate
        candidate += 13


def generate(
    registry: Registry,
    out: Path,
    *,
    rows: int,
    seed: int,
    defects: bool,
    persons: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> GenerationSummary:
    """Write dump files, native codebook, NPR extract and ``ground_truth.json`` into ``out``.

    ``persons`` (optional) sets the number of distinct persons instead of the registry's
    ``episodes_per_person`` hint, so benchmarks can ask for 10M episodes of 3M persons.
    """
    if rows < 1:
        raise ValueError("rows must be positive")
    if persons is not None and not 0 < persons <= rows:
        raise ValueError("persons must be between 1 and rows")
    started = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    hints = load_hints(registry)
    if persons is not None:
        hints = replace(hints, episodes=episodes_for_mean(rows / persons))
    npr = load_registries()[hints.npr_registry]
    run = _Run(registry, npr, hints, out, seed, defects, rows)
    done = 0
    chunk = 0
    while done < rows:
        n = min(chunk_rows, rows - done)
        run.chunk(chunk, n)
        done += n
        chunk += 1
    summary = run.finish()
    summary.seconds = time.perf_counter() - started
    return summary


class _Run:
    def __init__(
        self,
        registry: Registry,
        npr: Registry,
        hints: Hints,
        out: Path,
        seed: int,
        defects: bool,
        rows: int,
    ) -> None:
        self.registry, self.npr, self.hints, self.out = registry, npr, hints, out
        self.seed, self.defects, self.rows = seed, defects, rows
        self.units = UnitModel.draw(hints, np.random.default_rng([seed, 0x5EED, 1]))
        self.persons = PersonIds(hints.birth_first, hints.birth_last, seed)
        self.state = _State()
        self.base = next(f for f in registry.forms if f.role == "base")
        self.npr_form = npr.forms[0]
        npr_export = export_hints(npr)
        self.sinks = {
            f.name: _Sink(
                out / f".{f.name}.part",
                f,
                registry,
                hints.export.encoding,
                hints.export.line_terminator,
            )
            for f in registry.forms
        }
        self.npr_sink = _Sink(
            out / ".npr.part", self.npr_form, npr, npr_export.encoding, npr_export.line_terminator
        )
        self.coverage = Coverage()
        self.timeliness = Timeliness(hints.delay_max)
        self.outcomes = {(o.form, o.variable): Outcome() for o in hints.outcomes}
        self.defect_counts = {f.name: empty_counts() for f in registry.forms}
        self.unknown_resh = _unknown_resh()

    # -- one chunk --------------------------------------------------------------------------

    def chunk(self, index: int, n: int) -> None:
        rng = np.random.default_rng([self.seed, index])
        h, units, st = self.hints, self.units, self.state
        k = self.registry.keys

        # Persons and their registry episodes (a or b events).
        counts = rng.choice(h.episodes[0], size=n, p=h.episodes[1])
        cut = int(np.searchsorted(np.cumsum(counts), n))
        counts = counts[: cut + 1]
        counts[-1] -= int(counts.sum()) - n
        n_persons = len(counts)
        person = np.repeat(np.arange(n_persons), counts)
        first_unit = rng.choice(len(units.keys), n_persons, p=units.weight / units.weight.sum())
        unit = first_unit[person]
        moved = rng.random(n) >= h.same_unit_share
        unit[moved] = rng.choice(
            len(units.keys), int(moved.sum()), p=units.weight / units.weight.sum()
        )
        day = self._distinct_days(rng, person)
        order = np.lexsort((person, day))
        person, unit, day = person[order], unit[order], day[order]

        u, s = units.underreporting[unit], units.registry_only[unit]
        only_registry = rng.random(n) < s / (1 - u)

        # NPR-only (c) events: new persons, one event each, per unit ~ Poisson.
        per_unit = np.bincount(unit, minlength=len(units.keys))
        n_c = rng.poisson(per_unit * units.underreporting / (1 - units.underreporting))
        c_unit = np.repeat(np.arange(len(units.keys)), n_c)
        c_day = rng.integers(h.first_day, h.last_day + 1, len(c_unit))

        first_person = st.next_person
        people = self.persons.people(first_person + np.arange(n_persons + len(c_unit)))
        st.next_person += n_persons + len(c_unit)
        fnr = people.fnr[person]
        resh = units.resh_on(unit, day)

        # Registration: status and per-unit delay.
        status = h.status_codes[rng.choice(len(h.status_codes), n, p=h.status_p)]
        registered = self._registered(rng, unit, day)
        episode = st.next_episode + np.arange(n)
        st.next_episode += n

        cols = {
            k.patient: Column.full((1_000_000 + first_person + person).astype(np.float64)),
            k.episode: Column.full(episode.astype(np.float64)),
            # Copies: defects edit the written columns, the NPR side keeps the true values.
            k.unit: Column.full(resh.copy()),
            k.fnr: Column.full(fnr.copy()),
            k.event_date: Column.full(day.copy()),
            k.registered: Column.full(registered),
            k.status: Column.full(status),
        }
        base_ctx = RowContext(
            rng=rng,
            n=n,
            event_day=day,
            birth_day=people.birth_day[person],
            male=people.male[person],
            home=lambda: self._homes(rng, unit),
            registry_name=self.registry.name,
            outcome=self._outcome_rates(self.base, unit),
        )
        fill(self.base.variables, h.variables.get(self.base.name, {}), base_ctx, cols)
        base = Table(n, cols)
        tables = {self.base.name: (base, day, unit)}

        for fu in h.followups:
            form = self.registry.form(fu.form)
            pick = np.flatnonzero(rng.random(n) < fu.share)
            m = len(pick)
            fu_day = day[pick] + rng.integers(fu.offset_days[0], fu.offset_days[1] + 1, m)
            fu_cols = {
                k.patient: base.columns[k.patient].take(pick),
                k.episode: base.columns[k.episode].take(pick),
                k.unit: Column.full(units.resh_on(unit[pick], fu_day)),
                fu.date: Column.full(fu_day),
                k.registered: Column.full(self._registered(rng, unit[pick], fu_day)),
                k.status: Column.full(
                    h.status_codes[rng.choice(len(h.status_codes), m, p=h.status_p)]
                ),
            }
            ctx = RowContext(
                rng=rng,
                n=m,
                event_day=day[pick],
                birth_day=None,
                male=None,
                home=lambda pick=pick: self._homes(rng, unit[pick]),
                registry_name=self.registry.name,
                outcome=self._outcome_rates(form, unit[pick]),
            )
            fill(form.variables, h.variables.get(form.name, {}), ctx, fu_cols)
            tables[form.name] = (Table(m, fu_cols), day[pick], unit[pick])

        if self.defects and index == 0:
            for name, (table, ev_day, ev_unit) in tables.items():
                form = self.registry.form(name)
                planted, counts = plant(
                    self.registry,
                    form,
                    table,
                    per_variable=max(2, min(40, self.rows // 500)),
                    avoid=protected(
                        self.registry,
                        form,
                        h.variables.get(name, {}),
                        {o.variable for o in h.outcomes if o.form == name},
                    ),
                    rng=np.random.default_rng([self.seed, 0xDEFEC7]),
                    unknown_resh=self.unknown_resh,
                )
                self.defect_counts[name] = counts
                tables[name] = (planted, ev_day, ev_unit)

        for name, (table, ev_day, _) in tables.items():
            self.sinks[name].write(table)
            n_orig = len(ev_day)  # appended duplicates repeat earlier rows: not counted twice
            reg = table.columns[k.registered].values[:n_orig]
            st.max_registered = max(st.max_registered, int(reg.max(initial=0)))
            done = table.columns[k.status].values[:n_orig] == h.completed_status
            resh_out = table.columns[k.unit].values[:n_orig].astype(np.int64)
            if name == self.base.name:
                self.timeliness.add(resh_out[done], ev_day[done], reg[done] // 1440)
                fnr_out = table.columns[k.fnr].values[:n_orig].astype(str)
                npr_idx = np.flatnonzero(~only_registry)
                self.coverage.add(
                    (fnr_out[done], resh_out[done], ev_day[done]),
                    (
                        np.concatenate([fnr[npr_idx], people.fnr[n_persons:]]),
                        np.concatenate([resh[npr_idx], units.resh_on(c_unit, c_day)]),
                        np.concatenate([day[npr_idx], c_day]),
                    ),
                )
            for o in h.outcomes:
                if o.form == name:
                    col = table.columns[o.variable]
                    ok = done & ~col.missing[:n_orig]
                    hit = col.values[:n_orig].astype(str) == o.value
                    self.outcomes[(o.form, o.variable)].add(
                        resh_out[ok], years_of(ev_day[ok]), hit[ok]
                    )

        self._write_npr(
            rng,
            fnr[~only_registry],
            resh[~only_registry],
            day[~only_registry],
            people.fnr[n_persons:],
            units.resh_on(c_unit, c_day),
            c_day,
        )

    def _distinct_days(self, rng: np.random.Generator, person: np.ndarray) -> np.ndarray:
        """Event days, redrawn until no person has two events on one day (links stay exact)."""
        h = self.hints
        day = rng.integers(h.first_day, h.last_day + 1, len(person))
        while True:
            order = np.lexsort((day, person))
            clash = (np.diff(person[order]) == 0) & (np.diff(day[order]) == 0)
            if not clash.any():
                return day
            redo = order[1:][clash]
            day[redo] = rng.integers(h.first_day, h.last_day + 1, len(redo))

    def _registered(
        self, rng: np.random.Generator, unit: np.ndarray, day: np.ndarray
    ) -> np.ndarray:
        h = self.hints
        delay = np.floor(
            self.units.delay_median[unit] * np.exp(h.delay_sigma * rng.standard_normal(len(unit)))
        )
        delay = np.clip(delay, 0, h.delay_max).astype(np.int64)
        h0, h1 = h.registration_hours
        minute = rng.integers(int(h0 * 60), int(h1 * 60), len(unit))
        return (day + delay) * 1440 + minute

    def _homes(self, rng: np.random.Generator, unit: np.ndarray) -> np.ndarray:
        out = np.empty(len(unit), dtype="<U4")
        local = rng.random(len(unit)) < self.hints.local_share
        everywhere = np.array(self.units.all_municipalities)
        out[~local] = everywhere[rng.integers(0, len(everywhere), int((~local).sum()))]
        for i, candidates in enumerate(self.units.home):
            rows = np.flatnonzero(local & (unit == i))
            out[rows] = np.array(candidates)[rng.integers(0, len(candidates), len(rows))]
        return out

    def _outcome_rates(self, form: Form, unit: np.ndarray) -> dict[str, tuple[str, np.ndarray]]:
        return {
            o.variable: (o.value, self.units.outcome_rate[(o.form, o.variable)][unit])
            for o in self.hints.outcomes
            if o.form == form.name
        }

    def _write_npr(
        self,
        rng: np.random.Generator,
        b_fnr: np.ndarray,
        b_resh: np.ndarray,
        b_day: np.ndarray,
        c_fnr: np.ndarray,
        c_resh: np.ndarray,
        c_day: np.ndarray,
    ) -> None:
        k = self.npr.keys
        fnr = np.concatenate([b_fnr, c_fnr])
        resh = np.concatenate([b_resh, c_resh])
        day = np.concatenate([b_day, c_day])
        order = np.argsort(day, kind="stable")
        n = len(order)
        cols = {
            k.fnr: Column.full(fnr[order]),
            k.episode: Column.full((self.state.next_activity + np.arange(n)).astype(np.float64)),
            k.unit: Column.full(resh[order]),
            k.event_date: Column.full(day[order]),
        }
        self.state.next_activity += n
        npr_hints = dict(
            self.npr.extra.get("synthetic", {}).get("variables", {}).get(self.npr_form.name, {})
        )
        npr_hints.update(self.hints.npr_variables)
        ctx = RowContext(
            rng=rng,
            n=n,
            event_day=day[order],
            birth_day=None,
            male=None,
            home=lambda: np.zeros(0),
            registry_name=self.registry.name,
            outcome={},
        )
        fill(self.npr_form.variables, npr_hints, ctx, cols)
        self.npr_sink.write(Table(n, cols))

    # -- finishing --------------------------------------------------------------------------

    def finish(self) -> GenerationSummary:
        h = self.hints
        st = self.state
        minute = st.max_registered + 1440  # the export ran the night after the last registration
        export = datetime.combine(EPOCH, datetime.min.time()) + timedelta(
            minutes=(minute // 1440) * 1440 + 2 * 60 + 15
        )
        summary = GenerationSummary(
            self.registry.name, self.out, self.seed, self.rows, self.defects, export
        )
        files: dict[str, str] = {}
        for form in self.registry.forms:
            sink = self.sinks[form.name]
            sink.close()
            name = h.export.file_name.format(
                form=form.file_token, registry=self.registry.name, date=export
            )
            sink.part.replace(self.out / name)
            summary.files[name] = sink.rows
            files[form.name] = name
        self.npr_sink.close()
        npr_name = export_hints(self.npr).file_name.format(
            form=self.npr_form.file_token, registry=self.registry.name, date=export
        )
        self.npr_sink.part.replace(self.out / npr_name)
        summary.files[npr_name] = self.npr_sink.rows
        if h.export.codebook_file:
            _write_codebook(
                self.registry, self.out / h.export.codebook_file, export, h.export.encoding
            )
            summary.files[h.export.codebook_file] = 0
        truth = self._truth(files, npr_name, export)
        (self.out / GROUND_TRUTH).write_text(
            json.dumps(truth, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
        )
        summary.files[GROUND_TRUTH] = 0
        summary.planted_defects = sum(
            n
            for form in self.defect_counts.values()
            for check in form.values()
            for n in check.values()
        )
        return summary

    def _truth(self, files: dict[str, str], npr_name: str, export: datetime) -> dict:
        units = self.units
        planted = {}
        for i, rows in enumerate(units.units):
            for u in rows:
                planted[int(u.resh)] = i
        cov = self.coverage
        coverage = []
        for key in sorted(set(cov.a) | set(cov.b) | set(cov.c)):
            a, b, c = cov.a[key], cov.b[key], cov.c[key]
            i = planted.get(key[0])
            coverage.append(
                {
                    "resh": str(key[0]),
                    "year": key[1],
                    "a": a,
                    "b": b,
                    "c": c,
                    "dg_registry": round((a + b) / (a + b + c), 6),
                    "dg_npr": round((b + c) / (a + b + c), 6),
                    "planted_underreporting": None
                    if i is None
                    else round(float(units.underreporting[i]), 6),
                    "planted_registry_only": None
                    if i is None
                    else round(float(units.registry_only[i]), 6),
                }
            )
        outcomes = []
        for o in self.hints.outcomes:
            acc = self.outcomes[(o.form, o.variable)]
            rows = []
            for key in sorted(acc.den):
                i = planted.get(key[0])
                den, num = acc.den[key], acc.num[key]
                rate = None if i is None else float(units.outcome_rate[(o.form, o.variable)][i])
                rows.append(
                    {
                        "resh": str(key[0]),
                        "year": key[1],
                        "numerator": num,
                        "denominator": den,
                        "planted_rate": None if rate is None else round(rate, 6),
                        "tolerance": None
                        if rate is None
                        else round(OUTCOME_TOLERANCE_Z * (rate * (1 - rate) / den) ** 0.5, 6),
                    }
                )
            outcomes.append(
                {"form": o.form, "variable": o.variable, "value": o.value, "units": rows}
            )
        delays = {
            str(int(u.resh)): round(float(units.delay_median[i]), 3)
            for i, rows in enumerate(units.units)
            for u in rows
        }
        return {
            "registry": self.registry.name,
            "seed": self.seed,
            "rows": self.rows,
            "defects_planted": self.defects,
            "export_time": export.isoformat(),
            "files": {"forms": files, "npr": npr_name, "codebook": self.hints.export.codebook_file},
            "coverage": coverage,
            "timeliness": {
                "deadline_days": self.registry.deadline_days,
                "planted_median_days": delays,
                "units": self.timeliness.rows(self.registry.deadline_days),
            },
            "outcomes": {"tolerance_z": OUTCOME_TOLERANCE_Z, "indicators": outcomes},
            "defects": {
                form: {check: dict(sorted(counts[check].items())) for check in CHECKS}
                for form, counts in self.defect_counts.items()
            },
            "notes": NOTES,
        }


NOTES = [
    "Coverage links registry and NPR on (fnr, RESH, event date): registry side = base-form "
    "rows with SkjemaStatus 1 (completed forms only, as for NPR's dekningsgradsanalyse), "
    "exact duplicate rows counted once; NPR side = every row of the NPR extract (NPR InnDato "
    "= the registry's event date). Year = year of the event date. Rows grouped by RESH as "
    "written in each file.",
    "Incomplete forms (SkjemaStatus -1/0) are therefore not in a or b: their NPR events "
    "count as c, which is why realised DG_registry is below 1 - planted_underreporting.",
    "Defects and coverage: a row with an fnr_invalid defect keeps its RESH and date but no "
    "longer links, so it counts as a (registry only) and its NPR event as c. A row with a "
    "resh_unknown defect counts as a under the unknown RESH (planted_* = null) and its NPR "
    "event as c under the true RESH. Duplicates do not change a/b/c. Value defects never "
    "touch keys, dates, status or outcome variables.",
    "Timeliness: base-form rows with SkjemaStatus 1, duplicates counted once, delay = "
    "calendar days from the event date to the date part of the registration timestamp; "
    "grouped by RESH as written (so fnr defects change nothing and resh_unknown rows form "
    "their own group). median_days is the exact median (mean of the two middle values for "
    "even counts); within_deadline counts delay <= deadline_days.",
    "Outcomes: numerator/denominator are exact over completed rows with the variable filled, "
    "duplicates once, by RESH as written and year of the base event date (follow-up forms "
    "use their episode's base event date). |numerator/denominator - planted_rate| <= "
    "tolerance (tolerance_z binomial standard errors) is expected to hold for almost all "
    "rows; the planted rate belongs to the unit and survives RESH re-coding.",
    "Defect counts are exact numbers of violating rows per form, check and variable; "
    "checks not listed for a variable have zero violations. duplicate_rows uses variable "
    "'*'; each duplicate also counts once under 'unique' for every unik variable of the "
    "form. date_order uses 'earlier<=later' as the variable. type_conformance writes "
    f"'{NOT_A_NUMBER}' into a numeric field (so that field is also not counted under limits). "
    "Defects are planted in the first chunk only; duplicates are appended at the end of "
    "that chunk, so a form file has its registrations plus the duplicates.",
]


def _write_codebook(registry: Registry, path: Path, export: datetime, encoding: str) -> None:
    """Ship the codebook in the registration system's own format, as the real export does."""
    if registry.system == "mrs":
        write_rapport_xlsx(registry.codebook, path, timestamp=export)
    elif registry.system == "oqr":
        write_klokebok(registry.codebook, path, encoding=encoding)
    else:
        registry.codebook.write_csv(path)
