"""The bridge's metrics: the families it exposes and their labels, series by client and severity
that do not grow with incidents (no series per incident or ledger line), and an exposition
promtool accepts. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import subprocess
from decimal import Decimal

import pytest
from prometheus_client import generate_latest

from sla_bridge.engine.alerts import SEVERITIES
from tests.support.binaries import require_binary
from tests.support.bridge import INVENTORY, SCRAPE_TOKEN, alert, at, make_bridge

CLIENT_SEVERITY = {"client", "severity"}
# family -> its type and the labels of each of its series (a histogram's buckets add "le")
FAMILIES = {
    "owl_incidents": ("counter", CLIENT_SEVERITY),
    "owl_sla_breaches": ("counter", CLIENT_SEVERITY),
    "owl_incident_time_to_acknowledge_seconds": ("histogram", {"severity"}),
    "owl_bridge_watchdog_last_received_timestamp_seconds": ("gauge", set()),
    "owl_bridge_deliveries_refused": ("counter", {"status", "reason"}),
    "owl_bridge_alert_values_altered": ("counter", {"reason"}),
    "owl_bridge_alerts_unknown_severity": ("counter", {"alertname"}),
    "owl_bridge_truncated_alerts": ("counter", set()),
    "owl_bridge_truncated_alerts_fetched": ("counter", set()),
    "owl_incidents_open": ("gauge", CLIENT_SEVERITY),
    "owl_incidents_awaiting_acknowledgement": ("gauge", CLIENT_SEVERITY),
    "owl_incident_next_deadline_timestamp_seconds": ("gauge", CLIENT_SEVERITY),
    "owl_incidents_open_past_deadline": ("gauge", CLIENT_SEVERITY),
    "owl_sla_penalty_rate": ("gauge", {"client"}),
    "owl_sla_penalty_amount_euros": ("gauge", {"client"}),
    "owl_sla_penalty_cap_used_ratio": ("gauge", {"client"}),
    "owl_sla_ledger_lines_amount_euros": ("gauge", CLIENT_SEVERITY),
    "owl_sla_month_incidents": ("gauge", {"client", "severity", "sla"}),
    "owl_maintenance_windows_active": ("gauge", {"client"}),
    "owl_maintenance_site_covered": ("gauge", {"client", "site"}),
    "owl_notifications_unsent": ("gauge", {"client", "kind"}),
    "owl_client_contract": ("info", {"client", "tier", "support_24_7", "status"}),
    "owl_client_monitoring_end_timestamp_seconds": ("gauge", {"client"}),
    "owl_client_data_without_contract": ("gauge", {"client"}),
}
CLIENTS = ("acme", "globex", "trial")  # tests.support.bridge.INVENTORY's


@pytest.fixture
def incidents(tb):
    """Four incidents opened at 09:00, seen at 14:00: acme's critical one is past its 13:00
    deadline, the provider's own has no client and no deadline."""
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")),
                   alert(alertname="DiskFull", severity="major", site=None, server="web1"),
                   alert(client="globex", site="www", severity="minor"),
                   alert(alertname="OwlExporterDown", client=None, site=None, severity="major"))
    tb.clock.now = at("2025-03-07 14:00")
    return tb


def families(tb) -> dict:
    return {family.name: family for family in tb.bridge.registry.collect()}


def series(tb, name: str) -> dict[tuple, float]:
    """The samples named ``name``, by their sorted label pairs."""
    return {tuple(sorted(sample.labels.items())): sample.value
            for family in tb.bridge.registry.collect() for sample in family.samples
            if sample.name == name}


def value(tb, name: str, **labels) -> float | None:
    return tb.bridge.registry.get_sample_value(name, labels)


# --- families and labels ---------------------------------------------------------------------

def test_the_bridge_exposes_these_families_and_no_others(incidents):
    assert {name: family.type for name, family in families(incidents).items()} == {
        name: kind for name, (kind, _) in FAMILIES.items()}


def test_every_series_of_a_family_has_the_familys_labels(incidents):
    for name, family in families(incidents).items():
        labels = FAMILIES[name][1]
        assert {frozenset(sample.labels) - {"le"} for sample in family.samples} <= {
            frozenset(labels)}, name


def test_open_incidents_are_counted_by_client_and_severity_the_providers_as_internal(incidents):
    assert series(incidents, "owl_incidents_open") == {
        (("client", "acme"), ("severity", "critical")): 1,
        (("client", "acme"), ("severity", "major")): 1,
        (("client", "globex"), ("severity", "minor")): 1,
        (("client", "_internal"), ("severity", "major")): 1,
    }
    assert value(incidents, "owl_incidents_total", client="_internal", severity="major") == 1


def deadline_of(tb, incident_id: int) -> float:
    incident = tb.as_operator("GET", f"/api/v1/incidents/{incident_id}").json
    return dt.datetime.fromisoformat(incident["deadline"].replace("Z", "+00:00")).timestamp()


