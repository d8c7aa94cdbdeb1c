"""The ``kvalreg`` command: thin argument parsing over the platform's functions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kvalreg.paths import Layout
from kvalreg.registry import load_registries


def _generate(args: argparse.Namespace) -> int:
    from kvalreg.generate import generate

    registries = load_registries()
    if args.registry not in registries:
        known = ", ".join(sorted(registries))
        print(
            f"kvalreg generate: unknown registry {args.registry!r}; known: {known}", file=sys.stderr
        )
        return 2
    summary = generate(
        registries[args.registry],
        Path(args.out),
        rows=args.rows,
        seed=args.seed,
        defects=args.defects,
    )
    print(summary.describe())
    return 0


def _process(args: argparse.Namespace) -> int:
    from orchestration.process import process_once

    summary = process_once(Layout.from_env())
    print(summary.describe())
    return 0 if summary.ok else 1


def _drop(args: argparse.Namespace) -> int:
    from kvalreg.drop import drop

    layout = Layout.from_env()
    for d in drop([Path(f) for f in args.files], layout, load_registries()):
        if d.target is None:
            print(f"skipped {d.source}: no registry's file-name pattern matches")
        else:
            print(f"dropped {d.source.name} -> {d.target}")
    return 0


def _info(args: argparse.Namespace) -> int:
    from kvalreg.info import describe

    print(describe(Layout.from_env()))
    return 0


def _metadata(args: argparse.Namespace) -> int:
    from kvalreg.metadata.build import write_metadata
    from kvalreg.metadata.dbt_docs import DbtDocsError

    try:
        summary = write_metadata(Layout.from_env(), with_dbt_docs=not args.no_dbt_docs)
    except DbtDocsError as exc:
        print(f"kvalreg metadata: {exc}", file=sys.stderr)
        return 2
    print(summary.describe())
    return 0 if summary.conforms else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="kvalreg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    gen = sub.add_parser("generate", help="write a synthetic registry dump (Tenor fnr only)")
    gen.add_argument("--registry", required=True)
    gen.add_argument("--out", required=True, help="directory to write the dump files into")
    gen.add_argument("--rows", type=int, default=10_000, help="base-form registrations")
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--defects", action="store_true", help="plant known defects + ground truth")
    gen.set_defaults(func=_generate)

    drp = sub.add_parser(
        "drop", help="copy export files atomically into landing/<registry>/, routed by file name"
    )
    drp.add_argument("files", nargs="+")
    drp.set_defaults(func=_drop)

    proc = sub.add_parser(
        "process", help="evaluate the sensors once and run everything they request, synchronously"
    )
    proc.set_defaults(func=_process)

    info = sub.add_parser("info", help="where the warehouse, archive, quarantine and reports are")
    info.set_defaults(func=_info)

    meta = sub.add_parser(
        "metadata",
        help="write the variable catalogue, lineage, DCAT-AP-NO, HTML and dbt docs "
        "under KVALREG_HOME/metadata",
    )
    meta.add_argument(
        "--no-dbt-docs",
        action="store_true",
        help="skip `dbt docs generate`; reuse the last generated docs for the model lineage",
    )
    meta.set_defaults(func=_metadata)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, OSError) as exc:  # bad configuration or input: say what, not a trace
        print(f"kvalreg {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
