"""Building one release: request → checked → data → pseudonymised, generalised, k-anonymous
package (folder + zip), an optional key file for the trusted third party, and the log.

Layout under ``KVALREG_HOME/releases/`` (see ``Layout``)::

    requests/<any name>.yaml                     what the sensor picks up
    packages/<id>@v<N>/<id>@v<N>/                the researcher's plaintext package
    packages/<id>@v<N>/<id>@v<N>.zip             the same folder as one archive
    packages/<id>@v<N>/build.json                request hash, archive hash, counts (internal)
    packages/<id>@v<N>/delivered.json            written on delivery: the build then refuses
    linkage/<id>@v<N>/<id>@v<N>-linkage/(.zip)   pseudonym ↔ fnr, only if linkage is asked
    log/utleveringslogg.jsonl                    the release log

Determinism: pseudonyms, date shifts, generalisations and k-anonymity depend only on the
data, the request and the master secret; rows are sorted; files are written with pinned
settings (``package.py``); nothing records the build time. Re-building the same request
version therefore gives byte-identical files, and the log is not appended to again. If the
data changed meanwhile (a newer dump), the build refuses instead of changing the version.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import duckdb
import polars as pl

from kvalreg import warehouse
from kvalreg.codebook import IdentifierClass, Variable
from kvalreg.indicators import load_indicators
from kvalreg.ingest.reader import quote_ident
from kvalreg.paths import Layout
from kvalreg.registry import Registry
from kvalreg.release import package, source
from kvalreg.release.describe import EPISODE, PERSON, codebook_frames, package_readme
from kvalreg.release.generalise import generalise
from kvalreg.release.kanon import KReport, k_anonymise
from kvalreg.release.log import PersonEntries, ReleaseLog, person_hashes
from kvalreg.release.pseudonym import day_shifts, derive_key, master_secret, pseudonyms
from kvalreg.release.request import (
    ReleaseRefused,
    ReleaseRequest,
    RequestError,
    base_form,
    load_request,
)

DERIVED_TABLE = "indikatorar"
COHORT = "_kv_release_cohort"  # the cohort's episode ids, for reading the other forms
DELIVERED = "delivered.json"
BUILD_RECORD = "build.json"


@dataclass
class Tables:
    """The released tables (name → frame, keys already pseudonymised) and their sources."""

    frames: dict[str, pl.DataFrame]
    dumps: dict[str, str]  # form -> dump id read
    fnr_by_person: pl.DataFrame  # PERSON, fnr (for the key file and the log; never released)


@dataclass
class BuildResult:
    release_id: str
    package_dir: Path
    archive: Path
    archive_sha256: str
    rows: dict[str, int]
    persons: int
    kanon: KReport
    linkage_archive: Path | None = None
    logged: bool = False
    files: list[dict[str, object]] = field(default_factory=list)

    def describe(self) -> str:
        lines = [
            f"release {self.release_id}: {self.persons} persons, "
            + ", ".join(f"{t} {n} rows" for t, n in self.rows.items()),
            f"  package: {self.package_dir}",
            f"  archive: {self.archive} (sha256 {self.archive_sha256})",
            f"  k-anonymity (k={self.kanon.k}): {self.kanon.violating_records} violating records;"
            f" {self.kanon.generalised_records} generalised, "
            f"{self.kanon.suppressed_records} suppressed",
        ]
        if self.linkage_archive:
            lines.append(f"  key file for the trusted third party: {self.linkage_archive}")
        lines.append("  logged in the release log" if self.logged else "  already in the log")
        return "\n".join(lines)


def release_dir(layout: Layout, release_id: str) -> Path:
    return layout.release_packages / release_id


def is_delivered(layout: Layout, release_id: str) -> bool:
    return (release_dir(layout, release_id) / DELIVERED).exists()


def mark_delivered(layout: Layout, release_id: str, details: dict[str, object]) -> Path:
    """For the delivery step (issue 5): record that the package left; the build then refuses
    to touch it. ``details`` (target, time, checksums) must hold no fnr or key."""
    folder = release_dir(layout, release_id)
    if not (folder / BUILD_RECORD).exists():
        raise ReleaseRefused(f"{folder}: no built release {release_id!r} to mark delivered")
    marker = folder / DELIVERED
    tmp = marker.with_name(marker.name + ".tmp")
    package.write_text(tmp, json.dumps(details, indent=2, sort_keys=True))
    tmp.replace(marker)
    return marker


def check_against_data(
    request: ReleaseRequest, registry: Registry, con: duckdb.DuckDBPyConnection
) -> None:
    """What only the warehouse can tell: the period holds data, derived indicators exist."""
    problems = []
    span = source.event_range(con, registry, base_form(registry))
    if span is None:
        problems.append(f"field 'registry': no accepted dump of {registry.name!r} yet")
    elif request.period_from > span[1] or request.period_to < span[0]:
        problems.append(
            f"field 'period': {request.period_from} to {request.period_to} is outside the data "
            f"({span[0]} to {span[1]})"
        )
    if request.derived:
        built = source.indicator_ids(con, registry.name)
        for i, ind in enumerate(request.derived):
            if ind not in built:
                problems.append(
                    f"field 'derived[{i}]': no per-episode results for {ind!r} in the marts "
                    "(run `kvalreg process` after ingesting)"
                )
    if problems:
        raise RequestError(request.path, problems)


def check(
    path: Path, layout: Layout, registries: dict[str, Registry], today: date | None = None
) -> ReleaseRequest:
    """``kvalreg release check``: the whole check, codebook and data, without building."""
    request = load_request(path, registries, today)
    if not layout.warehouse.exists():
        raise RequestError(path, ["field 'registry': no warehouse yet (nothing ingested)"])
    with warehouse.connect(layout, read_only=True) as con:
        check_against_data(request, registries[request.registry], con)
    return request


def _cohort_sql(request: ReleaseRequest, registry: Registry, form: str) -> tuple[str, list[object]]:
    """The SQL condition (and its parameters) picking the cohort's rows of ``form``: completed
    registrations if asked; in the base form also the period and the request's conditions; in
    the other forms the base form's episodes (registered as ``COHORT``)."""
    keys = registry.keys
    parts: list[str] = []
    params: list[object] = []
    if request.completed_only and keys.status and keys.status in registry.form(form).columns:
        parts.append(f"CAST({quote_ident(keys.status)} AS VARCHAR) = '1'")
    if form != base_form(registry):
        parts.append(f"{quote_ident(keys.episode)} IN (FROM {COHORT})")
        return " AND ".join(parts), params
    parts.append(f"{quote_ident(keys.event_date or '')} BETWEEN ? AND ?")
    params += [request.period_from, request.period_to]
    for cond in request.conditions:
        col = quote_ident(cond.variable)
        if cond.values:
            parts.append(f"CAST({col} AS VARCHAR) IN ({', '.join('?' * len(cond.values))})")
            params += cond.values
        if cond.min is not None:
            parts.append(f"{col} >= ?")
            params.append(cond.min)
        if cond.max is not None:
            parts.append(f"{col} <= ?")
            params.append(cond.max)
    return " AND ".join(parts), params


