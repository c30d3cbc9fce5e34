"""Liveness, metrics and the OpenAPI description: open to anyone on the network."""

from __future__ import annotations

from importlib import resources

from flask import Blueprint, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from sla_bridge.api.common import bridge

blueprint = Blueprint("ops", __name__)


@blueprint.get("/healthz")
def healthz():
    try:
        bridge().db.ping()
    except SQLAlchemyError:
        return jsonify(status="unavailable", database="unreachable"), 503
    return jsonify(status="ok")


@blueprint.get("/metrics")
def metrics():
    return Response(generate_latest(bridge().registry), mimetype=CONTENT_TYPE_LATEST)


@blueprint.get("/api/v1/openapi.yml")
def openapi():
    text = (resources.files("sla_bridge") / "openapi.yml").read_text(encoding="utf-8")
    return Response(text, mimetype="application/yaml")
