"""``GET /api/v1/reports?client=&month=`` and one stored report by id: its record, its PDF, its
HTML. A client token reads its own reports only: another client's id is a 404, as for one that
does not exist."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify

from sla_bridge.api.common import (ApiError, bridge, client_scope, month_arg, path_id,
                                   requires)
from sla_bridge.auth import CLIENT, OPERATOR
from sla_bridge.reports.store import (STORED_HTML_POLICY, ReportInfo,
                                      list_reports, report_html, report_info, report_pdf)
from sla_bridge.service import NotFound
from sla_bridge.timefmt import rfc3339

blueprint = Blueprint("reports", __name__)


@blueprint.get("/api/v1/reports")
@requires(OPERATOR, CLIENT)
def index():
    client, month = client_scope(), month_arg()
    return jsonify({"reports": [report_json(info)
                                for info in list_reports(bridge().db, client, month)]})


@blueprint.get("/api/v1/reports/<raw_id>")
@requires(OPERATOR, CLIENT)
def one(raw_id: str):
    return jsonify(report_json(_found(report_info, raw_id)))


@blueprint.get("/api/v1/reports/<raw_id>/pdf")
@requires(OPERATOR, CLIENT)
def pdf(raw_id: str):
    info = _found(report_info, raw_id)
    return Response(_found(report_pdf, raw_id), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="{info.filename}"',
        "ETag": f'"{info.sha256}"', "X-Content-SHA256": info.sha256})


@blueprint.get("/api/v1/reports/<raw_id>/html")
@requires(OPERATOR, CLIENT)
def html(raw_id: str):
    return Response(_found(report_html, raw_id), mimetype="text/html",
                    headers={"Content-Security-Policy": STORED_HTML_POLICY})


def report_json(info: ReportInfo) -> dict:
    base = f"/api/v1/reports/{info.id}"
    return {"id": info.id, "client": info.client, "month": info.month, "version": info.version,
            "produced_at": rfc3339(info.produced_at), "sha256": info.sha256, "size": info.size,
            "changes": list(info.changes), "pdf": f"{base}/pdf", "html": f"{base}/html"}


def _found(read, raw_id: str):
    """``read(db, id, client)`` for the caller's scope; a 404 for what it may not see."""
    report_id = path_id(raw_id, "report")
    try:
        return read(bridge().db, report_id, client_scope())
    except NotFound as exc:
        raise ApiError(404, str(exc), "id") from None
