"""``owl bridge`` and the bridge's administration commands."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import NoReturn

from owl.state import add_database_options, database_url
from owl_commands.common import inventory_or_exit


def register(subparsers) -> None:
    bridge = subparsers.add_parser("bridge", help="run the SLA bridge (webhook receiver, API); "
                                   "it creates its database if missing")
    _inventory_flag(bridge)
    add_database_options(bridge)
    bridge.add_argument("--web.listen-address", dest="listen", default="127.0.0.1:9180",
                        help="HOST:PORT to listen on (default %(default)s)")
    bridge.add_argument("--webhook.token-file", dest="webhook_token_file",
                        help="file holding Alertmanager's bearer token "
                             "(OWL_WEBHOOK_TOKEN in the environment wins)")
    bridge.add_argument("--scrape.token-file", dest="scrape_token_file",
                        help="file holding the bearer token /metrics requires of Prometheus "
                             "(OWL_SCRAPE_TOKEN in the environment wins); without one, /metrics "
                             "refuses every scrape")
    bridge.add_argument("--web.secret-file", dest="web_secret_file",
                        help="file holding the key that signs the pages' CSRF cookie "
                             "(OWL_WEB_SECRET in the environment wins); the same on every "
                             "replica. Without one, a random key: forms open across a restart "
                             "must be reloaded")
    bridge.add_argument("--web.session-lifetime", dest="session_lifetime", type=_lifetime,
                        default="12h", metavar="DURATION",
                        help="how long a sign-in to the pages lasts (default %(default)s)")
    bridge.add_argument("--web.remember-lifetime", dest="remember_lifetime", type=_lifetime,
                        default="30d", metavar="DURATION",
                        help="how long it lasts on a device the user asks to remember "
                             "(default %(default)s)")
    bridge.add_argument("--web.secure-cookies", dest="secure_cookies", action="store_true",
                        default=None,
                        help="mark the pages' cookies Secure even when the request seems plain "
                             "HTTP (a TLS proxy in front); by default they are Secure over "
                             "HTTPS and when provider.stack.console_url is https://")
    bridge.add_argument("--web.threads", dest="threads", type=int, default=16,
                        help="WSGI worker threads (default %(default)s)")
    bridge.add_argument("--alertmanager.url", dest="alertmanager_url",
                        help="Alertmanager's URL, for maintenance silences (default: http:// "
                             "and the inventory's provider.stack.alertmanager)")
    bridge.add_argument("--prometheus.url", dest="prometheus_url",
                        help="Prometheus' URL, for the monthly reports' figures (default: "
                             "the inventory's provider.stack.long_term_store.query_url, else "
                             "http:// and its provider.stack.prometheus)")
    bridge.add_argument("--storage.wait-timeout", dest="storage_wait", type=_wait_timeout,
                        default="5m", metavar="DURATION",
                        help="how long to wait for a database server that does not answer at "
                             "start, retrying, such as 30s or 5m; 0 fails at once "
                             "(default %(default)s)")
    bridge.set_defaults(handler=_run_bridge)

    db = subparsers.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    upgrade = db_commands.add_parser("upgrade", help="apply pending schema migrations (creates "
                                     "the database if missing)")
    add_database_options(upgrade)
    upgrade.set_defaults(handler=_upgrade)


def _inventory_flag(parser) -> None:
    parser.add_argument("--inventory", required=True, metavar="FILE", help="the inventory file")


def _wait_timeout(text: str) -> float:
    """Seconds of a ``--storage.wait-timeout`` such as ``5m``; ``0`` for none."""
    from owl.inventory.fields import parse_duration

    if text == "0":
        return 0.0
    try:
        return parse_duration(text).total_seconds()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a duration such as 30s, 5m or "
                                         "0") from None


def _fail(message: str) -> NoReturn:
    print(message, file=sys.stderr)
    raise SystemExit(1)


def _sqlite_file(url: str) -> Path | None:
    """The file of an SQLite URL; None for PostgreSQL. Exit status 1 for another URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.get_backend_name() not in ("sqlite", "postgresql"):
        _fail(f"--database {url!r} is not a database URL such as sqlite:///PATH or "
              "postgresql://USER@HOST/NAME")
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def existing_database(args):
    """The database of ``args`` for a command that reads it or adds to it; its reason and exit
    status 1 when it does not exist (it is not created), cannot be read, or its schema is
    behind."""
    from sqlalchemy.exc import DBAPIError

    from sla_bridge.storage.database import Database

    url = database_url(args)
    path = _sqlite_file(url)
    if path is not None and not path.exists():
        _fail(f"no database at {path}: `owl up` creates one in its state folder, or create "
              f"it with `owl db upgrade --database {url}`")
    db = Database(url)
    try:
        current = db.is_current()
    except DBAPIError as exc:  # unreachable server, not a database file...
        _fail(f"cannot read the database {db.engine.url!r}: {str(exc.orig).strip()}")
    if not current:
        _fail(f"the database schema is not current: run `owl db upgrade --database {url}`")
    return db


