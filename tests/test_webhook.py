"""Alertmanager's webhook payload (version 4) read into notices: what a real Alertmanager sends,
Go's time format, and errors that name the field they are about."""

from __future__ import annotations

import datetime as dt
import queue

import pytest
from flask import Flask, request

from sla_bridge.webhook import (PayloadError, fingerprint_of, parse_delivery, parse_payload,
                                parse_time)
from tests.support.alertmanager import prometheus_alert, serving
from tests.support.bridge import alert, at, webhook

UTC = dt.timezone.utc
RECEIVED = at("2025-03-07 10:00")


def parsed(*alerts: dict):
    return parse_payload(webhook(*alerts), RECEIVED)


def refusal(payload) -> PayloadError:
    with pytest.raises(PayloadError) as raised:
        parse_payload(payload, RECEIVED)
    return raised.value


def capturing_app(deliveries: queue.Queue) -> Flask:
    """A stand-in for the bridge's webhook that keeps every body Alertmanager posts."""
    app = Flask("webhook-capture")

    @app.post("/api/v1/alerts")
    def receive():
        deliveries.put(request.get_json())
        return "", 200

    return app


# --- what Alertmanager sends -----------------------------------------------------------------

def test_what_a_real_alertmanager_delivers_firing_then_resolved_reads_as_notices(alertmanager):
    deliveries = queue.Queue()
    labels = {"alertname": "SiteDown", "severity": "critical", "client": "acme", "site": "shop"}
    started = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=10)
    ended = started + dt.timedelta(minutes=5)
    with serving(capturing_app(deliveries), alertmanager.webhook_port):
        alertmanager.post_alerts(prometheus_alert(labels, started, summary="shop is down"))
        firing = deliveries.get(timeout=30)
        alertmanager.post_alerts(prometheus_alert(labels, started, ended, summary="shop is down"))
        resolved = deliveries.get(timeout=30)
    [notice] = parse_payload(firing, RECEIVED)
    assert (notice.status, notice.labels, notice.starts_at, notice.ends_at) == (
        "firing", labels, started, None)
    assert notice.annotations == {"summary": "shop is down"}
    assert notice.fingerprint == firing["alerts"][0]["fingerprint"]
    assert notice.received_at == RECEIVED
    [notice] = parse_payload(resolved, RECEIVED)
    assert (notice.status, notice.starts_at, notice.ends_at) == ("resolved", started, ended)
    assert notice.fingerprint == firing["alerts"][0]["fingerprint"]


def test_notices_come_in_the_order_of_the_payloads_alerts():
    names = ["SiteDown", "CertificateExpiring", "BackupMissing"]
    notices = parsed(*[alert(alertname=name) for name in names])
    assert [notice.alertname for notice in notices] == names


def test_a_firing_alert_has_no_end_even_when_alertmanager_gives_one():
    start, end = at("2025-03-07 09:00"), at("2025-03-07 09:05")
    [notice] = parsed(alert(starts_at=start, ends_at=end))
    assert (notice.starts_at, notice.ends_at) == (start, None)


def test_an_alert_without_a_fingerprint_gets_a_digest_of_its_labels_whatever_their_order():
    first = {"alertname": "SiteDown", "client": "acme", "site": "shop"}
    second = {"site": "shop", "client": "acme", "alertname": "SiteDown"}
    without = {key: value for key, value in alert().items() if key != "fingerprint"}
    [notice] = parsed({**without, "labels": first})
    assert notice.fingerprint == fingerprint_of(second) == fingerprint_of(first)
    assert len(notice.fingerprint) == 16
    assert fingerprint_of({**first, "site": "blog"}) != notice.fingerprint


def test_annotations_may_be_left_out():
    without = {key: value for key, value in alert().items() if key != "annotations"}
    [notice] = parsed(without)
    assert notice.annotations == {}


# --- Go's timestamps -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("2025-03-07T09:00:00Z", dt.datetime(2025, 3, 7, 9, 0, tzinfo=UTC)),
    ("2025-03-07T10:00:00+01:00", dt.datetime(2025, 3, 7, 9, 0, tzinfo=UTC)),
    ("2025-03-07T09:00:00.123456789Z", dt.datetime(2025, 3, 7, 9, 0, 0, 123456, tzinfo=UTC)),
    ("2025-03-07T09:00:00.5+02:00", dt.datetime(2025, 3, 7, 7, 0, 0, 500000, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", None),
])
def test_timestamps_are_rfc_3339_read_to_the_microsecond_in_utc_and_gos_zero_is_none(
        text, expected):
    parsed_time = parse_time(text, "startsAt")
    assert parsed_time == expected
    assert parsed_time is None or parsed_time.tzinfo is UTC


