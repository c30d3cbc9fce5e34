"""Schemathesis fuzzes a real ``owl bridge`` (waitress on 127.0.0.1, a real Alertmanager behind
it) against the whole of sla_bridge/openapi.yml, on SQLite and on PostgreSQL: no 5xx, every
answer as described (status, content type, headers, body), every 405 with ``Allow``.

Each generated request is sent with the operator token and with a client token, and the webhook
token too for ``/api/v1/alerts`` (``/metrics`` with the scrape token, the health endpoints and the
description with none); the fuzzer's own cases without a token check the 401s. The bridge is
seeded first (incidents of this month and last, acknowledged, excluded, breached; maintenance
windows, one cancelled) and the fuzzer draws path ids, clients, months and window times from what
the seed made as well as at random, so that it reaches past the 404s and 422s. Generation is
deterministic (a fixed seed): a CI failure replays on a laptop.

A longer run: ``OWL_FUZZ_EXAMPLES=1000`` (fuzzing examples per operation; default 100), with
``pytest -s`` to see the requests sent by operation and status.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi import checks as openapi_checks

from sla_bridge.auth import TokenStore
from sla_bridge.storage.database import Database
from tests.support.alertmanager import running_alertmanager
from tests.support.bridge import INVENTORY, WEBHOOK_TOKEN, alert, rfc3339, webhook
from tests.support.databases import database_url_for
from tests.support.processes import free_port, running, wait_for_http

EXAMPLES = int(os.environ.get("OWL_FUZZ_EXAMPLES", "100"))
SEED = 20250307
CLIENTS = ("acme", "globex", "trial")
OPEN_PATHS = ("/healthz", "/readyz", "/api/v1/openapi.yml")
SCRAPE_TOKEN = "test-scrape-token"  # /metrics' own token, for Prometheus
# Ids the seed's incidents and windows get on an empty database, for the fuzzer to draw from.
SEEDED_IDS = range(1, 13)
# requests sent, by database, then operation and status; printed when the bridge stops
FUZZED: dict[str, Counter] = {}


@schemathesis.check
def method_not_allowed_says_allow(ctx: CheckContext, response: Response, case: Case):
    """RFC 9110: a 405 lists the methods the resource does answer to."""
    if response.status_code == 405 and not response.headers.get("allow"):
        raise AssertionError(f"{response.request.method} {case.formatted_path} answered 405 "
                             "without an Allow header")


# not_a_server_error: storage and Alertmanager are up for the whole run, so a 502 or a 503 is as
# much a bug as a 500.
CHECKS = [not_a_server_error, openapi_checks.status_code_conformance,
          openapi_checks.content_type_conformance, openapi_checks.response_headers_conformance,
          openapi_checks.response_schema_conformance, openapi_checks.unsupported_method,
          openapi_checks.allow_header_conformance, method_not_allowed_says_allow]


@dataclass
class FuzzedBridge:
    url: str
    database: str
    operator: str
    client: str
    incident_ids: list[int] = field(default_factory=list)
    maintenance_ids: list[int] = field(default_factory=list)

    def tokens_for(self, path: str) -> list[str | None]:
        if path in OPEN_PATHS:
            return [None]
        if path == "/metrics":
            return [SCRAPE_TOKEN]
        tokens = [self.operator, self.client]
        return [WEBHOOK_TOKEN, *tokens] if path == "/api/v1/alerts" else tokens


def _months(now: dt.datetime) -> list[str]:
    """This month and the last, which the seed's incidents start in."""
    last_month = now.replace(day=1) - dt.timedelta(days=20)
    return sorted({f"{t.year:04d}-{t.month:02d}" for t in (now, last_month)})


def _post(url: str, token: str, body: dict) -> dict:
    response = requests.post(url, json=body, headers={"Authorization": f"Bearer {token}"},
                             timeout=10)
    assert response.status_code in (200, 201), response.text
    return response.json()


