"""``POST /api/v1/alerts``: Alertmanager's webhook. 200 only once the news is committed.

Alertmanager retries a 5xx but never a 4xx: a delivery refused is lost. So odd values are stored
(``sla_bridge.webhook``), and every 4xx is logged with its reason and counted
(``owl_bridge_deliveries_refused_total``, alerted on by ``OwlBridgeDeliveriesRefused``).

Sizes agree with Alertmanager's. Its webhook notifier sends a whole group in one body, and with
``max_alerts`` only the first alerts of it, saying how many it left out (``truncatedAlerts``);
those are not sent later either. The rendered receiver (``owl.render.alertmanager``) sets
``max_alerts`` to ``BRIDGE_MAX_ALERTS`` so that a group's body stays under ``MAX_BODY_BYTES``
(4 KiB an alert, about five times what Prometheus' alerts weigh, generatorURL included). When a
delivery says alerts were left out, the bridge fetches the group's firing alerts from
Alertmanager's API v2 and stores them before answering; Alertmanager unreachable then is a 503,
and its retry stores the rest. Resolutions left out cannot be fetched (the API lists no resolved
alerts): a group that large is logged and counted (``owl_bridge_truncated_alerts_total``).
"""

from __future__ import annotations

import logging
from collections import Counter

from flask import Blueprint, g, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from sla_bridge.alertmanager import AlertmanagerError
from sla_bridge.api.common import ApiError, bridge, json_body, requires
from sla_bridge.auth import WEBHOOK
from sla_bridge.engine.alerts import AlertNotice
from sla_bridge.service import IngestResult
from sla_bridge.webhook import Delivery, PayloadError, parse_alert, parse_delivery

log = logging.getLogger("owl.bridge.webhook")
blueprint = Blueprint("alerts", __name__)

BRIDGE_MAX_ALERTS = 8_000  # the rendered receiver's max_alerts (tests/test_delivery_limits.py)
MAX_BODY_BYTES = 32 * 1024 * 1024  # BRIDGE_MAX_ALERTS alerts of 4 KiB
LOGGED_CHARS = 500  # of the error: it may quote a value of any length
_REASONS = {400: "invalid_payload", 401: "unauthenticated", 403: "forbidden", 413: "too_large"}


@blueprint.post("/api/v1/alerts")
@requires(WEBHOOK)
def receive_alerts():
    context = bridge()
    delivery = _delivery(context)
    result = _store(context, delivery.notices, delivery.altered)
    if delivery.truncated:
        fetched = _left_out(context, delivery)
        result = IngestResult(result.outcomes + _store(context, *fetched).outcomes)
    return jsonify(received=result.received, created=result.created, updated=result.updated,
                   duplicates=result.duplicates)


@blueprint.after_request
def _count_refusal(response):
    """Every 4xx of a delivery, logged with its reason (never the token) and counted."""
    status = response.status_code
    if 400 <= status < 500:
        reason = g.get("refusal") or _REASONS.get(status, "other")
        error = str((response.get_json(silent=True) or {}).get("error", ""))[:LOGGED_CHARS]
        log.warning("webhook delivery from %s refused with %d (%s): %s", request.remote_addr,
                    status, reason, error)
        bridge().metrics.delivery_refused(status, reason)
    return response


def _delivery(context) -> Delivery:
    request.max_content_length = max(MAX_BODY_BYTES, context.config.max_body_bytes)
    try:
        payload = json_body(refuse_unstorable=False)
    except RequestEntityTooLarge:
        raise ApiError(413, f"the body is over {request.max_content_length} bytes: lower the "
                       "receiver's max_alerts") from None
    except ApiError:
        g.refusal = "not_json"
        raise
    try:
        return parse_delivery(payload, context.clock())
    except PayloadError as exc:
        raise ApiError(400, str(exc), exc.field) from None


def _store(context, notices: list[AlertNotice], altered: Counter) -> IngestResult:
    result = context.deliveries.ingest(notices)
    context.after_ingest(result)
    context.metrics.delivery_stored(notices, altered)
    return result


def _left_out(context, delivery: Delivery) -> tuple[list[AlertNotice], Counter]:
    """The group's firing alerts Alertmanager holds that ``max_alerts`` left out of the body."""
    try:
        held = context.alertmanager.alerts(active=True, silenced=False, inhibited=False)
    except AlertmanagerError as exc:
        log.error("a delivery left out %d alerts of group %s and they cannot be fetched: %s",
                  delivery.truncated, delivery.group_labels, exc)
        raise ApiError(503, "alerts left out of the delivery cannot be fetched from "
                       "Alertmanager; retry later") from None
    sent = {notice.fingerprint for notice in delivery.notices}
    received, altered, notices = context.clock(), Counter(), []
    for index, alert in enumerate(held):
        if not _left_out_of(alert, delivery, sent):
            continue
        try:
            notices.append(parse_alert({**alert, "status": "firing"}, index, received, altered))
        except PayloadError as exc:
            log.warning("an alert Alertmanager holds cannot be read: %s", exc)
    context.metrics.truncated(delivery.truncated, len(notices))
    log.warning("a delivery left out %d alerts of group %s (max_alerts): %d firing ones fetched "
                "from Alertmanager; resolutions left out cannot be", delivery.truncated,
                delivery.group_labels, len(notices))
    return notices, altered


def _left_out_of(alert, delivery: Delivery, sent: set[str]) -> bool:
    """Whether Alertmanager's ``alert`` is of the delivery's group and was not in its body."""
    if not isinstance(alert, dict) or alert.get("fingerprint") in sent:
        return False
    labels = alert.get("labels")
    if not isinstance(labels, dict) or any(labels.get(name) != value
                                           for name, value in delivery.group_labels.items()):
        return False
    receivers = {r.get("name") for r in alert.get("receivers") or () if isinstance(r, dict)}
    return delivery.receiver is None or delivery.receiver in receivers
