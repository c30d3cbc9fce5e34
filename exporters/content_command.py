"""``owl baseline show`` and ``owl baseline accept``: the home-page baselines of the exporter's
``content`` probe, in its storage folder.

``accept`` only records the operator's decision (``DIR/content/CLIENT.SITE.accepted.json``, see
:mod:`exporters.probes.content_state`); the running exporter reads it at the site's next run,
whose page becomes the baseline, and the site's ``owl_content_changed`` is 0 from then on. No
restart, and no file both write.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from owl.clock import utc_now


def register(subparsers):
    parser = subparsers.add_parser(
        "baseline", help="the home-page baselines of the owl exporter's content probe "
        "(defacement without a defacer's words)")
    commands = parser.add_subparsers(dest="baseline_command", required=True, metavar="COMMAND")
    show = commands.add_parser(
        "show", help="list the sites with a baseline, its date and the latest similarity",
        description="For each site with a baseline in DIR: when its baseline page was fetched, "
        "the latest run's similarity to it (title, text, structure, 0 to 1) and whether the page "
        "counts as replaced.")
    _storage_argument(show)
    show.set_defaults(handler=run_show)
    accept = commands.add_parser(
        "accept", help="take the site's next page as its new baseline, after a legitimate "
        "redesign",
        description="Record that the baseline of CLIENT/SITE is out of date: the exporter using "
        "DIR, running or not, takes the page of the site's next successful content run as the "
        "new baseline (within provider.probes.content, 15 minutes by default), which ends "
        "SiteContentReplaced.")
    accept.add_argument("site", metavar="CLIENT/SITE", help="the site, as client id/site id")
    _storage_argument(accept)
    accept.set_defaults(handler=run_accept)


def _storage_argument(parser):
    parser.add_argument("--storage.path", dest="storage_path", type=Path, required=True,
                        metavar="DIR", help="the storage folder of the exporter "
                        "(owl exporter --storage.path)")


def run_show(args) -> int:
    from exporters.probes.content_state import ContentStore

    store = ContentStore(args.storage_path)
    keys = store.site_keys()
    if not keys:
        print(f"no content baseline in {store.folder}: the exporter takes one at each site's "
              "first successful content run")
        return 0
    for key in keys:
        print(describe(key, store))
    return 0


def describe(key: str, store) -> str:
    """One line about a site: baseline date, latest similarity, pending acceptance."""
    content = store.load(key)
    if content is None:
        return f"{key}: baseline file unreadable (see the warning above); the next run replaces it"
    line = f"{key}: baseline {_when(content.baseline.time)} from {content.baseline.url}"
    if content.last is not None:
        similarity = ", ".join(f"{aspect} {value:.2f}"
                               for aspect, value in content.last.similarity.items())
        verdict = "REPLACED" if content.last.changed else "unchanged"
        line += f"; last run {_when(content.last.time)}: {similarity}, {verdict}"
    accepted = store.accepted_at(key)
    if accepted is not None and accepted > content.baseline.time:
        line += f"; new baseline accepted {_when(accepted)}, taken at the next run"
    return line


def run_accept(args) -> int:
    from exporters.probes.content_state import ContentStore

    store = ContentStore(args.storage_path)
    client, _, site = args.site.partition("/")
    if not client or not site or "/" in site or "." in args.site:
        print(f"owl baseline accept: {args.site!r} is not CLIENT/SITE (client id/site id)",
              file=sys.stderr)
        return 2
    if store.load(args.site) is None:
        known = ", ".join(store.site_keys()) or "none"
        print(f"owl baseline accept: site {args.site} has no baseline in {store.folder} (sites "
              f"with one: {known}); the exporter takes a site's baseline at its first "
              "successful content run", file=sys.stderr)
        return 1
    try:
        path = store.accept(args.site, utc_now().timestamp())
    except OSError as exc:
        print(f"owl baseline accept: {exc}", file=sys.stderr)
        return 1
    print(f"{path}: the next successful content run of {args.site} takes its page as the "
          "new baseline")
    return 0


def _when(timestamp: float) -> str:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
