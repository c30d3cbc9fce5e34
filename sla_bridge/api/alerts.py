"""``POST /api/v1/alerts``: Alertmanager's webhook. 200 only once the news is committed."""

from __future__ import annotations

from flask import Blueprint, jsonify

from sla_bridge.api.common import ApiError, bridge, json_body, requires
from sla_bridge.auth import WEBHOOK
from sla_bridge.webhook import PayloadError, parse_payload

blueprint = Blueprint("alerts", __name__)


@blueprint.post("/api/v1/alerts")
@requires(WEBHOOK)
def receive_alerts():
    context = bridge()
    try:
        notices = parse_payload(json_body(), context.clock())
    except PayloadError as exc:
        raise ApiError(400, str(exc), exc.field) from None
    result = context.deliveries.ingest(notices)
    context.after_ingest(result)
    return jsonify(received=result.received, created=result.created, updated=result.updated,
                   duplicates=result.duplicates)
