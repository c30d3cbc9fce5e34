"""``GET /api/v1/ledger?client=&month=``: the month's penalty ledger, JSON or CSV."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from sla_bridge.api.common import ApiError, bridge, client_scope, month_arg, requires
from sla_bridge.auth import CLIENT, OPERATOR
from sla_bridge.ledger_format import ledger_csv, ledger_csv_filename, ledger_json

blueprint = Blueprint("ledger", __name__)


@blueprint.get("/api/v1/ledger")
@requires(OPERATOR, CLIENT)
def get_ledger():
    client = client_scope()
    if client is None:
        raise ApiError(400, "client is required", "client")
    month = month_arg(required=True)
    output = request.args.get("format", "json")
    if output not in ("json", "csv"):
        raise ApiError(400, "expected 'json' or 'csv'", "format")
    ledger = bridge().service.ledger(client, month)
    if output == "csv":
        return Response(ledger_csv(ledger), mimetype="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{ledger_csv_filename(ledger)}"'})
    return jsonify(ledger_json(ledger))
