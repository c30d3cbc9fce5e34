"""The bridge's metrics: the families it exposes and their labels, series by client and severity
that do not grow with incidents, and an exposition promtool accepts. On SQLite and PostgreSQL."""

from __future__ import annotations

import subprocess

import pytest
from prometheus_client import generate_latest

from sla_bridge.engine.alerts import SEVERITIES
from sla_bridge.engine.lifecycle import SLA_STATUSES
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
    "owl_incident_deadline_timestamp_seconds": (
        "gauge", {"client", "severity", "incident_id", "alertname"}),
    "owl_sla_penalty_rate": ("gauge", {"client"}),
    "owl_sla_penalty_amount_euros": ("gauge", {"client"}),
    "owl_sla_penalty_cap_used_ratio": ("gauge", {"client"}),
    "owl_sla_month_incidents": ("gauge", {"client", "severity", "sla"}),
    "owl_sla_ledger_line_amount_euros": ("gauge", {"client", "incident_id", "severity"}),
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


def test_each_open_incident_with_an_sla_has_its_deadline(incidents):
    deadlines = series(incidents, "owl_incident_deadline_timestamp_seconds")
    assert {dict(labels)["alertname"] for labels in deadlines} == {"SiteDown", "DiskFull"}
    assert {dict(labels)["client"] for labels in deadlines} == {"acme", "globex"}
    assert {dict(labels)["incident_id"] for labels in deadlines} == {"1", "2", "3"}


def test_this_months_penalty_metrics_are_the_apis_ledger(incidents):
    ledger = incidents.as_operator("GET", "/api/v1/ledger",
                                   query_string={"client": "acme", "month": "2025-03"}).json
    [line] = ledger["lines"]
    assert value(incidents, "owl_sla_penalty_amount_euros", client="acme") == \
        float(ledger["total"])
    assert value(incidents, "owl_sla_penalty_rate", client="acme") == \
        float(ledger["applied_rate"])
    assert value(incidents, "owl_sla_ledger_line_amount_euros", client="acme",
                 incident_id=str(line["incident_id"]), severity="critical") == \
        float(line["amount"])


def test_metrics_show_open_incidents_deadlines_and_contracts(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")))
    registry = tb.bridge.registry
    assert registry.get_sample_value(
        "owl_incidents_open", {"client": "acme", "severity": "critical"}) == 1
    assert registry.get_sample_value(
        "owl_incidents_total", {"client": "acme", "severity": "critical"}) == 1
    assert registry.get_sample_value(
        "owl_incident_deadline_timestamp_seconds",
        {"client": "acme", "severity": "critical", "incident_id": "1", "alertname": "SiteDown"}
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


def test_counters_and_month_counts_have_a_series_per_client_and_severity_however_many_incidents(
        tb):
    names = ("owl_incidents_total", "owl_sla_breaches_total", "owl_sla_month_incidents")
    before = {name: set(series(tb, name)) for name in names}
    tb.post_alerts(*[alert(alertname=f"Alert{n}", severity=SEVERITIES[n % 3],
                           starts_at=at("2025-03-07 05:00")) for n in range(30)])
    assert {name: set(series(tb, name)) for name in names} == before
    assert len(before["owl_incidents_total"]) == len(CLIENTS) * len(SEVERITIES)
    assert len(before["owl_sla_month_incidents"]) == \
        len(CLIENTS) * len(SEVERITIES) * len(SLA_STATUSES)
    assert value(tb, "owl_sla_month_incidents", client="acme", severity="critical",
                 sla="breached") == 10


def test_an_incidents_deadline_series_ends_when_it_is_acknowledged_or_resolved(incidents):
    assert len(series(incidents, "owl_incident_deadline_timestamp_seconds")) == 3
    incidents.as_operator("POST", "/api/v1/incidents/2/ack")
    incidents.post_alerts(alert(client="globex", site="www", severity="minor", status="resolved",
                                ends_at=at("2025-03-07 13:30")))
    [(labels, _)] = series(incidents, "owl_incident_deadline_timestamp_seconds").items()
    assert dict(labels)["incident_id"] == "1"


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
