"""Maintenance windows, for operators: announce (``POST``), list (``GET``), cancel (``DELETE``).

Alertmanager unreachable is a 503: the same request may succeed later. Alertmanager refusing a
silence is a 502, with its reason: the bridge's request was well formed, its upstream turned it
down, and the same request would be turned down again, so nothing invites a retry.

Announcing a window announced already answers 200 with it instead of 201 (see
:mod:`sla_bridge.maintenance`). Announcing and cancelling honour ``Idempotency-Key``
(:mod:`sla_bridge.idempotency`); an announcement stores its answer in the window's transaction.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request

from sla_bridge.alertmanager import AlertmanagerError, AlertmanagerRefused
from sla_bridge.api.common import (
    ApiError,
    bridge,
    client_scope,
    json_body,
    path_id,
    requires,
    time_field,
)
from sla_bridge.api.idempotent import idempotent, record_answer
from sla_bridge.auth import OPERATOR
from sla_bridge.maintenance import (
    ConflictingWindow,
    InvalidWindow,
    NoticeRefused,
    UnknownMaintenance,
    WindowOver,
    WindowRequest,
)
from sla_bridge.storage.queries import window_of
from sla_bridge.storage.schema import Maintenance
from sla_bridge.timefmt import rfc3339

blueprint = Blueprint("maintenances", __name__)
FIELDS = ("client", "targets", "starts_at", "ends_at", "description", "emergency")
ACTIVE = {"true": True, "false": False}


def maintenance_json(window: Maintenance, now) -> dict:
    engine_view = window_of(window)
    return {
        "id": window.id, "client": window.client, "targets": window.targets,
        "starts_at": rfc3339(window.starts_at), "ends_at": rfc3339(window.ends_at),
        "description": window.description, "emergency": window.emergency,
        "planned": engine_view.planned, "active": engine_view.active_at(now),
        "announced_at": rfc3339(window.announced_at), "announced_by": window.announced_by,
        "cancelled_at": rfc3339(window.cancelled_at), "cancelled_by": window.cancelled_by,
        "silence_ids": window.silence_ids or [],
    }


def _location(window: dict) -> str:
    return f"/api/v1/maintenances/{window['id']}"


@blueprint.post("/api/v1/maintenances")
@requires(OPERATOR)
@idempotent(location=_location)
def create_maintenance():
    window_request = _window_request(json_body())
    context = bridge()
    now = context.clock()

    def record(session, window: Maintenance) -> None:
        record_answer(session, 201, maintenance_json(window, now))

    try:
        announced = context.maintenances.announce(window_request, g.principal.name, record)
    except InvalidWindow as exc:
        raise ApiError(400, str(exc), exc.field) from None
    except NoticeRefused as exc:
        raise ApiError(422, str(exc)) from None
    except ConflictingWindow as exc:
        raise ApiError(409, str(exc), "emergency") from None
    except AlertmanagerRefused as exc:
        raise ApiError(502, f"{exc}; nothing was stored") from None
    except AlertmanagerError as exc:
        raise ApiError(503, f"{exc}; nothing was stored, retry later") from None
    body = maintenance_json(announced.window, now)
    response = jsonify(body)
    response.status_code = 201 if announced.created else 200
    response.headers["Location"] = _location(body)
    return response


@blueprint.get("/api/v1/maintenances")
@requires(OPERATOR)
def list_maintenances():
    active = request.args.get("active")
    if active is not None and active not in ACTIVE:
        raise ApiError(400, "expected true or false", "active")
    context = bridge()
    windows = context.maintenances.list(client=client_scope(), active=ACTIVE.get(active))
    now = context.clock()
    return jsonify(maintenances=[maintenance_json(window, now) for window in windows])


@blueprint.delete("/api/v1/maintenances/<raw_id>")
@requires(OPERATOR)
@idempotent()
def cancel_maintenance(raw_id: str):
    context = bridge()
    try:
        window = context.maintenances.cancel(path_id(raw_id, "maintenance window"),
                                             g.principal.name)
    except UnknownMaintenance as exc:
        raise ApiError(404, str(exc)) from None
    except WindowOver as exc:
        raise ApiError(409, str(exc)) from None
    except AlertmanagerRefused as exc:
        raise ApiError(502, f"{exc}; the window was not cancelled") from None
    except AlertmanagerError as exc:
        raise ApiError(503, f"{exc}; the window was not cancelled, retry later") from None
    return jsonify(maintenance_json(window, context.clock()))


def _window_request(body: dict) -> WindowRequest:
    """The body's fields, type-checked; the service checks them against the inventory."""
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise ApiError(400, f"unknown field; expected: {', '.join(FIELDS)}", unknown[0])
    emergency = body.get("emergency", False)
    if not isinstance(emergency, bool):
        raise ApiError(400, "expected true or false", "emergency")
    return WindowRequest(client=_text(body, "client"), targets=_targets(body.get("targets")),
                         starts_at=time_field(body, "starts_at"),
                         ends_at=time_field(body, "ends_at"),
                         description=_text(body, "description"), emergency=emergency)


def _text(body: dict, field: str) -> str:
    value = body.get(field)
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "a non-empty string is required", field)
    return value.strip()


def _targets(value) -> tuple[str, ...] | None:
    """A list of site or server ids; null (or absent) for every target of the client."""
    if value is None:
        return None
    if not isinstance(value, list) or not value:
        raise ApiError(400, "expected a non-empty list of site or server ids, or null for all",
                       "targets")
    for index, target in enumerate(value):
        if not isinstance(target, str):
            raise ApiError(400, "expected a site or server id", f"targets[{index}]")
    return tuple(dict.fromkeys(value))