def test_incidents_with_an_sla_are_counted_as_awaiting_or_past_their_deadline(incidents):
    assert series(incidents, "owl_incidents_awaiting_acknowledgement") == {
        (("client", "acme"), ("severity", "major")): 1,
        (("client", "globex"), ("severity", "minor")): 1,
    }
    assert series(incidents, "owl_incidents_open_past_deadline") == {
        (("client", "acme"), ("severity", "critical")): 1}  # 13:00, seen at 14:00


def test_the_nearest_deadline_of_the_incidents_awaiting_acknowledgement_is_by_client_and_severity(
        incidents):
    incidents.post_alerts(alert(alertname="BackupLate", severity="major", site=None,
                                server="web1", starts_at=at("2025-03-07 13:00")))
    assert series(incidents, "owl_incident_next_deadline_timestamp_seconds") == {
        (("client", "acme"), ("severity", "major")): deadline_of(incidents, 2),  # 09:00's
        (("client", "globex"), ("severity", "minor")): deadline_of(incidents, 3),
    }
    assert deadline_of(incidents, 2) < deadline_of(incidents, 5)
    assert value(incidents, "owl_incidents_awaiting_acknowledgement", client="acme",
                 severity="major") == 2


def test_this_months_penalty_metrics_are_the_apis_ledger(incidents):
    ledger = incidents.as_operator("GET", "/api/v1/ledger",
                                   query_string={"client": "acme", "month": "2025-03"}).json
    [line] = ledger["lines"]
    assert value(incidents, "owl_sla_penalty_amount_euros", client="acme") == \
        float(ledger["total"])
    assert value(incidents, "owl_sla_penalty_rate", client="acme") == \
        float(ledger["applied_rate"])
    assert series(incidents, "owl_sla_ledger_lines_amount_euros") == {
        (("client", "acme"), ("severity", "critical")): float(line["amount"])}


def test_ledger_lines_are_summed_by_severity_before_the_cap(tb):
    tb.post_alerts(*[alert(alertname=f"Down{n}", starts_at=at("2025-03-07 05:00"))
                     for n in range(4)])
    ledger = tb.as_operator("GET", "/api/v1/ledger",
                            query_string={"client": "acme", "month": "2025-03"}).json
    breaches = [line for line in ledger["lines"] if line["incident_id"] is not None]
    assert len(breaches) == 4 and len(ledger["lines"]) == 5  # and the cap's adjustment
    assert value(tb, "owl_sla_ledger_lines_amount_euros", client="acme",
                 severity="critical") == float(sum(Decimal(line["amount"]) for line in breaches))
    assert value(tb, "owl_sla_penalty_amount_euros", client="acme") == float(ledger["total"])


