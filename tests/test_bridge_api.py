"""The bridge's HTTP interface, on SQLite and on PostgreSQL."""

import pytest
from sqlalchemy import select

from sla_bridge.api.alerts import MAX_BODY_BYTES
from sla_bridge.storage.schema import Event

from tests.support.bridge import WEBHOOK_TOKEN, alert, at, webhook


def test_a_firing_alert_opens_one_incident_for_its_client(tb):
    response = tb.post_alerts(alert(starts_at=at("2025-03-07 09:58")))
    assert response.status_code == 200
    assert response.json == {"received": 1, "created": 1, "updated": 0, "duplicates": 0}
    [incident] = tb.incidents()
    assert incident["client"] == "acme"
    assert incident["severity"] == "critical"
    assert incident["state"] == "open"
    assert incident["sla"] == "pending"
    assert incident["target"] == "shop"
    assert incident["started_at"] == "2025-03-07T08:58:00Z"
    # acme has 24/7 support: the critical clock is the wall clock, 4 h.
    assert incident["deadline"] == "2025-03-07T12:58:00Z"
    assert incident["summary"] == "SiteDown on shop"


def test_the_same_payload_delivered_twice_changes_nothing(tb):
    payload = alert(starts_at=at("2025-03-07 09:58"))
    tb.post_alerts(payload)
    before = tb.incidents()
    second = tb.post_alerts(payload)
    assert second.status_code == 200
    assert second.json["created"] == 0 and second.json["duplicates"] == 1
    assert tb.incidents() == before


def test_a_resolved_alert_resolves_its_incident_at_ends_at_not_at_receipt(tb):
    start = at("2025-03-07 09:58")
    tb.post_alerts(alert(starts_at=start))
    tb.clock.advance(hours=1)
    tb.post_alerts(alert(status="resolved", starts_at=start, ends_at=at("2025-03-07 10:20")))
    [incident] = tb.incidents()
    assert incident["state"] == "resolved"
    assert incident["resolved_at"] == "2025-03-07T09:20:00Z"
    assert incident["sla"] == "resolved_without_response"


