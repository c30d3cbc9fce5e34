"""The OpenAPI description (sla_bridge/openapi.yml) is valid OpenAPI 3 and describes exactly the
routes the bridge registers, each with the error answers the server gives."""

from __future__ import annotations

import re
from importlib import resources

import pytest
import yaml
from openapi_spec_validator import validate

from sla_bridge.web import BLUEPRINTS
from tests.support.bridge import at, make_bridge

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
# Flask answers HEAD for every GET and OPTIONS for every route by itself.
IMPLICIT = {"HEAD", "OPTIONS"}
# Their 503 says what is failing in their own body, which is what a health check reads.
HEALTH_PATHS = ("/healthz", "/readyz")


def _description() -> dict:
    text = (resources.files("sla_bridge") / "openapi.yml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _template(path: str) -> str:
    """``/a/<raw_id>/b`` and ``/a/{id}/b`` alike: ``/a/{}/b``."""
    return re.sub(r"<[^>]+>|\{[^}]+\}", "{}", path)


def _operations(description: dict):
    for path, item in description["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield path, method, operation


PAGE_BLUEPRINTS = {module.blueprint.name for module in BLUEPRINTS}


@pytest.fixture(scope="module")
def routes(tmp_path_factory) -> dict[str, set[str]]:
    tb = make_bridge(f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'bridge.db'}",
                     at("2025-03-07 10:00"))
    registered: dict[str, set[str]] = {}
    for rule in tb.app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] in PAGE_BLUEPRINTS or rule.endpoint == "static":
            continue  # the console's pages: HTML for browsers, tests/test_web_authorization.py
        registered.setdefault(_template(rule.rule), set()).update(rule.methods - IMPLICIT)
    tb.bridge.db.dispose()
    return registered


def test_the_description_is_valid_openapi_3():
    description = _description()
    assert description["openapi"].startswith("3.")
    validate(description)


def test_every_route_the_app_registers_is_described_with_the_same_methods_and_no_other(routes):
    described: dict[str, set[str]] = {}
    for path, method, _ in _operations(_description()):
        described.setdefault(_template(path), set()).add(method.upper())
    assert described == routes


def test_the_description_is_served_as_it_is_shipped(tmp_path):
    tb = make_bridge(f"sqlite:///{tmp_path / 'bridge.db'}", at("2025-03-07 10:00"))
    response = tb.client.get("/api/v1/openapi.yml")
    tb.bridge.db.dispose()
    assert response.status_code == 200
    assert yaml.safe_load(response.get_data(as_text=True)) == _description()


def _error_schema(description: dict, response: dict) -> dict | None:
    if "$ref" in response:
        response = description["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response.get("content", {}).get("application/json", {}).get("schema")


def test_every_operation_describes_its_405_with_allow_and_every_error_with_the_error_body():
    description = _description()
    error = {"$ref": "#/components/schemas/Error"}
    for path, method, operation in _operations(description):
        responses = operation["responses"]
        assert "405" in responses, f"{method} {path}"
        assert responses["405"] == {"$ref": "#/components/responses/MethodNotAllowed"}
        for status, response in responses.items():
            if int(status) >= 400 and path not in HEALTH_PATHS:
                assert _error_schema(description, response) == error, f"{method} {path} {status}"


def test_every_authenticated_operation_describes_401_403_and_503_and_every_body_400_and_413():
    """A token looked up in the database can be of the wrong role (403) or not be checked while
    storage is down (503); the scrape token is checked without the database."""
    description = _description()
    for path, method, operation in _operations(description):
        statuses = set(operation["responses"])
        security = operation.get("security", description["security"])
        if security:
            assert "401" in statuses, f"{method} {path}"
        if {"bearer": []} in security:
            assert {"403", "503"} <= statuses, f"{method} {path}"
        if "requestBody" in operation:
            assert {"400", "413"} <= statuses, f"{method} {path}"
