"""The monthly reports' pages: the stored versions, each opened as its PDF or its HTML, exactly
as produced. A client sees its own only; another client's report is the 404 of a page that does
not exist."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request

from sla_bridge import web as pages
from sla_bridge.reports.store import (STORED_HTML_POLICY, list_reports, report_html,
                                      report_info, report_pdf)
from sla_bridge.request_values import bridge, whole_number
from sla_bridge.service import NotFound
from sla_bridge.web.guard import client_scope, signed_in
from sla_bridge.web.ledger import (QueryError, client_choices, client_name, query_client,
                                   query_month)

blueprint = Blueprint("web_reports", __name__)


@blueprint.errorhandler(QueryError)
def _query_error(error: QueryError):
    return pages.error_page(error.status, error.message)


@blueprint.get("/reports")
@signed_in()
def index():
    client = query_client()
    month = query_month() if request.args.get("month", "").strip() else None
    return render_template(
        "reports.html", reports=list_reports(bridge().db, client, month), client=client,
        month=month or "", client_name=client_name, clients=client_choices())


@blueprint.get("/reports/<raw_id>.pdf")
@signed_in()
def pdf(raw_id: str):
    info = _found(report_info, raw_id)
    return Response(_found(report_pdf, raw_id), mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{info.filename}"', "ETag": f'"{info.sha256}"'})


@blueprint.get("/reports/<raw_id>.html")
@signed_in()
def html(raw_id: str):
    return Response(_found(report_html, raw_id), mimetype="text/html",
                    headers={"Content-Security-Policy": STORED_HTML_POLICY})


def _found(read, raw_id: str):
    report_id = whole_number(raw_id)
    if report_id is None:
        raise QueryError(404)
    try:
        return read(bridge().db, report_id, client_scope())
    except NotFound:
        raise QueryError(404) from None
