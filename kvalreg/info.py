"""What an operator asks after a run: where is everything, and what happened to the dumps."""

from __future__ import annotations

from kvalreg import warehouse
from kvalreg.paths import Layout


def describe(layout: Layout) -> str:
    lines = [
        f"KVALREG_HOME  {layout.home}",
        f"  warehouse   {layout.warehouse}",
        f"  landing     {layout.landing}/<registry>/",
        f"  archive     {layout.archive}/<registry>/<form>/<dump id>/",
        f"  quarantine  {layout.quarantine}/<registry>/  (originals + .report.json/.report.txt)",
        f"  exports     {layout.exports}/  (imongr upload, indicator definitions, Parquet marts)",
        f"  metadata    {layout.metadata}/  (variable catalogue, lineage, DCAT-AP-NO, "
        "html/index.html, dbt-docs/)",
        f"  dagster     {layout.dagster_home}  (DAGSTER_HOME for `make ui`)",
        f"  releases    {layout.releases}/  (requests/, packages/<id>@v<N>/, linkage/, log/)",
    ]
    if not layout.warehouse.exists():
        return "\n".join([*lines, "no warehouse yet: nothing has been processed"])
    with warehouse.connect(layout, read_only=True) as con:
        has_meta = con.execute(
            "SELECT count(*) FROM information_schema.tables "
            "WHERE table_schema = 'meta' AND table_name = 'dumps'"
        ).fetchall()[0][0]
        if not has_meta:
            return "\n".join([*lines, "the warehouse holds no dumps yet"])
        dumps = con.execute(
            "SELECT registry, form, status, count(*), sum(rows) FROM meta.dumps "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
        failed = con.execute(
            "SELECT registry, count(*) FROM dq.results WHERE status = 'failed' "
            "GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    lines.append("dumps:")
    lines += [
        f"  {reg}/{form}: {n} {status}, {rows or 0} rows" for reg, form, status, n, rows in dumps
    ]
    lines.append("failed data-quality results (dq.results):")
    lines += [f"  {reg}: {n}" for reg, n in failed] or ["  none"]
    reports = sorted(layout.quarantine.glob("*/*.report.txt"))
    lines.append(f"quarantine reports: {len(reports)}")
    lines += [f"  {p}" for p in reports[-10:]]
    return "\n".join(lines)
