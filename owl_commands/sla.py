"""``owl ledger`` and ``owl sla export-events | replay``: the month's penalties, and disputes."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path

from owl.clock import utc_now
from owl.state import add_database_options
from owl_commands.common import inventory_or_exit
from sla_bridge.engine.ledger import MONTH


def month_argument(value: str) -> str:
    if not MONTH.match(value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month as YYYY-MM")
    return value


def register(subparsers) -> None:
    ledger = subparsers.add_parser("ledger", help="print the penalty ledger of a month")
    ledger.add_argument("--month", required=True, type=month_argument, help="YYYY-MM")
    ledger.add_argument("--client", help="one client (default: every client with an SLA)")
    _inventory_flag(ledger)
    add_database_options(ledger)
    ledger.add_argument("--format", choices=("text", "json", "csv"), default="text",
                        help="text for reading, json or csv for tools (default: %(default)s)")
    ledger.set_defaults(handler=_ledger)

    sla = subparsers.add_parser("sla", help="event history: export and replay")
    commands = sla.add_subparsers(dest="sla_command", required=True, metavar="ACTION")
    export = commands.add_parser("export-events", help="write the event history as JSON lines")
    add_database_options(export)
    export.add_argument("--out", help="file to write (default: standard output)")
    export.set_defaults(handler=_export)
    replay = commands.add_parser("replay", help="recompute incidents and ledgers from events")
    _inventory_flag(replay)
    replay.add_argument("--events", required=True, help="a file written by export-events")
    replay.add_argument("--month", required=True, type=month_argument, help="YYYY-MM")
    replay.add_argument("--client", help="one client (default: every client with an SLA)")
    replay.set_defaults(handler=_replay)


def _inventory_flag(parser) -> None:
    parser.add_argument("--inventory", required=True, metavar="FILE",
                        help="the inventory file (the contracts the ledgers apply)")


def _clients(service, client: str | None) -> list[str]:
    if client is not None:
        if client not in service.terms:
            print(f"unknown client {client!r}", file=sys.stderr)
            raise SystemExit(1)
        return [client]
    return sorted(c for c, terms in service.terms.items() if terms.tier > 0)


def print_ledgers(service, clients: list[str], month: str, output: str) -> None:
    from sla_bridge.ledger_format import ledger_csv, ledger_json

    ledgers = service.ledgers(clients, month)
    if output == "json":
        print(json.dumps([ledger_json(ledger) for ledger in ledgers], indent=2))
    elif output == "csv":
        for index, ledger in enumerate(ledgers):
            text = ledger_csv(ledger)
            sys.stdout.write(text if index == 0 else text.split("\n", 1)[1])
    else:
        for ledger in ledgers:
            print(_ledger_text(ledger))


def _ledger_text(ledger) -> str:
    rows = [f"{ledger.client} {ledger.month}: monthly fee {ledger.monthly_fee} "
            f"{ledger.currency}, cap {ledger.cap_rate}"]
    for line in ledger.lines:
        what = (f"incident {line.incident_id} {line.severity} started "
                f"{line.started_at:%Y-%m-%d %H:%M}Z" if line.kind == "breach"
                else line.kind.replace("_", " "))
        rows.append(f"  {what:<48} {line.rate:>8} {line.amount:>10}")
    rows.append(f"  {'total (rate before cap ' + str(ledger.rate_total) + ')':<48} "
                f"{ledger.applied_rate:>8} {ledger.total:>10}")
    return "\n".join(rows)


def _ledger(args) -> int:
    from owl_commands.bridge import existing_database
    from sla_bridge.contract_terms import terms_from_inventory
    from sla_bridge.service import SlaService

    inventory = inventory_or_exit(args.inventory)
    only = None if args.client is None else {args.client}
    service = SlaService(existing_database(args), terms_from_inventory(inventory, only=only),
                         utc_now)
    print_ledgers(service, _clients(service, args.client), args.month, args.format)
    return 0


def _export(args) -> int:
    from owl_commands.bridge import existing_database
    from sla_bridge.replay import export_events

    lines = export_events(existing_database(args), utc_now())
    out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout
    try:
        for line in lines:
            out.write(line + "\n")
    finally:
        if args.out:
            out.close()
    return 0


def _replay(args) -> int:
    from sla_bridge.ledger_format import ledger_json
    from sla_bridge.replay import ReplayError, replay
    from sla_bridge.serialize import incident_json
    from sla_bridge.timefmt import rfc3339

    inventory = inventory_or_exit(args.inventory)
    try:
        with open(args.events, encoding="utf-8") as events:
            result = replay(inventory, events, source=str(Path(args.events)))
    except (OSError, ReplayError) as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        clients = set(_clients(result.service, args.client))
        incidents = (incident_json(i) for i in result.incidents(args.month)
                     if i.client in clients)
        ledgers = (ledger_json(ledger)
                   for ledger in result.service.ledgers(sorted(clients), args.month))
        write_json_streamed(sys.stdout, {"month": args.month, "as_of": rfc3339(result.as_of)},
                            {"incidents": incidents, "ledgers": ledgers})
    finally:
        result.close()
    return 0


def write_json_streamed(out, head: dict, lists: dict) -> None:
    """``json.dumps({**head, **lists}, indent=2)`` and a newline, as print would write it, with
    the lists written item by item (a replay's month holds hundreds of thousands of
    incidents: the document is never built whole)."""
    out.write(json.dumps(head, indent=2)[:-2])
    for name, items in lists.items():
        out.write(f",\n  {json.dumps(name)}: [")
        separator = "\n"
        for item in items:
            out.write(separator + textwrap.indent(json.dumps(item, indent=2), "    "))
            separator = ",\n"
        out.write("]" if separator == "\n" else "\n  ]")
    out.write("\n}\n")
