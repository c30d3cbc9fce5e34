"""The ``Idempotency-Key`` header on operators' writes (see :mod:`sla_bridge.idempotency`).

``@idempotent()`` goes under ``@requires``: a request with the header gets the stored answer to
its key if there is one, else runs, and its success is stored. A view whose write lets it in
calls :func:`record_answer` in that transaction, so that the write and its answer commit
together; for the others the decorator stores the answer right after.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from flask import current_app, g, jsonify, request
from sqlalchemy.orm import Session

from sla_bridge.api.common import ApiError, bridge
from sla_bridge.idempotency import (
    HEADER,
    Answer,
    IdempotencyKeys,
    InvalidKey,
    KeyReused,
    parse_key,
    request_digest,
)


def idempotent(location: Callable[[dict], str] | None = None):
    """Honour ``Idempotency-Key``; ``location`` gives a replayed answer its ``Location``."""
    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            raw = request.headers.get(HEADER)
            if raw is None:
                return view(*args, **kwargs)
            try:
                key = parse_key(raw)
            except InvalidKey as exc:
                raise ApiError(400, str(exc), HEADER) from None
            context = bridge()
            keys = IdempotencyKeys(context.db, context.clock)
            principal = f"{g.principal.kind}:{g.principal.name}"
            digest = request_digest(request.method, request.path, request.get_data(cache=True))
            try:
                with keys.claim(principal, key, digest) as claim:
                    if isinstance(claim, Answer):
                        return _replay(claim, location)
                    g.idempotency = claim
                    response = current_app.make_response(view(*args, **kwargs))
                    if 200 <= response.status_code < 300 and not claim.recorded:
                        keys.record_alone(claim, response.status_code, response.get_json())
            except KeyReused as exc:
                raise ApiError(422, str(exc), HEADER) from None
            if claim.recorded:
                keys.purge_quietly()
            return response
        return wrapper
    return decorate


def record_answer(session: Session, status: int, body: dict) -> None:
    """Store the answer to the request's key, if it has one, in the caller's transaction."""
    claim = g.get("idempotency")
    if claim is not None:
        claim.record(session, status, body)


def _replay(answer: Answer, location: Callable[[dict], str] | None):
    response = jsonify(answer.body)
    response.status_code = answer.status
    if location is not None:
        response.headers["Location"] = location(answer.body)
    return response