def _seed(bridge: FuzzedBridge) -> None:
    """Incidents of this month and the last (open, acknowledged, excluded, resolved, breached
    and so on the ledger), and maintenance windows: planned, emergency, cancelled."""
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    last_month = now.replace(day=1) - dt.timedelta(days=20)
    alerts = [
        alert("SiteDown", starts_at=last_month),
        alert("SiteSlow", severity="major", starts_at=last_month, status="resolved",
              ends_at=last_month + dt.timedelta(days=3)),
        alert("SiteDown", client="globex", site="www", starts_at=now - dt.timedelta(hours=3)),
        alert("CertExpiring", severity="minor", starts_at=now - dt.timedelta(minutes=5)),
        alert("WordPressVulnerable", category="security", starts_at=now - dt.timedelta(hours=1)),
        alert("SiteDown", client="trial", site="www", starts_at=now - dt.timedelta(hours=2)),
        alert("BridgeDiskFull", client=None, site=None, severity="critical",
              starts_at=now - dt.timedelta(minutes=30)),
    ]
    _post(f"{bridge.url}/api/v1/alerts", WEBHOOK_TOKEN, webhook(*alerts))
    incidents = requests.get(f"{bridge.url}/api/v1/incidents", timeout=10, headers={
        "Authorization": f"Bearer {bridge.operator}"}).json()["incidents"]
    bridge.incident_ids = sorted(incident["id"] for incident in incidents)
    first, second = bridge.incident_ids[:2]
    _post(f"{bridge.url}/api/v1/incidents/{first}/ack", bridge.operator, {})
    _post(f"{bridge.url}/api/v1/incidents/{second}/exclusion", bridge.operator,
          {"reason": "third_party", "note": "the host's datacentre lost power"})
    windows = [
        {"client": "acme", "targets": ["shop"], "starts_at": rfc3339(now + dt.timedelta(days=3)),
         "ends_at": rfc3339(now + dt.timedelta(days=3, hours=2)), "description": "PHP 8.3"},
        {"client": "globex", "targets": None, "starts_at": rfc3339(now),
         "ends_at": rfc3339(now + dt.timedelta(hours=4)), "description": "disk swap",
         "emergency": True},
        {"client": "acme", "starts_at": rfc3339(now + dt.timedelta(days=5)),
         "ends_at": rfc3339(now + dt.timedelta(days=5, hours=1)), "description": "to cancel"},
    ]
    bridge.maintenance_ids = [_post(f"{bridge.url}/api/v1/maintenances", bridge.operator,
                                    window)["id"] for window in windows]
    response = requests.delete(f"{bridge.url}/api/v1/maintenances/{bridge.maintenance_ids[-1]}",
                               headers={"Authorization": f"Bearer {bridge.operator}"}, timeout=10)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def fuzzed_bridge(request, tmp_path_factory):
    """One bridge per database for every operation's test: on an empty database (as the
    ``database_url`` fixture gives), seeded, served by a real ``owl bridge``."""
    tmp_path = tmp_path_factory.mktemp(f"fuzz-{request.param}")
    database_url = database_url_for(request.param, tmp_path)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    port = free_port()
    with running_alertmanager(tmp_path) as alertmanager:
        command = [sys.executable, "-m", "owl_commands.cli", "bridge",
                   "--inventory", str(inventory), "--database", database_url,
                   "--web.listen-address", f"127.0.0.1:{port}",
                   "--alertmanager.url", alertmanager.url]
        env = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "OWL_SCRAPE_TOKEN": SCRAPE_TOKEN,
               "PATH": "/usr/bin:/bin"}
        with running(command, tmp_path / "bridge.log", env=env) as process:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{url}/healthz", process=process)
            db = Database(database_url)
            tokens = TokenStore(db, None)
            operator = tokens.add("operator", "fuzz")
            client = tokens.add("client", "client:acme", client="acme")
            db.dispose()
            bridge = FuzzedBridge(url, request.param, operator, client)
            _seed(bridge)
            assert set(bridge.incident_ids + bridge.maintenance_ids) <= set(SEEDED_IDS)
            FUZZED[bridge.database] = Counter()
            started = time.monotonic()
            yield bridge
            assert process.poll() is None, "the bridge exited during the fuzz"
    _print_tally(bridge.database, time.monotonic() - started)


def _print_tally(database: str, seconds: float) -> None:
    """What the fuzz reached (pytest -s shows it): requests per operation and status."""
    tally = FUZZED[database]
    print(f"\nfuzz on {database}: {sum(tally.values())} requests in {seconds:.0f} s")
    for operation in sorted({operation for operation, _ in tally}):
        statuses = {status: n for (op, status), n in sorted(tally.items()) if op == operation}
        print(f"  {operation}: {statuses}")


NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
# Beside random values, the fuzzer draws these: what exists, and windows it may announce.
CONFIG = schemathesis.Config.from_dict({
    "seed": SEED,
    "suppress-health-check": ["all"],
    "dictionaries": {
        "ids": {"values": list(SEEDED_IDS)},
        "clients": {"values": list(CLIENTS)},
        "months": {"values": _months(NOW)},
        "targets": {"values": ["shop", "web1", "www"]},
        "severities": {"values": ["critical", "major", "minor"]},
        "starts": {"values": [rfc3339(NOW + dt.timedelta(days=days)) for days in (3, 10, 0)]},
        "ends": {"values": [rfc3339(NOW + dt.timedelta(days=days, hours=2))
                            for days in (3, 10, 0)]},
        "alert_starts": {"values": [rfc3339(NOW - dt.timedelta(hours=hours))
                                    for hours in (1, 30, 24 * 40)]},
    },
    "parameters": {
        "path.id": {"dictionary": "ids", "probability": 0.5},
        "query.client": {"dictionary": "clients", "probability": 0.5},
        "query.month": {"dictionary": "months", "probability": 0.5},
        "body.client": {"dictionary": "clients", "probability": 0.7},
        "body.targets[*]": {"dictionary": "targets", "probability": 0.7},
        "body.starts_at": {"dictionary": "starts", "probability": 0.5},
        "body.ends_at": {"dictionary": "ends", "probability": 0.5},
        "body.alerts[*].labels.client": {"dictionary": "clients", "probability": 0.7},
        "body.alerts[*].labels.severity": {"dictionary": "severities", "probability": 0.5},
        "body.alerts[*].startsAt": {"dictionary": "alert_starts", "probability": 0.5},
    },
    "generation": {"mode": "all", "max-examples": EXAMPLES, "deterministic": True,
                   "database": "none", "no-shrink": True},
})
schema = schemathesis.openapi.from_path(
    str(resources.files("sla_bridge") / "openapi.yml"), config=CONFIG)


@schema.parametrize()
@settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None,
          suppress_health_check=list(HealthCheck))
def test_the_bridge_answers_every_fuzzed_request_as_its_openapi_says_without_a_5xx(
        case, fuzzed_bridge):
    for token in fuzzed_bridge.tokens_for(case.path):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        tally = FUZZED[fuzzed_bridge.database]
        key = (case.headers or {}).get("Idempotency-Key")
        if key is not None:
            headers["Idempotency-Key"] = _unique(key, sum(tally.values()))
        response = case.call(base_url=fuzzed_bridge.url, headers=headers, timeout=30)
        tally[case.operation.label, response.status_code] += 1
        case.validate_response(response, checks=CHECKS, headers=headers)


def _unique(key: str, number: int) -> str:
    """The generated key made this request's own (quoted or not, valid or not, as generated):
    the fuzzer draws few distinct keys, and a key reused for another request is a 422 that
    would hide the write behind it."""
    if len(key) >= 2 and key[0] == key[-1] == '"':
        return f'{key[:-1]}-{number}"'
    return f"{key}-{number}"


# What the fuzz found, each pinned on SQLite and PostgreSQL.

WINDOW = {"client": "acme", "starts_at": "2025-03-12T08:00:00Z", "ends_at": "2025-03-12T10:00:00Z",
          "description": "PHP 8.3"}


@pytest.mark.parametrize("unstorable", ["\x00", "\ud800"])
@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/incidents/1/exclusion", {"reason": "hardware", "note": "disk {}"}, "note"),
    ("/api/v1/maintenances", {**WINDOW, "description": "PHP {}"}, "description"),
    ("/api/v1/maintenances", {**WINDOW, "targets": ["shop", "w{}"]}, "targets[1]"),
])
def test_an_operators_text_no_database_stores_is_a_400_naming_its_field(
        tb, unstorable, path, body, field):
    """A NUL byte was a 503 on PostgreSQL (which Alertmanager-like clients retry forever), a
    lone surrogate a 500 on both databases."""
    tb.post_alerts(alert())
    sent = {key: (value.format(unstorable) if isinstance(value, str) else
                  [item.format(unstorable) for item in value] if isinstance(value, list)
                  else value) for key, value in body.items()}
    response = tb.as_operator("POST", path, json=sent)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["field"] == field


def test_a_body_nested_deeper_than_the_json_parser_goes_is_a_400_not_a_500(tb):
    deep = '{"reason": "hardware", "note": ' + "[" * 5000 + "]" * 5000 + "}"
    for path, token in (("/api/v1/incidents/1/exclusion", tb.operator_token),
                        ("/api/v1/alerts", WEBHOOK_TOKEN)):
        response = tb.client.post(path, data=deep, content_type="application/json",
                                  headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 400, (path, response.get_data(as_text=True))
        assert "deep" in response.json["error"]
