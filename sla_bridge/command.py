"""``owl bridge`` and the bridge's administration commands."""

from __future__ import annotations

import logging
import sys

from owl.cli import inventory_or_exit

DEFAULT_DATABASE = "sqlite:///owl-bridge.db"


def register(subparsers) -> None:
    bridge = subparsers.add_parser("bridge", help="run the SLA bridge (webhook receiver, API)")
    _inventory_flag(bridge)
    _database_flag(bridge)
    bridge.add_argument("--web.listen-address", dest="listen", default="127.0.0.1:9180",
                        help="HOST:PORT to listen on (default %(default)s)")
    bridge.add_argument("--webhook.token-file", dest="webhook_token_file",
                        help="file holding Alertmanager's bearer token "
                             "(OWL_WEBHOOK_TOKEN in the environment wins)")
    bridge.add_argument("--web.threads", dest="threads", type=int, default=16,
                        help="WSGI worker threads (default %(default)s)")
    bridge.add_argument("--alertmanager.url", dest="alertmanager_url",
                        help="Alertmanager's URL, for maintenance silences (default: http:// "
                             "and the inventory's provider.stack.alertmanager)")
    bridge.set_defaults(handler=_run_bridge)

    operator = subparsers.add_parser("operator", help="manage operator tokens")
    operator_commands = operator.add_subparsers(dest="operator_command", required=True)
    add = operator_commands.add_parser("add", help="create an operator token (printed once)")
    add.add_argument("name")
    _database_flag(add)
    add.set_defaults(handler=_add_operator)

    client_token = subparsers.add_parser("client-token", help="manage client read tokens")
    client_commands = client_token.add_subparsers(dest="client_command", required=True)
    add = client_commands.add_parser("add", help="create a token that reads one client's data")
    add.add_argument("client")
    _inventory_flag(add)
    _database_flag(add)
    add.set_defaults(handler=_add_client_token)

    db = subparsers.add_parser("db", help="database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="apply pending schema migrations")
    _database_flag(upgrade)
    upgrade.set_defaults(handler=_upgrade)


def _inventory_flag(parser) -> None:
    parser.add_argument("--inventory", required=True, help="inventory YAML file")


def _database_flag(parser) -> None:
    parser.add_argument("--database", default=DEFAULT_DATABASE,
                        help="SQLAlchemy URL: sqlite:///PATH or postgresql://... "
                             "(default %(default)s)")


def _run_bridge(args) -> int:
    from sla_bridge.app import BridgeConfig
    from sla_bridge.auth import read_webhook_token
    from sla_bridge.notify import read_smtp_password
    from sla_bridge.server import serve

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
    serve(BridgeConfig(args.database, inventory, token, alertmanager_url=args.alertmanager_url,
                       smtp_password=smtp_password), args.listen, threads=args.threads)
    return 0


def _tokens(database: str):
    from sla_bridge.auth import TokenStore
    from sla_bridge.storage.database import Database

    db = Database(database)
    db.upgrade()
    return TokenStore(db, None)


def _add_operator(args) -> int:
    token = _tokens(args.database).add("operator", args.name)
    print(token)
    print(f"operator {args.name!r}: token created; it is shown only this once.",
          file=sys.stderr)
    return 0


def _add_client_token(args) -> int:
    inventory = inventory_or_exit(args.inventory)
    if inventory.client(args.client) is None:
        print(f"unknown client {args.client!r} in {args.inventory}", file=sys.stderr)
        return 1
    token = _tokens(args.database).add("client", f"client:{args.client}", client=args.client)
    print(token)
    print(f"client {args.client!r}: read token created; it is shown only this once.",
          file=sys.stderr)
    return 0


def _upgrade(args) -> int:
    from sla_bridge.storage.database import Database

    Database(args.database).upgrade()
    print("database schema is current")
    return 0
