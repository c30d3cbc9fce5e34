"""Odd but valid alerts are stored, not refused: NUL bytes and lone surrogates replaced, values
longer than their column cut with a digest, unknown severities kept out of the contract (and of
the metrics' label values); times no month can be computed for are a 400 naming the field; every
4xx of a delivery is logged with its reason and counted. On SQLite and PostgreSQL."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import select

from sla_bridge.metrics import MAX_UNKNOWN_ALERTNAMES
from sla_bridge.storage.schema import Event, Incident
from sla_bridge.webhook import bounded
from tests.support.bridge import WEBHOOK_TOKEN, alert, webhook

REPLACEMENT = "\ufffd"


def metric(tb, name: str, **labels) -> float:
    return tb.bridge.registry.get_sample_value(name, labels) or 0.0


def altered(tb, reason: str) -> float:
    return metric(tb, "owl_bridge_alert_values_altered_total", reason=reason)


def stored_incidents(tb) -> list[Incident]:
    with tb.bridge.db.read() as session:
        return session.scalars(select(Incident).order_by(Incident.id)).all()


def accepted(tb, *alerts: dict) -> dict:
    response = tb.post_alerts(*alerts)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.json


# --- characters no database stores ------------------------------------------------------------

@pytest.mark.parametrize("odd", ["\ud800", "\x00", "\udfff"], ids=["high", "nul", "low"])
def test_a_nul_or_lone_surrogate_in_labels_annotations_and_fingerprint_is_stored_replaced(
        tb, odd):
    sent = alert(alertname=f"S{odd}", site=f"shop{odd}", **{f"team{odd}": f"ops{odd}"})
    sent["annotations"] = {f"summary{odd}": f"down{odd}"}
    sent["fingerprint"] = f"f{odd}00d"
    assert accepted(tb, sent)["created"] == 1
    [incident] = stored_incidents(tb)
    assert (incident.alertname, incident.target, incident.fingerprint) == (
        f"S{REPLACEMENT}", f"shop{REPLACEMENT}", f"f{REPLACEMENT}00d")
    assert incident.labels[f"team{REPLACEMENT}"] == f"ops{REPLACEMENT}"
    assert altered(tb, "replaced") == 7  # 3 label values, a label name, 2 annotation parts, fp
    assert tb.post_alerts(sent).json["duplicates"] == 1  # the same news, replaced the same way


def test_a_valid_surrogate_pair_is_kept_as_the_character_it_encodes(tb):
    accepted(tb, alert(alertname="Site\U0001F525"))  # JSON "\ud83d\udd25"
    assert stored_incidents(tb)[0].alertname == "Site\U0001F525"
    assert altered(tb, "replaced") == 0


# --- values longer than their column ----------------------------------------------------------

@pytest.mark.parametrize("label, limit, column", [
    ("alertname", 255, "alertname"), ("site", 128, "target"), ("server", 128, "target"),
    ("client", 64, "client"),
])
def test_a_label_longer_than_its_column_is_stored_cut_with_a_digest_keeping_values_apart(
        tb, label, limit, column):
    first, second = "x" * 5000 + "a", "x" * 5000 + "b"
    kinds = {"site": None} if label == "server" else {}
    body = accepted(tb, alert(**{**kinds, label: first}), alert(**{**kinds, label: second}))
    assert body["created"] == 2
    values = [getattr(incident, column) for incident in stored_incidents(tb)]
    assert values == [bounded(first, limit), bounded(second, limit)]
    assert all(len(value) == limit and value.startswith("x" * 50) for value in values)
    assert values[0] != values[1]
    assert altered(tb, "truncated") == 2


def test_a_value_that_fits_is_not_touched_and_not_counted(tb):
    accepted(tb, alert(alertname="A" * 255, site="s" * 128))
    [incident] = stored_incidents(tb)
    assert (incident.alertname, incident.target) == ("A" * 255, "s" * 128)
    assert altered(tb, "truncated") == 0


def test_an_alert_stored_cut_is_replayed_the_same(tb):
    accepted(tb, alert(alertname="L" * 1000))
    with tb.bridge.db.read() as session:
        [event] = session.scalars(select(Event).where(Event.kind == "alert")).all()
    assert event.payload["labels"]["alertname"] == bounded("L" * 1000, 255)
    assert tb.post_alerts(alert(alertname="L" * 1000)).json["duplicates"] == 1


# --- times ------------------------------------------------------------------------------------

@pytest.mark.parametrize("field, value", [
    ("startsAt", "9999-12-31T23:30:00-01:00"),  # year 10000 in UTC: OverflowError was a 500
    ("endsAt", "9999-12-31T23:30:00-01:00"),
    ("startsAt", "0002-06-01T00:00:00Z"),  # stored with the month "2-06"
    ("startsAt", "1969-12-31T23:59:59Z"),
    ("startsAt", "9999-01-01T00:00:00Z"),
    ("endsAt", "0002-06-01T00:00:00Z"),
])
def test_a_time_outside_the_years_computed_is_a_400_naming_the_field_and_stores_nothing(
        tb, field, value):
    good = alert()
    odd = {**alert(alertname="Other", status="resolved"), field: value}
    response = tb.post_alerts(good, odd)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert response.json["field"] == f"alerts[1].{field}"
    assert "1970 to 9998" in response.json["error"]
    assert stored_incidents(tb) == []


@pytest.mark.parametrize("value", ["1970-01-01T00:00:00Z", "9998-12-31T23:59:59Z", "9998-12-31T13:59:59-10:00"])
def test_the_first_and_last_years_are_accepted(tb, value):
    assert accepted(tb, {**alert(), "startsAt": value})["created"] == 1


# --- unknown severities -----------------------------------------------------------------------

@pytest.mark.parametrize("severity", ["urgent", "U" * 10_000, "CRITICAL!"])
def test_an_unknown_severity_is_stored_without_sla_as_unknown_with_the_label_kept_cut(
        tb, severity):
    accepted(tb, alert(alertname="WeirdRule", severity=severity))
    [incident] = stored_incidents(tb)
    assert (incident.severity, incident.sla, incident.sla_basis, incident.deadline) == (
        "unknown", "no_sla", "no_sla", None)
    assert incident.labels["severity"] == bounded(severity, 32)
    [served] = tb.incidents()
    assert (served["severity"], served["sla"]) == ("unknown", "no_sla")


def test_contract_severities_in_any_case_and_none_keep_their_meaning(tb):
    accepted(tb, alert(severity="Critical"), alert(alertname="Watchdog2", severity="none"))
    assert [(i.severity, i.sla) for i in stored_incidents(tb)] == [
        ("critical", "pending"), ("none", "no_sla")]
    assert metric(tb, "owl_bridge_alerts_unknown_severity_total", alertname="Watchdog2") == 0


def test_an_unknown_severity_is_counted_by_rule_and_never_becomes_a_severity_label(tb):
    accepted(tb, alert(alertname="WeirdRule", severity="urgent"),
             alert(alertname="WeirdRule", severity="x" * 10_000, site="blog"))
    assert metric(tb, "owl_bridge_alerts_unknown_severity_total", alertname="WeirdRule") == 2
    assert metric(tb, "owl_incidents_total", client="acme", severity="unknown") == 2
    severities = {sample.labels["severity"] for family in tb.bridge.registry.collect()
                  for sample in family.samples if "severity" in sample.labels}
    assert severities <= {"critical", "major", "minor", "none", "unknown"}


def test_the_unknown_severity_counters_alertnames_are_cut_and_bounded_in_number(tb):
    long_name = "R" * 500
    accepted(tb, alert(alertname=long_name, severity="urgent"))
    accepted(tb, *[alert(alertname=f"Rule{n}", severity="urgent")
                   for n in range(MAX_UNKNOWN_ALERTNAMES + 20)])
    names = {sample.labels["alertname"]: sample.value for family in tb.bridge.registry.collect()
             if family.name == "owl_bridge_alerts_unknown_severity"
             for sample in family.samples if sample.name.endswith("_total")}
    assert names[bounded(bounded(long_name, 255), 64)] == 1  # as stored, then cut
    assert len(names) == MAX_UNKNOWN_ALERTNAMES + 1
    assert names["_other"] == 21
    assert max(len(name) for name in names) == 64


# --- every 4xx logged and counted -------------------------------------------------------------

def refused(tb, status: str, reason: str) -> float:
    return metric(tb, "owl_bridge_deliveries_refused_total", status=status, reason=reason)


def test_a_wrong_token_is_refused_logged_without_the_token_and_counted(tb, caplog):
    with caplog.at_level(logging.WARNING, logger="owl.bridge.webhook"):
        response = tb.post_alerts(alert(), token="not-the-webhook-token-s3cr3t")
    assert response.status_code == 401
    assert refused(tb, "401", "unauthenticated") == 1
    [record] = [r for r in caplog.records if r.name == "owl.bridge.webhook"]
    assert "401" in record.getMessage() and "unauthenticated" in record.getMessage()
    assert "s3cr3t" not in caplog.text and WEBHOOK_TOKEN not in caplog.text


def test_an_operator_token_on_the_webhook_is_a_counted_403(tb):
    response = tb.client.post("/api/v1/alerts", json=webhook(alert()),
                              headers={"Authorization": f"Bearer {tb.operator_token}"})
    assert response.status_code == 403
    assert refused(tb, "403", "forbidden") == 1


def test_a_body_that_is_not_json_is_a_counted_400(tb, caplog):
    with caplog.at_level(logging.WARNING, logger="owl.bridge.webhook"):
        response = tb.client.post("/api/v1/alerts", data="{not json",
                                  content_type="application/json",
                                  headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert response.status_code == 400
    assert refused(tb, "400", "not_json") == 1
    assert "not_json" in caplog.text


def test_an_invalid_alert_is_a_counted_400_logged_with_its_field(tb, caplog):
    with caplog.at_level(logging.WARNING, logger="owl.bridge.webhook"):
        response = tb.post_alerts({**alert(), "startsAt": "yesterday"})
    assert response.status_code == 400
    assert refused(tb, "400", "invalid_payload") == 1
    assert "alerts[0].startsAt" in caplog.text


def test_an_accepted_delivery_counts_no_refusal(tb):
    accepted(tb, alert())
    assert sum(sample.value for family in tb.bridge.registry.collect()
               if family.name == "owl_bridge_deliveries_refused"
               for sample in family.samples if sample.name.endswith("_total")) == 0