def test_an_operator_acknowledges_an_incident_once(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:58")))
    [incident] = tb.incidents()
    tb.clock.advance(minutes=5)
    first = tb.as_operator("POST", f"/api/v1/incidents/{incident['id']}/ack")
    assert first.status_code == 200
    assert first.json["state"] == "acknowledged"
    assert first.json["acknowledged_by"] == "alice"
    assert first.json["acknowledged_at"] == "2025-03-07T09:05:00Z"
    assert first.json["sla"] == "met"
    tb.clock.advance(minutes=5)
    again = tb.as_operator("POST", f"/api/v1/incidents/{incident['id']}/ack")
    assert again.json["acknowledged_at"] == "2025-03-07T09:05:00Z"


def test_acknowledging_an_unknown_incident_is_a_404(tb):
    assert tb.as_operator("POST", "/api/v1/incidents/999/ack").status_code == 404
    assert tb.as_operator("POST", "/api/v1/incidents/abc/ack").status_code == 404


def test_alerts_without_a_client_are_recorded_as_provider_internal(tb):
    response = tb.post_alerts(alert(alertname="OwlExporterDown", client=None, site=None,
                                    starts_at=at("2025-03-07 09:00")))
    assert response.status_code == 200
    [incident] = tb.incidents()
    assert incident["client"] is None
    assert incident["sla"] == "no_sla"
    assert incident["deadline"] is None


WATCHDOG = {"alertname": "Watchdog", "client": None, "site": None, "severity": "none"}
LAST_WATCHDOG = "owl_bridge_watchdog_last_received_timestamp_seconds"


def test_the_watchdog_is_kept_in_the_history_but_opens_no_incident(tb):
    response = tb.post_alerts(alert(**WATCHDOG, starts_at=at("2025-03-07 09:00")),
                              alert(starts_at=at("2025-03-07 09:58")))
    assert response.json == {"received": 2, "created": 1, "updated": 0, "duplicates": 0}
    assert [i["alertname"] for i in tb.incidents()] == ["SiteDown"]
    with tb.bridge.db.read() as session:
        history = session.execute(select(Event.payload, Event.incident_id)
                                  .where(Event.kind == "alert").order_by(Event.id)).all()
    assert [(p["labels"]["alertname"], incident is None) for p, incident in history] \
        == [("Watchdog", True), ("SiteDown", False)]


def test_every_delivery_of_the_watchdog_counts_as_heard_redeliveries_included(tb):
    registry = tb.bridge.registry
    started = at("2025-03-07 10:00").timestamp()
    assert registry.get_sample_value(LAST_WATCHDOG) == started  # the start, until it comes
    watchdog = alert(**WATCHDOG, starts_at=at("2025-03-07 09:00"))
    tb.clock.advance(minutes=3)
    tb.post_alerts(watchdog)
    assert registry.get_sample_value(LAST_WATCHDOG) == started + 180
    tb.clock.advance(hours=1)
    assert tb.post_alerts(watchdog).json["received"] == 1
    assert registry.get_sample_value(LAST_WATCHDOG) == started + 180 + 3600
    assert tb.incidents() == []


def test_a_client_alert_named_watchdog_is_an_ordinary_incident(tb):
    tb.post_alerts(alert(alertname="Watchdog", starts_at=at("2025-03-07 09:58")))
    [incident] = tb.incidents()
    assert incident["client"] == "acme" and incident["sla"] == "pending"
    assert tb.bridge.registry.get_sample_value(LAST_WATCHDOG) == at("2025-03-07 10:00").timestamp()


def test_alerts_for_an_unknown_client_are_accepted_without_sla(tb):
    assert tb.post_alerts(alert(client="nobody", starts_at=at("2025-03-07 09:00"))
                          ).status_code == 200
    [incident] = tb.incidents()
    assert incident["client"] == "nobody"
    assert incident["sla"] == "no_sla"


def test_a_tier_zero_trial_client_gets_incidents_without_sla(tb):
    tb.post_alerts(alert(client="trial", site="www", starts_at=at("2025-03-07 09:00")))
    [incident] = tb.incidents()
    assert incident["sla"] == "no_sla"


def test_incidents_can_be_filtered_by_client_state_and_month(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")),
                   alert(client="globex", site="www", severity="major",
                         starts_at=at("2025-03-07 09:30")))
    assert [i["client"] for i in tb.incidents(client="globex")] == ["globex"]
    assert len(tb.incidents(status="open")) == 2
    assert tb.incidents(month="2025-02") == []
    assert len(tb.incidents(month="2025-03")) == 2


@pytest.mark.parametrize("query, field", [
    ({"status": "closed"}, "status"),
    ({"sla": "fine"}, "sla"),
    ({"month": "2025-13"}, "month"),
    ({"limit": "-1"}, "limit"),
    ({"limit": "100000"}, "limit"),
])
def test_a_bad_query_parameter_is_a_400_naming_it(tb, query, field):
    response = tb.as_operator("GET", "/api/v1/incidents", query_string=query)
    assert response.status_code == 400
    assert response.json["field"] == field


def test_an_unknown_client_filter_is_a_404(tb):
    response = tb.as_operator("GET", "/api/v1/incidents", query_string={"client": "nobody"})
    assert response.status_code == 404


@pytest.mark.parametrize("headers", [
    {},
    {"Authorization": "Bearer wrong"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": "Bearer "},
])
def test_the_webhook_refuses_a_missing_or_wrong_token(tb, headers):
    response = tb.client.post("/api/v1/alerts", json=webhook(alert()), headers=headers)
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert tb.incidents() == []


def test_an_operator_token_cannot_post_alerts_and_the_webhook_token_cannot_read(tb):
    response = tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")), token=tb.operator_token)
    assert response.status_code == 403
    listing = tb.client.get("/api/v1/incidents",
                            headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert listing.status_code == 403


def test_reads_and_acknowledgements_need_a_token(tb):
    assert tb.client.get("/api/v1/incidents").status_code == 401
    assert tb.client.get("/api/v1/incidents/1").status_code == 401
    assert tb.client.post("/api/v1/incidents/1/ack").status_code == 401


@pytest.mark.parametrize("body, field", [
    ({"version": "3", "alerts": []}, "version"),
    ({"version": "4"}, "alerts"),
    ({"version": "4", "alerts": ["x"]}, "alerts[0]"),
    ({"version": "4", "alerts": [{**alert(), "status": "pending"}]}, "alerts[0].status"),
    ({"version": "4", "alerts": [{**alert(), "labels": {"a": 1}}]}, "alerts[0].labels"),
    ({"version": "4", "alerts": [{**alert(), "startsAt": "yesterday"}]}, "alerts[0].startsAt"),
    ({"version": "4", "alerts": [{**alert(), "startsAt": "2025-03-07T10:00:00"}]},
     "alerts[0].startsAt"),
    ({"version": "4", "alerts": [alert(), {**alert(), "annotations": []}]},
     "alerts[1].annotations"),
])
def test_a_malformed_webhook_is_a_400_naming_the_field_and_stores_nothing(tb, body, field):
    response = tb.client.post("/api/v1/alerts", json=body,
                              headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert response.status_code == 400
    assert response.json["field"] == field
    assert tb.incidents() == []


def test_a_body_that_is_not_json_is_a_400(tb):
    response = tb.client.post("/api/v1/alerts", data="{not json",
                              content_type="application/json",
                              headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert response.status_code == 400


def test_a_body_over_the_size_limit_is_a_413_and_stores_nothing(tb):
    big = webhook(alert())
    big["padding"] = "x" * MAX_BODY_BYTES  # the webhook's limit (sla_bridge.api.alerts)
    response = tb.client.post("/api/v1/alerts", json=big,
                              headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert response.status_code == 413
    assert tb.incidents() == []


def test_healthz_answers_ok(tb):
    assert tb.client.get("/healthz").json == {"status": "ok", "database": "reachable",
                                              "writes": "ok"}


def test_the_openapi_description_is_served(tb):
    response = tb.client.get("/api/v1/openapi.yml")
    assert response.status_code == 200
    assert b"/api/v1/alerts" in response.data
