"""``GET /api/v1/interventions?month=&client=``: the operators' actions outside the clients'
opening hours (section 5b), billed apart; JSON, or CSV for the invoicing."""

from __future__ import annotations

from flask import Blueprint, Response, jsonify, request

from sla_bridge.api.common import ApiError, bridge, client_scope, month_arg, requires
from sla_bridge.auth import CLIENT, OPERATOR
from sla_bridge.service.interventions import interventions_csv
from sla_bridge.timefmt import rfc3339

blueprint = Blueprint("interventions", __name__)


@blueprint.get("/api/v1/interventions")
@requires(OPERATOR, CLIENT)
def list_interventions():
    client = client_scope()
    month = month_arg(required=True)
    output = request.args.get("format", "json")
    if output not in ("json", "csv"):
        raise ApiError(400, "expected 'json' or 'csv'", "format")
    service = bridge().service
    clients = [client] if client else sorted(service.terms)
    rows = [(name, row) for name in clients for row in service.interventions(name, month)]
    if output == "csv":
        suffix = f"-{client}" if client else ""
        return Response(interventions_csv(rows, bridge().config.inventory.provider.timezone),
                        mimetype="text/csv", headers={"Content-Disposition":
                        f'attachment; filename="interventions{suffix}-{month}.csv"'})
    return jsonify({"month": month, "interventions": [
        {"client": name, "at": rfc3339(row.at), "actor": row.actor, "action": row.action,
         "incident_id": row.incident_id, "maintenance_id": row.maintenance_id}
        for name, row in rows]})