# --- errors that name the field --------------------------------------------------------------

def test_a_body_that_is_not_an_object_is_refused_as_the_body():
    error = refusal(["not", "an", "object"])
    assert error.field == "(body)"
    assert str(error) == "(body): expected a JSON object"


@pytest.mark.parametrize("version", [None, "3", 4])
def test_only_version_4_is_read(version):
    error = refusal({**webhook(alert()), "version": version})
    assert error.field == "version"
    assert str(error) == f"version: expected \"4\" (Alertmanager webhook), got {version!r}"


def test_alerts_must_be_a_list():
    assert refusal({**webhook(), "alerts": {}}).field == "alerts"


@pytest.mark.parametrize("change, field, message", [
    ({"status": "pending"}, "alerts[1].status", "expected 'firing' or 'resolved'"),
    ({"labels": {"severity": 1}}, "alerts[1].labels", "expected an object of string values"),
    ({"labels": None}, "alerts[1].labels", "expected an object of string values"),
    ({"annotations": []}, "alerts[1].annotations", "expected an object of string values"),
    ({"startsAt": None}, "alerts[1].startsAt", "expected an RFC 3339 timestamp string"),
    ({"startsAt": "yesterday"}, "alerts[1].startsAt",
     "'yesterday' is not an RFC 3339 timestamp"),
    ({"startsAt": "2025-03-07T09:00:00"}, "alerts[1].startsAt",
     "'2025-03-07T09:00:00' has no timezone"),
    ({"startsAt": "0001-01-01T00:00:00Z"}, "alerts[1].startsAt", "is required"),
    ({"status": "resolved", "endsAt": 0}, "alerts[1].endsAt",
     "expected an RFC 3339 timestamp string"),
    ({"fingerprint": "f" * 65}, "alerts[1].fingerprint",
     "expected a string of at most 64 characters"),
    ({"fingerprint": 12}, "alerts[1].fingerprint", "expected a string of at most 64 characters"),
])
def test_a_bad_alert_is_refused_with_its_position_and_field(change, field, message):
    error = refusal(webhook(alert(), {**alert(), **change}))
    assert error.field == field
    assert str(error) == f"{field}: {message}"


@pytest.mark.parametrize("ends_at", [0, "soon", "9999-12-31T23:30:00-01:00"])
def test_a_firing_alerts_unreadable_end_does_not_refuse_its_group(ends_at):
    notices = parse_payload(webhook(alert(), {**alert(), "endsAt": ends_at}), RECEIVED)
    assert [n.ends_at for n in notices] == [None, None]


def test_an_alert_that_is_not_an_object_is_refused_by_its_position():
    error = refusal(webhook(alert(), "SiteDown"))
    assert (error.field, str(error)) == ("alerts[1]", "alerts[1]: expected an object")


# --- what Alertmanager says of the group -----------------------------------------------------

def test_a_delivery_says_how_many_alerts_max_alerts_left_out_and_of_which_group():
    payload = {**webhook(alert()), "truncatedAlerts": 5000, "receiver": "owl-bridge",
               "groupLabels": {"client": "acme"}}
    delivery = parse_delivery(payload, RECEIVED)
    assert (delivery.truncated, delivery.group_labels, delivery.receiver) == (
        5000, {"client": "acme"}, "owl-bridge")
    assert len(delivery.notices) == 1


def test_a_whole_group_needs_no_group_labels():
    delivery = parse_delivery({**webhook(alert()), "groupLabels": None}, RECEIVED)
    assert (delivery.truncated, delivery.group_labels) == (0, {})


@pytest.mark.parametrize("change, field", [
    ({"truncatedAlerts": -1}, "truncatedAlerts"),
    ({"truncatedAlerts": "12"}, "truncatedAlerts"),
    ({"truncatedAlerts": True}, "truncatedAlerts"),
    ({"truncatedAlerts": 3, "groupLabels": {"client": 1}}, "groupLabels"),
])
def test_an_unreadable_count_of_left_out_alerts_is_refused_naming_it(change, field):
    assert refusal({**webhook(alert()), **change}).field == field
