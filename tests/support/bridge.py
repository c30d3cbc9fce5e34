"""Building a bridge for a test: an inventory, a clock the test moves, and webhook payloads."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from owl.inventory import parse_inventory
from sla_bridge.app import BridgeConfig, create_app

UTC = dt.timezone.utc
WEBHOOK_TOKEN = "test-webhook-token"
SCRAPE_TOKEN = "test-scrape-token"

INVENTORY = """
provider:
  name: OWL SYSTEMS
  timezone: Europe/Paris
clients:
  - id: acme
    name: ACME SARL
    contract: {tier: 3, monthly_fee: "1200.00", support_24_7: true, quote: DEV-1,
               start: 2025-01-01}
    sites: [{id: shop, url: "https://shop.acme.example", cms: wordpress, shop: woocommerce}]
    servers: [{id: web1, address: 203.0.113.10}]
  - id: globex
    name: Globex
    contract: {tier: 1, monthly_fee: "450.00", quote: DEV-2, start: 2025-01-01}
    sites: [{id: www, url: "https://www.globex.example"}]
  - id: trial
    name: Trial Co
    contract: {tier: 0, monthly_fee: "0", quote: DEV-3, start: 2025-03-01, status: trial}
    sites: [{id: www, url: "https://trial.example"}]
"""


class Clock:
    """The bridge's clock, moved by the test."""

    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


def at(text: str) -> dt.datetime:
    """``"2025-03-07 17:00"`` in Paris time, as an aware UTC datetime."""
    from zoneinfo import ZoneInfo

    local = dt.datetime.fromisoformat(text).replace(tzinfo=ZoneInfo("Europe/Paris"))
    return local.astimezone(UTC)


def rfc3339(value: dt.datetime | None) -> str:
    if value is None:
        return "0001-01-01T00:00:00Z"
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def alert(alertname="SiteDown", client="acme", severity="critical", status="firing",
          starts_at: dt.datetime | None = None, ends_at: dt.datetime | None = None,
          site: str | None = "shop", **labels) -> dict:
    all_labels = {"alertname": alertname, "severity": severity, **labels}
    if client is not None:
        all_labels["client"] = client
    if site is not None:
        all_labels["site"] = site
    fingerprint = hashlib.sha256(repr(sorted(all_labels.items())).encode()).hexdigest()[:16]
    return {"status": status, "labels": all_labels,
            "annotations": {"summary": f"{alertname} on {site}", "description": "test"},
            "startsAt": rfc3339(starts_at or at("2025-03-07 09:00")), "endsAt": rfc3339(ends_at),
            "generatorURL": "http://prometheus/graph", "fingerprint": fingerprint}


def webhook(*alerts: dict) -> dict:
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {"version": "4", "groupKey": "{}:{}", "truncatedAlerts": 0, "status": status,
            "receiver": "owl-bridge", "groupLabels": {}, "commonLabels": {},
            "commonAnnotations": {}, "externalURL": "http://alertmanager:9093",
            "alerts": list(alerts)}


@dataclass
class TestBridge:
    app: object
    client: object
    clock: Clock
    operator_token: str

    @property
    def bridge(self):
        return self.app.extensions["owl"]

    def post_alerts(self, *alerts: dict, token: str = WEBHOOK_TOKEN):
        return self.client.post("/api/v1/alerts", json=webhook(*alerts),
                                headers={"Authorization": f"Bearer {token}"})

    def as_operator(self, method: str, path: str, **kwargs):
        headers = {"Authorization": f"Bearer {self.operator_token}"}
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def incidents(self, **query) -> list[dict]:
        response = self.as_operator("GET", "/api/v1/incidents", query_string=query)
        assert response.status_code == 200, response.json
        return response.json["incidents"]


def make_bridge(database_url: str, now: dt.datetime, inventory_text: str = INVENTORY
                ) -> TestBridge:
    clock = Clock(now)
    inventory = parse_inventory(inventory_text, "test-inventory.yml")
    app = create_app(BridgeConfig(database_url, inventory, WEBHOOK_TOKEN, clock=clock,
                                  scrape_token=SCRAPE_TOKEN))
    token = app.extensions["owl"].tokens.add("operator", "alice", now=now)
    return TestBridge(app, app.test_client(), clock, token)