def read_tables(
    request: ReleaseRequest, registry: Registry, con: duckdb.DuckDBPyConnection, master: bytes
) -> Tables:
    """The cohort's rows of every requested form (and derived indicators), pseudonymised."""
    keys = registry.keys
    base = base_form(registry)
    assert keys.fnr and keys.event_date  # load_request refuses registries without them
    wanted = {base: (), **request.variables}
    person_key = derive_key(master, "pseudonym", request.project_id)
    episode_key = derive_key(master, "episode", request.project_id)
    frames: dict[str, pl.DataFrame] = {}
    dumps: dict[str, str] = {}
    episodes = pl.Series(keys.episode, [], dtype=pl.Int64)
    fnr_by_person = pl.DataFrame()
    for form in [base, *[f for f in wanted if f != base]]:
        columns = [keys.patient, keys.episode, *wanted[form]]
        if form == base:
            columns += [keys.fnr, keys.event_date, *(c.variable for c in request.conditions)]
        if keys.status and keys.status in registry.form(form).columns:
            columns.append(keys.status)
        where, params = _cohort_sql(request, registry, form)
        rows, dump = source.form_rows(
            con, registry, form, list(dict.fromkeys(columns)), where, params
        )
        if dump:
            dumps[form] = dump
        person = pseudonyms(rows[keys.patient], person_key).alias(PERSON)
        if form == base:
            episodes = rows[keys.episode].unique()
            con.register(COHORT, episodes.to_frame().to_arrow())
            fnr_by_person = rows.select(
                person, pl.col(keys.fnr).cast(pl.String).str.strip_chars().alias("fnr")
            ).unique()
        rows = rows.with_columns(
            person,
            pseudonyms(rows[keys.episode], episode_key).alias(EPISODE),
            day_shifts(rows[keys.patient], derive_key(master, "date-shift", request.project_id),
                       request.shift_max_days),
        )  # fmt: skip
        frames[form] = rows.select(PERSON, EPISODE, "shift_days", *wanted[form])
    if request.derived:
        obs = source.observations(con, registry.name, request.derived, COHORT)
        base_rows = frames[base]
        link = pl.DataFrame({keys.episode: episodes}).with_columns(
            pseudonyms(episodes, episode_key).alias(EPISODE)
        )
        obs = obs.rename({"episode_id": keys.episode}).join(link, on=keys.episode, how="inner")
        frames[DERIVED_TABLE] = obs.join(
            base_rows.select(PERSON, EPISODE).unique(), on=EPISODE, how="inner"
        ).select(PERSON, EPISODE, "ind_id", "year", "hit", "value")
    con.unregister(COHORT)
    return Tables(frames, dumps, fnr_by_person)


