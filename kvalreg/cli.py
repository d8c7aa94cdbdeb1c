"""The ``kvalreg`` command: thin argument parsing over the platform's functions."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from kvalreg.paths import Layout
from kvalreg.registry import load_registries
from kvalreg.release.request import ReleaseRefused


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
        persons=args.persons,
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


def _release_check(args: argparse.Namespace) -> int:
    from kvalreg.release.build import check

    request = check(Path(args.file), Layout.from_env(), load_registries())
    print(f"{args.file}: OK, release {request.release_id} of project {request.project_id}")
    return 0


def _release_build(args: argparse.Namespace) -> int:
    from kvalreg.release.build import build_release

    result = build_release(Path(args.file), Layout.from_env(), load_registries())
    print(result.describe())
    return 0


def _release_submit(args: argparse.Namespace) -> int:
    from kvalreg.release.inbox import submit

    target = submit(Path(args.file), Layout.from_env(), load_registries())
    print(f"submitted {args.file} -> {target}")
    return 0


def _release_deliver(args: argparse.Namespace) -> int:
    from kvalreg.delivery.config import load_config
    from kvalreg.release.deliver import deliver_release, describe
    from kvalreg.release.request import load_request

    layout = Layout.from_env()
    request = load_request(Path(args.file), load_registries())
    outcome = deliver_release(layout, load_config(layout.delivery_config), request)
    print(describe(outcome))
    return 0


def _log_verify(args: argparse.Namespace) -> int:
    from kvalreg.release.log import ReleaseLog

    layout = Layout.from_env()
    verification = ReleaseLog(layout.release_log, layout.secrets).verify()
    print(verification.describe(layout.release_log))
    return 0 if verification.ok else 1


def _innsyn(args: argparse.Namespace) -> int:
    from kvalreg.release.innsyn import innsyn

    fnr = sys.stdin.readline() if args.fnr == "-" else args.fnr
    print(innsyn(fnr, Layout.from_env(), load_registries()).describe())
    return 0


def _deliver(args: argparse.Namespace) -> int:
    from kvalreg.delivery.config import load_config
    from kvalreg.delivery.deliver import DeliveryFailed, deliver
    from kvalreg.delivery.package import Item, items_in

    layout = Layout.from_env()
    items = []
    for spec in args.files:
        name, sep, path = spec.partition("=")
        if not sep and Path(spec).is_dir():  # a package directory: every file in it
            items.extend(items_in(Path(spec)))
        else:
            items.append(Item(name, Path(path)) if sep else Item(Path(spec).name, Path(spec)))
    try:
        result = deliver(
            layout,
            load_config(layout.delivery_config),
            args.recipient,
            args.label,
            items,
            force=args.force,
            reason=args.reason,
        )
    except DeliveryFailed as exc:
        print(f"kvalreg deliver: {exc} (a re-run resumes it)", file=sys.stderr)
        return 1
    rec = result.record
    print(f"{result.action}: {rec.delivery_id} to {rec.recipient} at {rec.remote_dir}")
    for f in rec.files:
        print(f"  {f['name']}  {f['bytes']} bytes  sha256 {f['sha256']}")
    return 0


def _deliveries(args: argparse.Namespace) -> int:
    from kvalreg.delivery.ledger import Ledger

    for rec in Ledger(Layout.from_env().deliveries).all():
        files = ", ".join(f["name"] for f in rec.files)
        print(
            f"{rec.status:<10} {rec.delivery_id}  {rec.recipient}  {rec.ended_at or '-'}  {files}"
        )
    return 0


def _receive(args: argparse.Namespace) -> int:
    from kvalreg.delivery.receive import RecipientKeys, verify_delivery

    keys = RecipientKeys(cert=Path(args.cert), key=Path(args.key), sender_ca=Path(args.ca))
    out = Path(args.out) if args.command == "decrypt" else None
    result = verify_delivery(Path(args.folder), keys, out)
    for name in result.files:
        print(f"ok  {name}" + (f" -> {out / name}" if out else ""))
    for problem in result.problems:
        print(f"BAD {problem}", file=sys.stderr)
    return 0 if result.ok else 1


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
    gen.add_argument(
        "--persons", type=int, help="distinct persons (default: the registry's episode mix)"
    )
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

    rel = sub.add_parser("release", help="research data releases (utlevering)")
    rel_sub = rel.add_subparsers(dest="release_command", required=True)
    rel_check = rel_sub.add_parser("check", help="validate a release request; builds nothing")
    rel_check.add_argument("file")
    rel_check.set_defaults(func=_release_check)
    rel_submit = rel_sub.add_parser(
        "submit", help="check a request against the codebook and drop it into releases/requests/"
    )
    rel_submit.add_argument("file")
    rel_submit.set_defaults(func=_release_submit)
    rel_build = rel_sub.add_parser(
        "build", help="check and build a release package now (the sensor does this too)"
    )
    rel_build.add_argument("file")
    rel_build.set_defaults(func=_release_build)
    rel_deliver = rel_sub.add_parser(
        "deliver",
        help="send a built release to the request's delivery.recipient (key file to the "
        "trusted third party), exactly once; then mark it delivered and log it",
    )
    rel_deliver.add_argument("file")
    rel_deliver.set_defaults(func=_release_deliver)

    log = sub.add_parser("log", help="the release log (utleveringslogg)")
    log_sub = log.add_subparsers(dest="log_command", required=True)
    log_verify = log_sub.add_parser("verify", help="detect edited or removed log entries")
    log_verify.set_defaults(func=_log_verify)

    ins = sub.add_parser(
        "innsyn", help="what the registries hold about a person and which releases had them"
    )
    ins.add_argument("fnr", help="the fødselsnummer, or - to read it from stdin (keeps it out "
                     "of the process list and shell history)")  # fmt: skip
    ins.set_defaults(func=_innsyn)
    dlv = sub.add_parser(
        "deliver", help="sign, encrypt and upload files to a configured recipient, exactly once"
    )
    dlv.add_argument("--recipient", required=True)
    dlv.add_argument("--label", required=True, help="names the delivery (e.g. release-2026-03)")
    dlv.add_argument("--force", action="store_true", help="re-send a completed delivery")
    dlv.add_argument("--reason", help="why a forced re-send is needed (logged; required)")
    dlv.add_argument(
        "files",
        nargs="+",
        help="FILE, NAME=FILE (NAME is what the recipient sees) or a DIRECTORY (all its files)",
    )
    dlv.set_defaults(func=_deliver)

    dls = sub.add_parser("deliveries", help="list the delivery ledger")
    dls.set_defaults(func=_deliveries)

    for cmd, text in (
        ("verify", "recipient: check a fetched delivery's signatures and SHA-256 sums"),
        ("decrypt", "recipient: verify a fetched delivery and write its plaintext files"),
    ):
        rcv = sub.add_parser(cmd, help=text)
        rcv.add_argument("folder", help="the fetched delivery directory (with MANIFEST.json.p7m)")
        rcv.add_argument("--cert", required=True, help="the recipient's certificate (PEM)")
        rcv.add_argument("--key", required=True, help="the recipient's private key (PEM)")
        rcv.add_argument(
            "--ca", required=True, help="CA certificate the sender's signature chains to"
        )
        if cmd == "decrypt":
            rcv.add_argument("--out", required=True, help="directory for the plaintext files")
        rcv.set_defaults(func=_receive)

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
    except (ValueError, OSError, ReleaseRefused) as exc:  # bad input: say what, not a trace
        print(f"kvalreg {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
