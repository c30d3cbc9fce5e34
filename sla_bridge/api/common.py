"""What every endpoint shares: the bridge context, authentication, JSON errors, and the parsing
of path and query parameters (and of body times) into values the engine and the database take."""

from __future__ import annotations

import datetime as dt
import functools

from flask import current_app, g, jsonify, request

from sla_bridge.auth import StorageUnavailable, bearer_token
from sla_bridge.request_values import MAX_ID, bridge, whole_number  # noqa: F401 (the API's)
from sla_bridge.timefmt import month_problem
from sla_bridge.webhook import (FIRST_YEAR, LAST_YEAR, OUTSIDE_YEARS, REPLACEMENT, UNSTORABLE,
                                PayloadError, parse_time)



class ApiError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.message, self.field = status, message, field


def error_response(status: int, message: str, field: str | None = None):
    body = {"error": message}
    if field:
        body["field"] = field
    response = jsonify(body)
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="owl-sla-bridge"'
    if status == 405:
        response.headers["Allow"] = ", ".join(sorted(allowed_methods()))
    return response


def allowed_methods() -> set[str]:
    """The methods the request's path answers to."""
    return current_app.url_map.bind_to_environ(request.environ).allowed_methods()


def requires(*kinds: str):
    """Only a bearer token of one of ``kinds`` reaches the view; ``g.principal`` says who.

    While the database is down, a token the bridge cannot vouch for is a 401 as ever, and one it
    saw valid recently a 503 (``sla_bridge.auth``).
    """
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            try:
                principal = bridge().tokens.authenticate(
                    bearer_token(request.headers.get("Authorization")))
            except StorageUnavailable as exc:
                raise ApiError(503, str(exc)) from None
            if principal is None:
                raise ApiError(401, "a valid bearer token is required")
            if principal.kind not in kinds:
                raise ApiError(403, f"this endpoint is for: {', '.join(kinds)}")
            g.principal = principal
            return view(*args, **kwargs)
        return wrapper
    return decorate


def json_body(refuse_unstorable: bool = True) -> dict:
    """The body's JSON object.

    Text no database stores (a NUL byte: PostgreSQL; a lone surrogate: SQLite's driver and
    PostgreSQL's) is a 400 naming its field: operators can send it again without. Alertmanager
    never retries a 4xx, so its webhook passes ``refuse_unstorable=False`` and
    ``sla_bridge.webhook`` stores such text replaced instead.
    """
    try:
        payload = request.get_json(silent=True)
    except RecursionError:  # the parser's, a few thousand arrays or objects deep
        raise ApiError(400, "the body's JSON nests too deep") from None
    if payload is None:
        raise ApiError(400, "the body must be valid JSON (Content-Type: application/json)")
    if not isinstance(payload, dict):
        raise ApiError(400, "the body must be a JSON object")
    where = _unstorable(payload) if refuse_unstorable else None
    if where:
        raise ApiError(400, "text with a NUL byte or a lone surrogate cannot be stored", where)
    return payload


def _unstorable(payload: dict) -> str | None:
    """The field of a key or string in ``payload`` that no database stores, if one is.

    A loop, not a recursion: the body may nest as deep as the JSON parser allows.
    """
    pending = [("", payload)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, str) and UNSTORABLE.search(value):
            return where
        if isinstance(value, dict):
            for key, item in reversed(value.items()):
                path = f"{where}.{key}" if where else key
                if UNSTORABLE.search(key):
                    return UNSTORABLE.sub(REPLACEMENT, path)
                pending.append((path, item))
        elif isinstance(value, list):
            pending.extend((f"{where}[{index}]", item)
                           for index, item in reversed(list(enumerate(value))))
    return None


def path_id(raw: str, what: str) -> int:
    """The id of a ``what`` in a path; one no row can have is a 404, like an unknown one."""
    value = whole_number(raw)
    if value is None:
        raise ApiError(404, f"no {what} {raw}", "id")
    return value


def int_arg(name: str, default: int, maximum: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    value = whole_number(raw, maximum)
    if value is None:
        raise ApiError(400, f"expected a whole number from 0 to {maximum}", name)
    return value


def month_arg(name: str = "month", required: bool = False) -> str | None:
    value = request.args.get(name)
    if value is None:
        if required:
            raise ApiError(400, "month is required, as YYYY-MM", name)
        return None
    problem = month_problem(value)
    if problem:
        raise ApiError(400, problem, name)
    return value


def time_field(body: dict, field: str) -> dt.datetime:
    """A required RFC 3339 time with a timezone, checked once converted to UTC."""
    try:
        value = parse_time(body.get(field), field)
    except PayloadError as exc:
        raise ApiError(400, str(exc), field) from None
    except OverflowError:  # in UTC it falls before year 1 or after 9999
        raise ApiError(400, OUTSIDE_YEARS, field) from None
    if value is None:
        raise ApiError(400, "an RFC 3339 time with a timezone is required", field)
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise ApiError(400, OUTSIDE_YEARS, field)
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
        asked = principal.client
    if asked is not None and asked not in bridge().service.terms:
        raise ApiError(404, f"unknown client {asked!r}", "client")
    return asked