def quasi_identifiers(request: ReleaseRequest, registry: Registry) -> list[str]:
    """Declared in the request, else the base form's released ``kvasi`` variables that are not
    date-shifted (a shifted date no longer gives the real date to match against)."""
    if request.quasi_identifiers is not None:
        return list(request.quasi_identifiers)
    base = base_form(registry)
    by_name = {v.name: v for v in registry.form(base).variables}
    return [
        name
        for name in request.variables.get(base, ())
        if by_name[name].identifier is IdentifierClass.QUASI
        and getattr(request.generalise.get(name), "kind", None) != "shift"
    ]


def anonymise(
    tables: Tables, request: ReleaseRequest, registry: Registry
) -> tuple[dict[str, pl.DataFrame], KReport]:
    """Generalise as requested, make the episode table k-anonymous, drop suppressed episodes
    from every other table, and sort every table on all its columns."""
    out: dict[str, pl.DataFrame] = {}
    for name, frame in tables.frames.items():
        for column, how in request.generalise.items():
            if column in frame.columns:
                frame = generalise(frame, column, how)
        out[name] = frame.drop("shift_days", strict=False)
    base = base_form(registry)
    out[base], report = k_anonymise(
        out[base], quasi_identifiers(request, registry), PERSON, request.k, request.k_action
    )
    kept = out[base].select(EPISODE).unique()
    for name in out:
        if name != base and report.suppressed_records:
            out[name] = out[name].join(kept, on=EPISODE, how="semi")
        out[name] = package.sorted_rows(out[name])
    return out, report


def _variables_of(request: ReleaseRequest, registry: Registry) -> dict[str, list[Variable]]:
    return {
        form: [registry.codebook.variable(form, n) for n in names]
        for form, names in request.variables.items()
    }


def _stage(folder: Path) -> Path:
    staging = folder.with_name(f".{folder.name}.{os.getpid()}.staging")
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir(parents=True)
    return staging


