"""What every endpoint shares: the bridge context, authentication and JSON errors."""

from __future__ import annotations

import functools

from flask import current_app, g, jsonify, request

from sla_bridge.auth import bearer_token
from sla_bridge.engine.ledger import MONTH


class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def bridge():
    """The :class:`sla_bridge.app.Bridge` of the running application."""
    return current_app.extensions["owl"]


def error_response(status: int, message: str, field: str | None = None):
    body = {"error": message}
    if field:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="owl-sla-bridge"'
    return response


def requires(*kinds: str):
    """Only a bearer token of one of ``kinds`` reaches the view; ``g.principal`` says who."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = bridge().tokens.authenticate(
                bearer_token(request.headers.get("Authorization")))
            if principal is None:
                raise ApiError(401, "a valid bearer token is required")
            if principal.kind not in kinds:
                raise ApiError(403, f"this endpoint is for: {', '.join(kinds)}")
            g.principal = principal
            return view(*args, **kwargs)
        return wrapper
    return decorate


def json_body() -> dict:
    payload = request.get_json(silent=True)
    if payload is None:
        raise ApiError(400, "the body must be valid JSON (Content-Type: application/json)")
    if not isinstance(payload, dict):
        raise ApiError(400, "the body must be a JSON object")
    return payload


def month_arg(name: str = "month", required: bool = False) -> str | None:
    value = request.args.get(name)
    if value is None:
        if required:
            raise ApiError(400, "month is required, as YYYY-MM", name)
        return None
    if not MONTH.match(value):
        raise ApiError(400, f"{value!r} is not a month as YYYY-MM", name)
    return value


def client_scope() -> str | None:
    """The client a request is confined to: its own for a client token, else the query's.

    A client naming another client gets the same 404 as for an unknown one: nothing leaks.
    """
    asked = request.args.get("client") or None
    principal = g.principal
    if principal.kind == "client":
        if asked is not None and asked != principal.client:
            raise ApiError(404, f"unknown client {asked!r}", "client")
        return principal.client
    if asked is not None and asked not in bridge().service.terms:
        raise ApiError(404, f"unknown client {asked!r}", "client")
    return asked
