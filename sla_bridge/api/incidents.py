"""Incidents: list, one, acknowledge, exclude and withdraw an exclusion.

The three actions honour ``Idempotency-Key`` (:mod:`sla_bridge.idempotency`); their answer is
stored right after the action's transaction, which the service keeps to itself.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from sla_bridge.api.common import (
    ApiError,
    bridge,
    client_scope,
    int_arg,
    json_body,
    month_arg,
    path_id,
    requires,
)
from sla_bridge.api.idempotent import idempotent
from sla_bridge.auth import CLIENT, OPERATOR
from sla_bridge.engine.lifecycle import SLA_STATUSES, STATES
from sla_bridge.serialize import incident_json
from sla_bridge.service import EXCLUSION_REASONS, Conflict, NotFound
from sla_bridge.storage.schema import Incident

blueprint = Blueprint("incidents", __name__)
MAX_PAGE = 1000


def _choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name)
    if value is not None and value not in allowed:
        raise ApiError(400, f"{value!r} is not one of: {', '.join(allowed)}", name)
    return value


@blueprint.get("/api/v1/incidents")
@requires(OPERATOR, CLIENT)
def list_incidents():
    rows = bridge().service.find(
        client=client_scope(), state=_choice("status", STATES), sla=_choice("sla", SLA_STATUSES),
        month=month_arg(), limit=int_arg("limit", 100, MAX_PAGE),
        offset=int_arg("offset", 0, 10**9))
    return jsonify(incidents=[incident_json(row) for row in rows])


@blueprint.get("/api/v1/incidents/<raw_id>")
@requires(OPERATOR, CLIENT)
def get_incident(raw_id: str):
    try:
        incident = bridge().service.get(path_id(raw_id, "incident"), client=g.principal.client)
    except NotFound as exc:
        raise ApiError(404, str(exc)) from None
    return jsonify(incident_json(incident))


@blueprint.post("/api/v1/incidents/<raw_id>/ack")
@requires(OPERATOR)
@idempotent()
def acknowledge(raw_id: str):
    incident = _act(lambda service, incident_id: service.acknowledge(
        incident_id, g.principal.name), raw_id)
    return jsonify(incident_json(incident))


@blueprint.post("/api/v1/incidents/<raw_id>/exclusion")
@requires(OPERATOR)
@idempotent()
def exclude(raw_id: str):
    body = json_body()
    reason, note = body.get("reason"), body.get("note")
    if reason not in EXCLUSION_REASONS:
        raise ApiError(400, f"expected one of: {', '.join(EXCLUSION_REASONS)}", "reason")
    if not isinstance(note, str) or not note.strip():
        raise ApiError(400, "a note explaining the exclusion is required", "note")
    incident = _act(lambda service, incident_id: service.exclude(
        incident_id, reason, note.strip(), g.principal.name), raw_id)
    return jsonify(incident_json(incident))


@blueprint.delete("/api/v1/incidents/<raw_id>/exclusion")
@requires(OPERATOR)
@idempotent()
def withdraw_exclusion(raw_id: str):
    incident = _act(lambda service, incident_id: service.withdraw_exclusion(
        incident_id, g.principal.name), raw_id)
    return jsonify(incident_json(incident))


def _act(action, raw_id: str) -> Incident:
    try:
        return action(bridge().service, path_id(raw_id, "incident"))
    except NotFound as exc:
        raise ApiError(404, str(exc)) from None
    except Conflict as exc:
        raise ApiError(409, str(exc)) from None