def write_package(
    staging: Path,
    request: ReleaseRequest,
    registry: Registry,
    tables: dict[str, pl.DataFrame],
    dumps: dict[str, str],
    report: KReport,
) -> tuple[Path, Path]:
    """The plaintext folder and its zip inside ``staging``."""
    folder = staging / request.release_id
    (folder / "data").mkdir(parents=True)
    # Parquet in a second thread while the CSVs are written: pyarrow's zstd and polars' CSV
    # writer both release the GIL (10M-episode package: 16.4 -> 11.7 s; same bytes).
    with ThreadPoolExecutor(max_workers=1) as pool:
        parquet = [
            pool.submit(package.write_parquet, frame, folder / "data" / f"{name}.parquet")
            for name, frame in tables.items()
        ]
        for name, frame in tables.items():
            package.write_csv(frame, folder / "data" / f"{name}.csv")
        for written in parquet:
            written.result()
    indicators = load_indicators(registry.name, registry.folder)
    codebook, labels = codebook_frames(
        request, _variables_of(request, registry), tables,
        {i.id: i for i in (indicators.indicators if indicators else ())},
        set(report.quasi_identifiers),
    )  # fmt: skip
    package.write_csv(codebook, folder / "codebook.csv")
    package.write_csv(labels, folder / "value_labels.csv")
    persons = tables[base_form(registry)][PERSON].n_unique()
    package.write_text(
        folder / "k_anonymity.json", json.dumps(report.to_dict(), indent=2, sort_keys=True)
    )
    package.write_text(
        folder / "README.md",
        package_readme(request, registry, {n: f.height for n, f in tables.items()}, persons,
                       report, dumps),
    )  # fmt: skip
    package.write_manifest(
        folder,
        {
            "release": request.release_id,
            "request_id": request.request_id,
            "version": request.version,
            "project_id": request.project_id,
            "registry": registry.name,
            "request_sha256": request.sha256,
            "source_dumps": dumps,
        },
    )
    archive = staging / f"{request.release_id}.zip"
    package.write_zip(folder, archive)
    return folder, archive


def write_key_file(layout: Layout, request: ReleaseRequest, in_package: pl.DataFrame) -> Path:
    """pseudonym ↔ fnr (``in_package``: the persons in the package), for the trusted third
    party only: its own folder tree (0700) and files (0600), never inside the researcher's
    package."""
    target = layout.release_linkage / request.release_id
    staging = _stage(target)
    os.chmod(staging, 0o700)
    name = f"{request.release_id}-linkage"
    folder = staging / name
    folder.mkdir(mode=0o700)
    keys = in_package.sort(PERSON, "fnr")
    package.write_csv(keys, folder / "keyfile.csv")
    package.write_text(
        folder / "README.md",
        f"# Key file for {request.release_id}\n\n"
        f"For the trusted third party ({request.linkage_party}) only; never to the researcher.\n"
        f"`keyfile.csv` maps `{PERSON}` in the research package to the fødselsnummer (`fnr`), "
        f"{keys.height} rows.\n",
    )
    package.write_manifest(
        folder,
        {"release": request.release_id, "request_sha256": request.sha256,
         "party": request.linkage_party},
    )  # fmt: skip
    package.write_zip(folder, staging / f"{name}.zip")
    for path in staging.rglob("*"):
        os.chmod(path, 0o700 if path.is_dir() else 0o600)
    layout.release_linkage.mkdir(parents=True, exist_ok=True, mode=0o700)
    package.install(staging, target)
    return target / f"{name}.zip"


def _refuse_if_final(layout: Layout, request: ReleaseRequest) -> None:
    folder = release_dir(layout, request.release_id)
    if (folder / DELIVERED).exists():
        raise ReleaseRefused(
            f"{request.path}: release {request.release_id} was delivered and is never "
            "overwritten; bump 'version' for a new release"
        )
    record = folder / BUILD_RECORD
    if record.exists():
        built = json.loads(record.read_text(encoding="utf-8"))
        if built.get("request_sha256") != request.sha256:
            raise ReleaseRefused(
                f"{request.path}: release {request.release_id} was built from a different "
                "request file; a changed request needs a new 'version'"
            )


def _built_archive(target: Path) -> str | None:
    record = target / BUILD_RECORD
    if not record.exists():
        return None
    return json.loads(record.read_text(encoding="utf-8")).get("archive_sha256")


