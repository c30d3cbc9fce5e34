"""``owl report``: one client's monthly report, as PDF or HTML, from the bridge's database and
Prometheus. It produces the report afresh and stores nothing: the reports the bridge stores and
emails each month are read with ``GET /api/v1/reports``."""

from __future__ import annotations

import sys
from pathlib import Path

from owl.clock import utc_now
from owl.state import add_database_options
from owl_commands.common import inventory_or_exit
from owl_commands.sla import month_argument

FORMATS = ("pdf", "html")


def register(subparsers) -> None:
    report = subparsers.add_parser("report", help="write a client's monthly report (PDF, HTML)")
    report.add_argument("--client", required=True, help="the client's id")
    report.add_argument("--month", required=True, type=month_argument, help="YYYY-MM")
    report.add_argument("--inventory", required=True, metavar="FILE",
                        help="the inventory file (the contracts the report applies)")
    add_database_options(report)
    report.add_argument("--prometheus", metavar="URL",
                        help="Prometheus' address (default: the inventory's "
                        "provider.stack.long_term_store.query_url, else http:// + its "
                        "provider.stack.prometheus)")
    report.add_argument("--format", choices=FORMATS, default="pdf",
                        help="(default: %(default)s)")
    report.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    report.set_defaults(handler=_report)


def _report(args) -> int:
    from owl.files import write_atomically
    from owl_commands.bridge import existing_database
    from sla_bridge.contract_terms import terms_from_inventory
    from sla_bridge.reports.build import ReportSources, build_report
    from sla_bridge.reports.prometheus import Prometheus
    from sla_bridge.reports.document import render_html, render_pdf
    from sla_bridge.service import SlaService

    inventory = inventory_or_exit(args.inventory)
    if inventory.client(args.client) is None:
        print(f"--client: no client {args.client!r} in {args.inventory}", file=sys.stderr)
        return 1
    service = SlaService(existing_database(args), terms_from_inventory(inventory), utc_now)
    prometheus = Prometheus(args.prometheus or inventory.provider.stack.query_url)
    try:
        content = build_report(ReportSources(service, inventory, prometheus), args.client,
                               args.month, utc_now())
    except ValueError as exc:
        print(f"--{exc}", file=sys.stderr)
        return 1
    output = render_pdf(content) if args.format == "pdf" else render_html(content)
    write_atomically(Path(args.out), output)
    print(f"{args.out}: the report of {args.client} for {args.month} ({args.format})")
    return 0
