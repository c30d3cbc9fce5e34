"""``owl catalogue refresh``: rebuild the CMS catalogue from the upstream APIs."""

from __future__ import annotations

import sys
from pathlib import Path

from owl.clock import utc_now
from owl.files import write_atomically


def register(subparsers):
    parser = subparsers.add_parser(
        "catalogue", help="the local catalogue of CMS releases (latest and supported versions)")
    commands = parser.add_subparsers(dest="catalogue_command", required=True, metavar="COMMAND")
    refresh = commands.add_parser(
        "refresh", help="rebuild the catalogue from the upstream APIs (needs the network)",
        description="Fetch the latest releases and supported branches of WordPress, Drupal, "
        "Joomla, PrestaShop and Magento (and the plugins and themes the catalogue lists) and "
        "write a new catalogue. Nothing is written if an upstream cannot be reached.")
    refresh.add_argument("--from", dest="source", metavar="FILE",
                         help="the catalogue to start from (default: the shipped one)")
    refresh.add_argument("--out", metavar="FILE",
                         help="where to write (default: the shipped catalogue, in place); point "
                         "provider.probes.cms_catalogue of the inventory at it")
    refresh.add_argument("--upstream", action="append", default=[], metavar="NAME=URL",
                         help="replace the base URL of an upstream (wordpress, drupal, joomla, "
                         "github), for a mirror; may be repeated")
    refresh.set_defaults(handler=run_refresh)


def run_refresh(args) -> int:
    from exporters.catalogue.model import (
        CatalogueError,
        dump_catalogue,
        load_catalogue,
        shipped_catalogue_path,
    )
    from exporters.catalogue.refresh import UPSTREAMS, RefreshError, refresh

    upstreams = {}
    for item in args.upstream:
        name, _, url = item.partition("=")
        if name not in UPSTREAMS or not url.startswith(("http://", "https://")):
            print(f"--upstream {item!r}: expected NAME=URL with NAME one of "
                  f"{', '.join(UPSTREAMS)}", file=sys.stderr)
            return 2
        upstreams[name] = url
    source = Path(args.source) if args.source else shipped_catalogue_path()
    out = Path(args.out) if args.out else shipped_catalogue_path()
    try:
        current = load_catalogue(source)
        new = refresh(current, utc_now().date(), upstreams)
    except (CatalogueError, RefreshError) as exc:
        print(f"owl catalogue refresh: {exc}; nothing written", file=sys.stderr)
        return 1
    write_atomically(out, dump_catalogue(new))
    count = sum(len(core.branches) for core in new.cores.values())
    print(f"{out}: {len(new.cores)} CMS, {count} branches, dated {new.date.isoformat()}")
    return 0
