"""``owl vulndb import``: add a public feed to the local vulnerability database;
``owl vulndb refresh``: fetch the public feeds and merge them all (when there is a network)."""

from __future__ import annotations

import sys
from pathlib import Path

from owl.clock import utc_now
from owl.files import write_atomically

FORMATS = ("wordfence", "friendsofphp", "cisa-kev")


def register(subparsers):
    parser = subparsers.add_parser(
        "vulndb", help="the local vulnerability database the vulnerability scans match against")
    commands = parser.add_subparsers(dest="vulndb_command", required=True, metavar="COMMAND")
    importer = commands.add_parser(
        "import", help="import a feed into the database (created if missing)",
        description="Read a Wordfence Intelligence feed (JSON) or FriendsOfPHP security "
        "advisories (a YAML file or a checkout of the repository), normalize the CMS "
        "advisories and merge them into DB: records with the same id are replaced. "
        "cisa-kev (CISA's Known Exploited Vulnerabilities JSON) adds no record: it marks the "
        "records it lists as known exploited.")
    importer.add_argument("--format", required=True, choices=FORMATS,
                          help="the feed's format: " + ", ".join(FORMATS))
    importer.add_argument("file", metavar="FILE", help="the feed file (or folder, friendsofphp)")
    importer.add_argument("--db", required=True, metavar="DB",
                          help="the database file (provider.probes.vulnerability_db)")
    importer.set_defaults(handler=run_import)
    refresher = commands.add_parser(
        "refresh", help="fetch the public feeds and merge them into the database (needs the "
        "network)",
        description="Download Wordfence Intelligence's feed, the FriendsOfPHP advisories and "
        "CISA's KEV catalog, and merge them into DB as `import` does. Nothing is written if a "
        "feed cannot be reached or read. The owl exporter does the same every "
        "provider.probes.data_refresh.")
    refresher.add_argument("--db", required=True, metavar="DB",
                           help="the database file (provider.probes.vulnerability_db)")
    refresher.add_argument("--feed", action="append", default=[], metavar="NAME=URL",
                           help="replace the address of a feed (wordfence, friendsofphp, "
                           "cisa-kev), for a mirror; may be repeated")
    refresher.add_argument("--wordfence.key-file", dest="wordfence_key_file", metavar="FILE",
                           help="the Wordfence Intelligence API key (default: "
                           "$OWL_WORDFENCE_API_KEY)")
    refresher.set_defaults(handler=run_refresh)


def run_refresh(args) -> int:
    from exporters.data_refresh import wordfence_key
    from exporters.upstream import RefreshError
    from exporters.vulndb.model import VulnDbError, dump_database, load_database
    from exporters.vulndb.refresh import FEEDS, refresh_database

    feeds = dict(FEEDS)
    for item in args.feed:
        name, _, url = item.partition("=")
        if name not in FEEDS or not url.startswith(("http://", "https://")):
            print(f"--feed {item!r}: expected NAME=URL with NAME one of {', '.join(FEEDS)}",
                  file=sys.stderr)
            return 2
        feeds[name] = url
    db_path = Path(args.db)
    try:
        current = load_database(db_path) if db_path.exists() else None
        new, lines = refresh_database(current, utc_now().replace(microsecond=0), feeds,
                                      wordfence_key(args.wordfence_key_file))
    except (VulnDbError, RefreshError, OSError) as exc:
        print(f"owl vulndb refresh: {exc}; nothing written", file=sys.stderr)
        return 1
    write_atomically(db_path, dump_database(new))
    print(f"{db_path}: {'; '.join(lines)}; {len(new.vulnerabilities)} in the database")
    return 0


def run_import(args) -> int:
    from exporters.vulndb.friendsofphp import read_friendsofphp
    from exporters.vulndb.kev import mark_exploited, read_kev
    from exporters.vulndb.model import (
        Database,
        VulnDbError,
        dump_database,
        load_database,
        merged,
    )
    from exporters.vulndb.wordfence import read_wordfence

    now = utc_now().replace(microsecond=0)
    db_path = Path(args.db)
    try:
        database = load_database(db_path) if db_path.exists() else Database(updated=now)
        if args.format == "cisa-kev":
            new, changed = mark_exploited(database, read_kev(args.file))
            write_atomically(db_path, dump_database(new.model_copy(update={"updated": now})))
            print(f"{db_path}: {changed} advisories marked known exploited")
            return 0
        read = {"wordfence": read_wordfence, "friendsofphp": read_friendsofphp}[args.format]
        records, notes = read(args.file)
    except VulnDbError as exc:
        print(f"owl vulndb import: {exc}", file=sys.stderr)
        return 1
    new = merged(database, records, now)
    write_atomically(db_path, dump_database(new))
    for note in notes[:20]:
        print(f"note: {note}", file=sys.stderr)
    print(f"{db_path}: {len(records)} advisories imported from {args.format}, "
          f"{len(new.vulnerabilities)} in the database")
    return 0
