"""Health, readiness, metrics and the OpenAPI description.

``/healthz``, ``/readyz`` and the description are open to anyone on the network: they say
nothing about clients. ``/metrics`` carries every client's incidents and penalties, so it takes
the scrape token and nothing else (docs/architecture.md, "Health and metrics"): an operator's or
a client's token is refused, and it is checked without the database, so Prometheus still scrapes
a bridge whose database is down.
"""

from __future__ import annotations

import hmac
from importlib import resources

from flask import Blueprint, Response, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST

from sla_bridge.api.common import ApiError, bridge
from sla_bridge.auth import bearer_token, digest

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz():
    """Whether the bridge can store deliveries: a real write, at most one per few seconds."""
    health = bridge().health.check()
    return _health_response(health.healthy, database=health.database, writes=health.writes)


@blueprint.get("/readyz")
def readyz():
    """Whether a load balancer should send requests here: healthy, on the current schema."""
    health = bridge().health.check()
    return _health_response(health.ready, database=health.database, writes=health.writes,
                            schema=health.schema)


def _health_response(good: bool, **details: str):
    response = jsonify(status="ok" if good else "unavailable", **details)
    response.status_code = 200 if good else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@blueprint.get("/metrics")
def metrics():
    _require_scrape_token()
    return Response(bridge().exposition.render(), mimetype=CONTENT_TYPE_LATEST)


def _require_scrape_token() -> None:
    expected = bridge().config.scrape_token
    if expected is None:
        raise ApiError(401, "the bridge has no scrape token: /metrics is closed until it is "
                       "started with OWL_SCRAPE_TOKEN or --scrape.token-file")
    presented = bearer_token(request.headers.get("Authorization"))
    # digests: a constant-time comparison of equal lengths, whatever characters were sent
    if presented is None or not hmac.compare_digest(digest(presented), digest(expected)):
        raise ApiError(401, "/metrics needs the scrape token as a bearer token")


@blueprint.get("/api/v1/openapi.yml")
def openapi():
    text = (resources.files("sla_bridge") / "openapi.yml").read_text(encoding="utf-8")
    return Response(text, mimetype="application/yaml")
