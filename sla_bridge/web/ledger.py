"""The penalty ledger pages (contract section 5c): a client's month, with its lines, the cap
adjustment and the total, and its CSV download, the same as the API's ``format=csv``.

An operator picks any client; a client sees its own ledger only, and naming another client is
the 404 of a page that does not exist. The month defaults to the current one in the provider's
timezone, the one ledgers are kept in.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from sla_bridge import web as pages
from sla_bridge.auth import OPERATOR
from sla_bridge.engine.ledger import month_of
from sla_bridge.ledger_format import ledger_csv, ledger_csv_filename
from sla_bridge.reports.store import list_reports
from sla_bridge.request_values import bridge
from sla_bridge.service.interventions import interventions_csv
from sla_bridge.timefmt import month_problem
from sla_bridge.web.guard import client_scope, is_operator, signed_in
from sla_bridge.webhook import FIRST_YEAR, LAST_YEAR

blueprint = Blueprint("web_ledger", __name__)


class QueryError(Exception):
    """A query the page cannot answer: its status, and what to say (None: the status's
    usual page)."""

    def __init__(self, status: int, message: str | None = None):
        super().__init__(message)
        self.status, self.message = status, message


@blueprint.errorhandler(QueryError)
def _query_error(error: QueryError):
    return pages.error_page(error.status, error.message)


def current_month() -> str:
    """This month in the provider's timezone, by the bridge's clock."""
    context = bridge()
    return month_of(context.clock(), ZoneInfo(context.config.inventory.provider.timezone))


@blueprint.get("/ledger")
@signed_in()
def index():
    client, month = query_client(), query_month()
    ledger = bridge().service.ledger(client, month) if client else None
    inventory = bridge().config.inventory
    reports = list_reports(bridge().db, client, month) if client else []
    return render_template(
        "ledger.html", ledger=ledger, client=client, month=month,
        report=reports[0] if reports else None,
        client_name=client_name(client), months=_neighbours(month),
        clients=client_choices(),
        provider_timezone=inventory.provider.timezone)


@blueprint.get("/ledger.csv")
@signed_in()
def download():
    client, month = query_client(), query_month()
    if client is None:
        raise QueryError(400, _("Field “client”: choose the client whose ledger to download."))
    ledger = bridge().service.ledger(client, month)
    return Response(ledger_csv(ledger), mimetype="text/csv", headers={
        "Content-Disposition": f'attachment; filename="{ledger_csv_filename(ledger)}"'})


@blueprint.get("/interventions.csv")
@signed_in(OPERATOR)
def interventions():
    """The month's interventions outside opening hours, every client's, for invoicing."""
    month = query_month()
    service = bridge().service
    rows = [(client, row) for client in sorted(service.terms)
            for row in service.interventions(client, month)]
    return Response(interventions_csv(rows, bridge().config.inventory.provider.timezone),
                    mimetype="text/csv", headers={
                        "Content-Disposition": f'attachment; filename="interventions-{month}.csv"'})


def query_client() -> str | None:
    """The client of the query that the signed-in principal may read, or None (an operator who
    has not chosen yet)."""
    asked = request.args.get("client", "").strip() or None
    own = client_scope()
    if own is not None:
        if asked not in (None, own):
            raise QueryError(404)  # the same page as for any address that does not exist
        return own
    if asked is not None and asked not in bridge().service.terms:
        raise QueryError(404, _("Field “client”: there is no client %(client)s.", client=asked))
    return asked


def query_month() -> str:
    value = request.args.get("month", "").strip()
    if not value:
        return current_month()
    if month_problem(value):
        raise QueryError(400, _(
            "Field “month”: %(value)s is not a month written YYYY-MM (such as 2025-03) between "
            "the years %(first)s and %(last)s.", value=value, first=FIRST_YEAR, last=LAST_YEAR))
    return value


def _neighbours(month: str) -> dict[str, str | None]:
    """The months before and after ``month``, where the bridge has them."""
    year, number = int(month[:4]), int(month[5:])
    before = f"{year - (number == 1)}-{(number - 2) % 12 + 1:02d}"
    after = f"{year + (number == 12)}-{number % 12 + 1:02d}"
    return {"previous": None if month_problem(before) else before,
            "next": None if month_problem(after) else after}


def client_choices() -> list[tuple[str, str]]:
    """(id, name) of every client for an operator's choice; nothing for a client."""
    return ([(c, client_name(c)) for c in sorted(bridge().service.terms)]
            if is_operator() else [])


def client_name(client: str | None) -> str | None:
    found = bridge().config.inventory.client(client) if client else None
    return found.name if found else client