def test_metrics_show_open_incidents_deadlines_and_contracts(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")))
    registry = tb.bridge.registry
    assert registry.get_sample_value(
        "owl_incidents_open", {"client": "acme", "severity": "critical"}) == 1
    assert registry.get_sample_value(
        "owl_incidents_total", {"client": "acme", "severity": "critical"}) == 1
    assert registry.get_sample_value(
        "owl_incident_next_deadline_timestamp_seconds", {"client": "acme", "severity": "critical"}
    ) == at("2025-03-07 13:00").timestamp()
    assert registry.get_sample_value(
        "owl_client_contract_info",
        {"client": "acme", "tier": "3", "support_24_7": "true", "status": "active"}) == 1
    scraped = tb.client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
    assert b"owl_incidents_open" in scraped.data


def test_the_time_to_acknowledge_is_observed_in_seconds_from_the_clock_start(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:55")))
    tb.as_operator("POST", "/api/v1/incidents/1/ack")
    buckets = {le: value(tb, "owl_incident_time_to_acknowledge_seconds_bucket",
                         severity="critical", le=le) for le in ("60.0", "300.0", "900.0")}
    assert buckets == {"60.0": 0, "300.0": 1, "900.0": 1}
    assert value(tb, "owl_incident_time_to_acknowledge_seconds_sum", severity="critical") == 300


# --- bounded series ------------------------------------------------------------------------------

def test_incident_counters_exist_at_zero_before_the_first_incident(tb):
    registry = tb.bridge.registry
    for severity in ("critical", "major", "minor"):
        labels = {"client": "globex", "severity": severity}
        assert registry.get_sample_value("owl_incidents_total", labels) == 0
        assert registry.get_sample_value("owl_sla_breaches_total", labels) == 0
        assert registry.get_sample_value("owl_incident_time_to_acknowledge_seconds_count",
                                         {"severity": severity}) == 0


def test_counters_have_a_series_per_client_and_severity_however_many_incidents(tb):
    names = ("owl_incidents_total", "owl_sla_breaches_total")
    before = {name: set(series(tb, name)) for name in names}
    tb.post_alerts(*[alert(alertname=f"Alert{n}", severity=SEVERITIES[n % 3],
                           starts_at=at("2025-03-07 05:00")) for n in range(30)])
    assert {name: set(series(tb, name)) for name in names} == before
    assert len(before["owl_incidents_total"]) == len(CLIENTS) * len(SEVERITIES)


def test_counters_carry_no_created_series(tb):
    tb.post_alerts(alert())
    exposition = generate_latest(tb.bridge.registry).decode()
    assert "_created" not in exposition
    assert "owl_incidents_total{" in exposition


def test_this_months_incidents_are_counted_by_sla_status_only_where_there_are_some(tb):
    tb.post_alerts(*[alert(alertname=f"Alert{n}", severity=SEVERITIES[n % 3],
                           starts_at=at("2025-03-07 05:00")) for n in range(30)])
    assert series(tb, "owl_sla_month_incidents") == {
        (("client", "acme"), ("severity", "critical"), ("sla", "breached")): 10,  # 4 h
        (("client", "acme"), ("severity", "major"), ("sla", "pending")): 10,
        (("client", "acme"), ("severity", "minor"), ("sla", "pending")): 10,
    }


def client_series(tb, client: str) -> set[tuple]:
    return {(sample.name, tuple(sorted(sample.labels.items())))
            for family in tb.bridge.registry.collect() for sample in family.samples
            if sample.labels.get("client") == client}


def open_incidents(tb, count: int, first: int = 0) -> None:
    """``count`` incidents of acme: each severity, half of them past their deadline."""
    alerts = [alert(alertname=f"Alert{n}", severity=SEVERITIES[n % 3],
                    starts_at=at("2025-03-04 09:00") if n % 2 else at("2025-03-07 09:30"))
              for n in range(first, first + count)]
    for batch in range(0, len(alerts), 100):
        assert tb.post_alerts(*alerts[batch:batch + 100]).status_code == 200


def test_a_clients_series_are_as_many_with_600_open_incidents_as_with_6(tb):
    open_incidents(tb, 6)
    with_6 = client_series(tb, "acme")
    open_incidents(tb, 594, first=6)
    assert value(tb, "owl_incidents_open", client="acme", severity="minor") == 200
    assert client_series(tb, "acme") == with_6
    assert len(with_6) <= 30
    assert {name for name, _ in with_6} >= {
        "owl_incidents_open", "owl_incidents_awaiting_acknowledgement",
        "owl_incident_next_deadline_timestamp_seconds", "owl_incidents_open_past_deadline",
        "owl_sla_ledger_lines_amount_euros", "owl_sla_month_incidents"}


def test_acknowledging_or_resolving_moves_the_incident_out_of_the_deadline_series(incidents):
    incidents.as_operator("POST", "/api/v1/incidents/2/ack")
    incidents.post_alerts(alert(client="globex", site="www", severity="minor", status="resolved",
                                ends_at=at("2025-03-07 13:30")))
    assert series(incidents, "owl_incidents_awaiting_acknowledgement") == {}
    assert series(incidents, "owl_incident_next_deadline_timestamp_seconds") == {}
    assert series(incidents, "owl_incidents_open_past_deadline") == {
        (("client", "acme"), ("severity", "critical")): 1}
    incidents.as_operator("POST", "/api/v1/incidents/1/ack")  # late: still breached, still open
    assert value(incidents, "owl_incidents_open_past_deadline", client="acme",
                 severity="critical") == 1


# --- the exposition ------------------------------------------------------------------------------

def test_the_exposition_passes_promtool_check_metrics(incidents):
    exposition = generate_latest(incidents.bridge.registry)
    check = subprocess.run([require_binary("promtool"), "check", "metrics"], input=exposition,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def test_metrics_say_when_monitoring_ends_at_local_midnight_for_a_termination_or_a_trial(
        database_url):
    terminated = INVENTORY.replace(
        'contract: {tier: 1, monthly_fee: "450.00", quote: DEV-2, start: 2025-01-01}',
        'contract: {tier: 1, monthly_fee: "450.00", quote: DEV-2, start: 2025-01-01,\n'
        '               status: terminated, terminated_on: 2025-08-31}')
    assert terminated != INVENTORY
    tb = make_bridge(database_url, at("2025-03-07 10:00"), terminated)
    try:
        ends = {client: tb.bridge.registry.get_sample_value(
                    "owl_client_monitoring_end_timestamp_seconds", {"client": client})
                for client in ("acme", "globex", "trial")}
    finally:
        tb.bridge.db.dispose()
    assert ends == {"acme": None,
                    "globex": at("2025-08-31 00:00").timestamp(),  # Paris, summer time
                    "trial": at("2025-04-01 00:00").timestamp()}  # a month after its start
