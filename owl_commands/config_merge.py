"""The ``owl config merge`` subcommand: the parts ``owl config render --profile external`` wrote,
merged into a provider's own prometheus.yml and alertmanager.yml (owl.render.merge)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from owl.files import write_atomically
from owl.render.external import ALERTMANAGER_PARTS, PROMETHEUS_PARTS
from owl.render.merge import Merged, merge_alertmanager, merge_prometheus

MERGES = (("prometheus_config", "prometheus.yml", PROMETHEUS_PARTS, merge_prometheus),
          ("alertmanager_config", "alertmanager.yml", ALERTMANAGER_PARTS, merge_alertmanager))


def register(actions) -> None:
    """``merge``, an action of ``owl config`` (``actions``: its subparsers)."""
    parser = actions.add_parser(
        "merge", help="merge the parts rendered with --profile external into your own "
        "prometheus.yml and alertmanager.yml (docs/external-stack.md)")
    parser.add_argument("--rendered", required=True, metavar="DIR", type=Path,
                        help="the folder `owl config render --profile external` wrote")
    parser.add_argument("--prometheus.config", dest="prometheus_config", metavar="FILE",
                        type=Path, help="your prometheus.yml")
    parser.add_argument("--alertmanager.config", dest="alertmanager_config", metavar="FILE",
                        type=Path, help="your alertmanager.yml")
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--out", metavar="DIR", type=Path,
                       help="write the merged prometheus.yml and alertmanager.yml there")
    where.add_argument("--replace", action="store_true",
                       help="replace the files given, each kept as FILE.orig when it changes")
    parser.set_defaults(handler=run_merge)


def run_merge(args) -> int:
    chosen = [(getattr(args, flag), output, parts, merge)
              for flag, output, parts, merge in MERGES if getattr(args, flag)]
    if not chosen:
        return _fail("give --prometheus.config FILE, --alertmanager.config FILE or both")
    results, problems = [], []
    for theirs, output, parts, merge in chosen:
        try:
            texts = _read_parts(args.rendered, parts.values())
            current = theirs.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"cannot read {getattr(exc, 'filename', None) or theirs}: {exc}")
            continue
        merged: Merged = merge(current, str(theirs), texts)
        problems.extend(merged.problems)
        results.append((theirs, output, current, merged.text))
    if problems:
        for problem in problems:
            print(problem, file=sys.stderr)
        return _fail(f"{len(problems)} problem(s) found")
    try:
        for theirs, output, current, text in results:
            _write(args, theirs, output, current, text)
    except OSError as exc:
        print(f"owl config merge: {exc}", file=sys.stderr)
        return 1
    return 0


def _read_parts(rendered: Path, paths) -> dict[str, str]:
    """The rendered parts that exist (a missing one is the merge's problem to name)."""
    return {path: (rendered / path).read_text(encoding="utf-8") for path in paths
            if (rendered / path).is_file()}


def _write(args, theirs: Path, output: str, current: str, text: str) -> None:
    if args.out is not None:
        target = args.out / output
        write_atomically(target, text)
        print(f"merged {theirs} with owl-monitoring's parts into {target}")
        return
    if text == current:
        print(f"{theirs}: already merged, unchanged")
        return
    before = theirs.stat()
    original = theirs.with_name(theirs.name + ".orig")
    for path, content in ((original, current), (theirs, text)):
        write_atomically(path, content, before.st_mode & 0o777)
        _keep_owner(path, before)
    print(f"merged owl-monitoring's parts into {theirs} (as it was: {original})")


def _keep_owner(path: Path, before: os.stat_result) -> None:
    """The owner and group the file had: a new file is the writer's, and their Prometheus or
    Alertmanager may read it through its group."""
    if (path.stat().st_uid, path.stat().st_gid) == (before.st_uid, before.st_gid):
        return
    try:
        os.chown(path, before.st_uid, before.st_gid)
    except PermissionError:
        print(f"owl config merge: {path} now belongs to this user, not to its owner and group "
              f"before (uid {before.st_uid}, gid {before.st_gid}): check that what reads it "
              "still can", file=sys.stderr)


def _fail(message: str) -> int:
    print(f"owl config merge: {message}; nothing written", file=sys.stderr)
    return 1

