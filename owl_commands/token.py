"""``owl token add|list|revoke``: the bridge's operator and client tokens, made, listed and
revoked in its database; ``owl operator add|revoke`` and ``owl client-token add|revoke``, the
older spellings, stay as aliases.

A module of its own rather than more of ``owl_commands.bridge``: that one runs the bridge and
its schema, this one is the token lifecycle an operator manages, whichever bridge runs.
``create_token`` stays in ``owl_commands.bridge``, beside ``existing_database``, since ``owl up``
makes the demo operator's token with it.
"""

from __future__ import annotations

import json
import sys

from owl.state import add_database_options
from owl_commands.bridge import create_token, existing_database
from owl_commands.common import inventory_or_exit

FORMATS = ("table", "json")
COLUMNS = ("KIND", "NAME", "CLIENT", "PREFIX", "CREATED", "LAST USED", "REVOKED")


def register(subparsers) -> None:
    token = subparsers.add_parser("token", help="create, list and revoke the operator and "
                                  "client tokens of the bridge's database")
    actions = token.add_subparsers(dest="token_command", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="create a token; it is printed once, on stdout")
    who = add.add_mutually_exclusive_group(required=True)
    who.add_argument("--operator", metavar="NAME",
                     help="an operator token for NAME, who is recorded with their actions")
    who.add_argument("--client", metavar="ID",
                     help="a token that reads the data of the client ID, and only its own")
    add.add_argument("--inventory", metavar="FILE",
                     help="the inventory, in which --client's id must be (required with "
                          "--client)")
    add_database_options(add)
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="the tokens: kind, name, client, prefix, "
                                 "created, last used, revoked (never the tokens themselves)")
    listing.add_argument("--all", action="store_true", help="also the revoked tokens")
    listing.add_argument("--format", choices=FORMATS, default="table",
                         help="a table for people or JSON for scripts (default %(default)s)")
    add_database_options(listing)
    listing.set_defaults(handler=_list)

    revoke = actions.add_parser("revoke", help="revoke a token by its prefix, or every token of "
                                "an operator or client; the bridge refuses them from its next "
                                "request on")
    revoke.add_argument("prefix", nargs="?", metavar="PREFIX",
                        help="the start of the token's prefix as `owl token list` shows it "
                             "(owlo_Ab12...), or the whole token; it must match one token")
    revoke.add_argument("--operator", metavar="NAME", help="every valid token of operator NAME")
    revoke.add_argument("--client", metavar="ID", help="every valid read token of client ID")
    add_database_options(revoke)
    revoke.set_defaults(handler=_revoke)

    _register_aliases(subparsers)


def _register_aliases(subparsers) -> None:
    """The spellings the commands had before ``owl token``; scripts and docs use them."""
    operator = subparsers.add_parser("operator", help="operator tokens (older spelling of "
                                     "`owl token add|revoke --operator`)")
    actions = operator.add_subparsers(dest="operator_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create an operator token (printed once): "
                             "`owl token add --operator NAME`")
    add.add_argument("name", help="who the token is for, recorded with their actions")
    add_database_options(add)
    add.set_defaults(handler=lambda args: _add_operator(args, args.name))
    revoke = actions.add_parser("revoke", help="revoke every token of an operator: "
                                "`owl token revoke --operator NAME`")
    revoke.add_argument("name", help="the name the tokens were created for")
    add_database_options(revoke)
    revoke.set_defaults(handler=lambda args: _revoke_named(args, "operator", args.name))

    client = subparsers.add_parser("client-token", help="client read tokens (older spelling of "
                                   "`owl token add|revoke --client`)")
    actions = client.add_subparsers(dest="client_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="create a token that reads one client's data: "
                             "`owl token add --client ID`")
    add.add_argument("client", help="the client's id in the inventory")
    add.add_argument("--inventory", required=True, metavar="FILE", help="the inventory file")
    add_database_options(add)
    add.set_defaults(handler=lambda args: _add_client(args, args.client))
    revoke = actions.add_parser("revoke", help="revoke every read token of a client: "
                                "`owl token revoke --client ID`")
    revoke.add_argument("client", help="the client's id")
    add_database_options(revoke)
    revoke.set_defaults(handler=lambda args: _revoke_named(args, "client", args.client))


