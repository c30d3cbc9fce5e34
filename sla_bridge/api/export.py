"""``GET /api/v1/export?client=``: everything held about a client, before it is deleted."""

from __future__ import annotations

from flask import Blueprint, jsonify

from sla_bridge.api.common import ApiError, bridge, client_scope, requires
from sla_bridge.auth import CLIENT, OPERATOR
from sla_bridge.retention import deletion_record
from sla_bridge.timefmt import rfc3339

blueprint = Blueprint("export", __name__)


@blueprint.get("/api/v1/export")
@requires(OPERATOR, CLIENT)
def export_client():
    client = client_scope()
    if client is None:
        raise ApiError(400, "client is required", "client")
    context = bridge()
    deleted = deletion_record(context.db, client)
    if deleted is not None:
        raise ApiError(410, f"the data of {client} was deleted on "
                            f"{rfc3339(deleted.deleted_at)} (section 9)")
    return jsonify(context.service.export(client))