def _already_logged(log: ReleaseLog, release_id: str, archive_sha256: str) -> bool:
    return any(
        e.get("release") == release_id and e.get("archive_sha256") == archive_sha256
        for e in log.entries("release")
    )


def build_release(
    path: Path,
    layout: Layout,
    registries: dict[str, Registry],
    triggered_by: str | None = None,
    today: date | None = None,
) -> BuildResult:
    """Check the request, build the package (and key file), log it; idempotent per version."""
    request = load_request(path, registries, today)
    registry = registries[request.registry]
    _refuse_if_final(layout, request)
    master = master_secret(layout.secrets)
    with warehouse.connect(layout, read_only=True) as con:
        check_against_data(request, registry, con)
        tables = read_tables(request, registry, con, master)
    released, report = anonymise(tables, request, registry)
    target = release_dir(layout, request.release_id)
    staging = _stage(target)
    folder, archive = write_package(staging, request, registry, released, tables.dumps, report)
    archive_sha = package.sha256_file(archive)
    if _built_archive(target) not in (None, archive_sha):
        shutil.rmtree(staging)
        raise ReleaseRefused(
            f"{request.path}: release {request.release_id} was built from other data (a newer "
            "dump since); a version's package never changes, so give the request a new 'version'"
        )
    manifest = json.loads((folder / package.MANIFEST).read_text(encoding="utf-8"))
    rows = {name: frame.height for name, frame in released.items()}
    kept = released[base_form(registry)][PERSON].unique()
    record = {
        "release": request.release_id,
        "request_sha256": request.sha256,
        "archive_sha256": archive_sha,
        "rows": rows,
        "persons": kept.len(),
        "k_anonymity": report.to_dict(),
    }
    package.write_text(staging / BUILD_RECORD, json.dumps(record, indent=2, sort_keys=True))
    package.install(staging, target)
    result = BuildResult(
        release_id=request.release_id,
        package_dir=target / request.release_id,
        archive=target / archive.name,
        archive_sha256=archive_sha,
        rows=rows,
        persons=kept.len(),
        kanon=report,
        files=manifest["files"],
    )
    in_package = tables.fnr_by_person.filter(pl.col(PERSON).is_in(kept.implode()))
    log = ReleaseLog(layout.release_log, layout.secrets)
    # The key file is written while the log is appended: the log's entries do not depend on
    # it, and the append is Python holding the GIL while the key file's CSV, zip and hashes
    # release it. Both, for 2.9M persons, with the persons' filter shared: 12.7 -> 9.9-10.4 s.
    # A failed key file still fails the build; its re-run writes the key file and finds the
    # release logged.
    with ThreadPoolExecutor(max_workers=1) as pool:
        linkage = (
            pool.submit(write_key_file, layout, request, in_package)
            if request.wants_linkage
            else None
        )
        if not _already_logged(log, request.release_id, archive_sha):
            hashes = person_hashes(layout.secrets, registry.name, in_package["fnr"].unique())
            log.append(
                [
                    _release_entry(request, triggered_by, archive_sha, result, registry),
                    PersonEntries(request.release_id, hashes.sort()),
                ]
            )
            result.logged = True
        if linkage is not None:
            result.linkage_archive = linkage.result()
    return result


def _release_entry(
    request: ReleaseRequest,
    triggered_by: str | None,
    archive_sha: str,
    result: BuildResult,
    registry: Registry,
) -> dict[str, object]:
    return {
        "kind": "release",
        "release": request.release_id,
        "registry": registry.name,
        "project": {"id": request.project_id, "title": request.title},
        "recipient": {"organisation": request.organisation, "contact": request.contact_name},
        "approvals": {"rek": request.rek, "expires": request.expires.isoformat()},
        "legal_basis": request.legal_basis,
        "period": [request.period_from.isoformat(), request.period_to.isoformat()],
        "request_sha256": request.sha256,
        "archive_sha256": archive_sha,
        "triggered_by": triggered_by or getpass.getuser(),
        "variables": {f: list(v) for f, v in request.variables.items()},
        "derived": list(request.derived),
        "files": result.files,
        "rows": result.rows,
        "persons": result.persons,
        "linkage": request.linkage,
    }