def _creatable_database_url(args) -> str:
    """The database URL of ``args``, for a command that creates the database if missing: the
    folder of an SQLite file is created now."""
    url = database_url(args)
    path = _sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    return url


def _lifetime(text: str):
    """A session lifetime such as ``12h`` or ``30d``: at least a minute."""
    import datetime as dt

    from owl.inventory.fields import parse_duration

    try:
        value = parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if value < dt.timedelta(minutes=1):
        raise argparse.ArgumentTypeError(f"{text!r}: a session lasts at least 1m")
    return value


def _run_bridge(args) -> int:
    from sla_bridge.app import BridgeConfig
    from sla_bridge.auth import SCRAPE, WEB, read_secret, read_webhook_token
    from sla_bridge.web import WebConfig
    from sla_bridge.web.sessions import Lifetimes
    from sla_bridge.notify import read_smtp_password
    from sla_bridge.server import ListenError, serve
    from sla_bridge.storage.database import DatabaseUnreachable

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    inventory = inventory_or_exit(args.inventory)
    try:
        token = read_webhook_token(args.webhook_token_file)
    except (OSError, ValueError) as exc:
        print(f"cannot read the webhook token: {exc}", file=sys.stderr)
        return 1
    if token is None:
        print("no webhook token: set OWL_WEBHOOK_TOKEN or pass --webhook.token-file",
              file=sys.stderr)
        return 1
    try:
        scrape_token = read_secret(SCRAPE, args.scrape_token_file)
    except (OSError, ValueError) as exc:
        print(f"cannot read the scrape token: {exc}", file=sys.stderr)
        return 1
    try:
        web_secret = read_secret(WEB, args.web_secret_file)
    except (OSError, ValueError) as exc:
        print(f"cannot read the web secret: {exc}", file=sys.stderr)
        return 1
    web = WebConfig(secret_key=web_secret,
                    lifetimes=Lifetimes(args.session_lifetime, args.remember_lifetime),
                    secure_cookies=args.secure_cookies)
    smtp = inventory.provider.smtp
    try:
        smtp_password = read_smtp_password(smtp)
    except (OSError, ValueError) as exc:
        print(f"cannot read the SMTP password: {exc}", file=sys.stderr)
        return 1
    if smtp.username and smtp_password is None:
        print("provider.smtp.username is set but there is no password: set OWL_SMTP_PASSWORD "
              "or provider.smtp.password_file", file=sys.stderr)
        return 1
    try:
        serve(BridgeConfig(_creatable_database_url(args), inventory, token,
                           alertmanager_url=args.alertmanager_url,
                           prometheus_url=args.prometheus_url, smtp_password=smtp_password,
                           storage_wait_seconds=args.storage_wait, scrape_token=scrape_token,
                           web=web),
              args.listen, threads=args.threads)
    except DatabaseUnreachable as exc:
        print(f"{exc}; the bridge is not started (--storage.wait-timeout sets how long it "
              "waits)", file=sys.stderr)
        return 1
    except ListenError as exc:
        print(f"{exc}; the bridge is not started", file=sys.stderr)
        return 1
    return 0


def create_token(db, kind: str, name: str, client: str | None = None) -> str:
    """A new token of ``kind`` (operator or client) in ``db``, returned in clear this once."""
    from sla_bridge.auth import TokenStore

    return TokenStore(db, None).add(kind, name, client=client)


def _upgrade(args) -> int:
    from sla_bridge.storage.database import Database

    url = _creatable_database_url(args)
    Database(url).upgrade()
    print("database schema is current")
    return 0