def _add(args) -> int:
    if args.operator is not None:
        return _add_operator(args, args.operator)
    if args.inventory is None:
        print("--client needs --inventory FILE, to check that the client exists",
              file=sys.stderr)
        return 2
    return _add_client(args, args.client)


def _add_operator(args, name: str) -> int:
    token = create_token(existing_database(args), "operator", name)
    print(token)
    print(f"operator {name!r}: token {_shown_prefix(token)} created; it is shown only this "
          "once.", file=sys.stderr)
    return 0


def _add_client(args, client: str) -> int:
    inventory = inventory_or_exit(args.inventory)
    if inventory.client(client) is None:
        print(f"unknown client {client!r} in {args.inventory}", file=sys.stderr)
        return 1
    token = create_token(existing_database(args), "client", f"client:{client}", client=client)
    print(token)
    print(f"client {client!r}: read token {_shown_prefix(token)} created; it is shown only "
          "this once.", file=sys.stderr)
    return 0


def _shown_prefix(token: str) -> str:
    from sla_bridge.auth import PREFIX_LENGTH

    return token[:PREFIX_LENGTH] + "…"


def _list(args) -> int:
    from sla_bridge.auth import TokenStore

    tokens = TokenStore(existing_database(args), None).list_tokens(include_revoked=args.all)
    if args.format == "json":
        print(json.dumps([_as_json(info) for info in tokens], indent=2))
        return 0
    if not tokens:
        print("no tokens" if args.all else "no valid tokens (--all shows the revoked ones)",
              file=sys.stderr)
        return 0
    rows = [COLUMNS, *(_as_row(info) for info in tokens)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
    return 0


def _as_json(info) -> dict:
    from sla_bridge.timefmt import rfc3339

    return {"kind": info.kind, "name": info.name, "client": info.client, "prefix": info.prefix,
            "created_at": rfc3339(info.created_at), "last_used_at": rfc3339(info.last_used_at),
            "revoked_at": rfc3339(info.revoked_at)}


def _as_row(info) -> tuple[str, ...]:
    def when(value):
        return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"

    return (info.kind, info.name, info.client or "-",
            f"{info.prefix}…" if info.prefix else "(not kept)", when(info.created_at),
            when(info.last_used_at) if info.last_used_at else "never",
            when(info.revoked_at))


def _revoke(args) -> int:
    given = [value for value in (args.prefix, args.operator, args.client) if value is not None]
    if len(given) != 1:
        print("give one of PREFIX, --operator NAME or --client ID", file=sys.stderr)
        return 2
    if args.operator is not None:
        return _revoke_named(args, "operator", args.operator)
    if args.client is not None:
        return _revoke_named(args, "client", args.client)
    return _revoke_prefix(args, args.prefix.removesuffix("…").removesuffix("..."))


def _revoke_named(args, kind: str, name: str) -> int:
    from sla_bridge.auth import TokenStore

    stored = f"client:{name}" if kind == "client" else name
    revoked = TokenStore(existing_database(args), None).revoke(kind, stored)
    if revoked == 0:
        print(f"no valid {kind} token named {stored!r}", file=sys.stderr)
        return 1
    print(f"{kind} {stored!r}: {revoked} token(s) revoked; the bridge refuses them from its "
          "next request on", file=sys.stderr)
    return 0


def _revoke_prefix(args, given: str) -> int:
    from sla_bridge.auth import AmbiguousToken, TokenNotFound, TokenStore

    try:
        info = TokenStore(existing_database(args), None).revoke_one(given)
    except AmbiguousToken as exc:
        print(f"{exc}; nothing revoked:", file=sys.stderr)
        for match in exc.matches:
            print(f"  {match.prefix}…  {match.kind} {match.name!r}", file=sys.stderr)
        return 1
    except TokenNotFound as exc:
        print(f"{exc}; nothing revoked (`owl token list` shows the valid tokens; those made "
              "before prefixes were kept show none: revoke them by --operator or --client)",
              file=sys.stderr)
        return 1
    shown = f"{info.prefix}…" if info.prefix else "(no prefix kept)"
    print(f"{info.kind} {info.name!r}: token {shown} revoked; the bridge refuses it from its "
          "next request on", file=sys.stderr)
    return 0
