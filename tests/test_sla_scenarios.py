"""The SLA rules end to end through the bridge's API, on SQLite and PostgreSQL."""

import csv
import io

import pytest

from tests.support.bridge import INVENTORY, alert, at, make_bridge

SUSPENDED = INVENTORY.replace(
    "contract: {tier: 1, monthly_fee: \"450.00\", quote: DEV-2, start: 2025-01-01}",
    "contract: {tier: 1, monthly_fee: \"450.00\", quote: DEV-2, start: 2025-01-01,\n"
    "               status: suspended, suspended_since: 2025-03-05}")
TERMINATED = INVENTORY.replace(
    "contract: {tier: 1, monthly_fee: \"450.00\", quote: DEV-2, start: 2025-01-01}",
    "contract: {tier: 1, monthly_fee: \"450.00\", quote: DEV-2, start: 2025-01-01,\n"
    "               status: terminated, terminated_on: 2025-12-24}")


def only(tb, **query):
    [incident] = tb.incidents(**query)
    return incident


def ack(tb, incident_id, token=None):
    return tb.as_operator("POST", f"/api/v1/incidents/{incident_id}/ack")


# --- deadlines by severity and contract ----------------------------------------------------

@pytest.mark.parametrize("name, client, severity, start, deadline", [
    ("a critical incident of a 24/7 client runs 4 h on the wall clock", "acme", "critical",
     "2025-03-07 17:00", "2025-03-07 21:00"),
    ("a critical incident of a 24/7 client at night is due at night", "acme", "critical",
     "2025-03-08 02:00", "2025-03-08 06:00"),
    ("a critical incident without 24/7 runs 4 business hours", "globex", "critical",
     "2025-03-07 17:00", "2025-03-10 12:00"),
    ("a major incident runs 24 business hours", "acme", "major", "2025-03-07 17:00",
     "2025-03-12 14:00"),
    ("a minor incident runs 48 business hours", "globex", "minor", "2025-03-07 17:00",
     "2025-03-17 11:00"),
    ("a major incident starting on a Sunday counts from Monday's opening", "acme", "major",
     "2025-03-09 15:00", "2025-03-12 15:00"),
])
def test_deadlines(tb, name, client, severity, start, deadline):
    tb.clock.now = at(start)
    site = "shop" if client == "acme" else "www"
    tb.post_alerts(alert(client=client, site=site, severity=severity, starts_at=at(start)))
    assert only(tb)["deadline"] == at(deadline).isoformat().replace("+00:00", "Z"), name


def test_response_times_can_be_overridden_per_contract(database_url):
    inventory = INVENTORY.replace("quote: DEV-2,", "quote: DEV-2, response_times: {major: 8h},")
    tb = make_bridge(database_url, at("2025-03-07 17:00"), inventory)
    tb.post_alerts(alert(client="globex", site="www", severity="major",
                         starts_at=at("2025-03-07 17:00")))
    assert only(tb)["deadline"] == "2025-03-10T15:00:00Z"  # Monday 16:00 Paris
    tb.bridge.db.dispose()


# --- every SLA status ------------------------------------------------------------------------

def test_an_incident_acknowledged_in_time_is_met(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:00")))
    tb.clock.advance(hours=3, minutes=59)
    assert ack(tb, 1).json["sla"] == "met"


def test_an_incident_acknowledged_late_is_breached_and_priced(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:00")))
    tb.clock.advance(hours=4, minutes=1)
    body = ack(tb, 1).json
    assert body["sla"] == "breached"
    assert body["penalty_rate"] == "0.03"


def test_a_breach_shows_within_a_minute_of_the_deadline_with_no_request(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:00")))
    tb.clock.now = at("2025-03-07 14:00:30")
    assert tb.bridge.service.refresh_statuses() == 1  # the scheduled job, every 15 s
    assert tb.bridge.registry.get_sample_value(
        "owl_sla_breaches_total", {"client": "acme", "severity": "critical"}) == 1
    assert only(tb)["sla"] == "breached"


def test_an_incident_resolved_before_its_deadline_without_ack_is_not_a_breach(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:00")))
    tb.clock.advance(hours=1)
    tb.post_alerts(alert(status="resolved", starts_at=at("2025-03-07 10:00"),
                         ends_at=at("2025-03-07 10:30")))
    tb.clock.advance(days=2)
    assert only(tb)["sla"] == "resolved_without_response"


def test_a_late_resolution_dated_before_the_deadline_corrects_the_status(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:00")))
    tb.clock.now = at("2025-03-07 15:00")
    tb.bridge.service.refresh_statuses()
    assert only(tb)["sla"] == "breached"
    tb.post_alerts(alert(status="resolved", starts_at=at("2025-03-07 10:00"),
                         ends_at=at("2025-03-07 13:00")))
    assert only(tb)["sla"] == "resolved_without_response"


def test_an_incident_unacknowledged_at_its_deadline_stays_breached_after_resolving(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:00")))
    tb.clock.now = at("2025-03-07 15:00")
    tb.post_alerts(alert(status="resolved", starts_at=at("2025-03-07 10:00"),
                         ends_at=at("2025-03-07 14:30")))
    assert only(tb)["sla"] == "breached"


def test_a_provider_internal_incident_has_no_sla(tb):
    tb.post_alerts(alert(alertname="PrometheusRuleEvaluationFailing", client=None, site=None,
                         severity="major"))
    assert only(tb)["sla"] == "no_sla"


def test_an_incident_started_while_suspended_is_suspended(database_url):
    tb = make_bridge(database_url, at("2025-03-07 10:00"), SUSPENDED)
    tb.post_alerts(alert(client="globex", site="www", starts_at=at("2025-03-04 10:00")),
                   alert(client="globex", site="www", alertname="SiteSlow", severity="major",
                         starts_at=at("2025-03-06 10:00")))
    statuses = {i["alertname"]: i["sla"] for i in tb.incidents()}
    assert statuses == {"SiteDown": "breached", "SiteSlow": "suspended"}
    tb.bridge.db.dispose()


def test_an_incident_excluded_with_a_reason_is_excluded_and_the_exclusion_can_be_withdrawn(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:00")))
    tb.clock.advance(hours=5)
    excluded = tb.as_operator("POST", "/api/v1/incidents/1/exclusion",
                              json={"reason": "third_party", "note": "OVH outage"})
    assert excluded.status_code == 200
    assert excluded.json["sla"] == "excluded"
    assert excluded.json["exclusion"]["reason"] == "third_party"
    withdrawn = tb.as_operator("DELETE", "/api/v1/incidents/1/exclusion")
    assert withdrawn.json["sla"] == "breached"
    assert withdrawn.json["exclusion"] is None


@pytest.mark.parametrize("body, field", [
    ({"reason": "bad_luck", "note": "x"}, "reason"),
    ({"reason": "third_party"}, "note"),
    ({"reason": "third_party", "note": "   "}, "note"),
    ({"reason": "third_party", "note": 3}, "note"),
])
def test_an_exclusion_needs_a_listed_reason_and_a_note(tb, body, field):
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:00")))
    response = tb.as_operator("POST", "/api/v1/incidents/1/exclusion", json=body)
    assert response.status_code == 400 and response.json["field"] == field
    assert only(tb)["exclusion"] is None


def test_an_incident_without_sla_cannot_be_excluded(tb):
    tb.post_alerts(alert(client=None, site=None))
    response = tb.as_operator("POST", "/api/v1/incidents/1/exclusion",
                              json={"reason": "third_party", "note": "x"})
    assert response.status_code == 409


def test_operators_actions_are_audited_with_before_and_after(tb):
    from sla_bridge.storage.schema import Event
    from sqlalchemy import select

    tb.post_alerts(alert(starts_at=at("2025-03-07 10:00")))
    tb.clock.advance(minutes=10)
    ack(tb, 1)
    ack(tb, 1)  # idempotent: not audited twice
    tb.as_operator("POST", "/api/v1/incidents/1/exclusion",
                   json={"reason": "hardware", "note": "disk"})
    tb.as_operator("DELETE", "/api/v1/incidents/1/exclusion")
    with tb.bridge.db.read() as session:
        audit = session.scalars(select(Event).where(Event.kind != "alert",
                                                    Event.kind != "contract")
                                .order_by(Event.id)).all()
    assert [(e.kind, e.actor, e.payload["before"]["sla"], e.payload["after"]["sla"])
            for e in audit] == [("ack", "alice", "pending", "met"),
                                ("exclusion", "alice", "met", "excluded"),
                                ("exclusion_withdrawn", "alice", "excluded", "met")]
    assert audit[0].at == at("2025-03-07 10:10")


# --- incidents from alerts -----------------------------------------------------------------

def test_a_start_in_the_future_is_clamped_to_the_receipt_time(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:30")))
    assert only(tb)["started_at"] == "2025-03-07T09:00:00Z"


def test_a_historical_alert_keeps_its_start_and_can_be_breached_already(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-01 10:00")))
    incident = only(tb)
    assert incident["started_at"] == "2025-03-01T09:00:00Z"
    assert incident["sla"] == "breached"


def test_a_refiring_within_the_reopen_window_reopens_the_incident(tb):
    start = at("2025-03-07 10:00")
    tb.post_alerts(alert(starts_at=start))
    tb.post_alerts(alert(status="resolved", starts_at=start, ends_at=at("2025-03-07 10:10")))
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:35")))
    incident = only(tb)
    assert incident["state"] == "open" and incident["resolved_at"] is None
    assert incident["started_at"] == "2025-03-07T09:00:00Z"


def test_a_refiring_after_the_reopen_window_is_a_new_incident(tb):
    start = at("2025-03-07 10:00")
    tb.post_alerts(alert(starts_at=start))
    tb.post_alerts(alert(status="resolved", starts_at=start, ends_at=at("2025-03-07 10:10")))
    tb.clock.now = at("2025-03-07 11:00")
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:41")))
    assert [i["state"] for i in tb.incidents()] == ["open", "resolved"]


def test_two_clustered_alertmanagers_delivering_the_same_alerts_make_one_incident_each(tb):
    batch = [alert(alertname=f"A{n}", starts_at=at("2025-03-07 09:00")) for n in range(5)]
    first, second = tb.post_alerts(*batch), tb.post_alerts(*reversed(batch))
    assert first.json["created"] == 5 and second.json["duplicates"] == 5
    assert len(tb.incidents()) == 5


# --- the ledger ------------------------------------------------------------------------------

def breach(tb, severity, start):
    tb.clock.now = at(start)
    tb.post_alerts(alert(alertname=f"Alert{start}", severity=severity, starts_at=at(start)))


@pytest.fixture
def worked_example(tb):
    """sla-rules.md section 5: 1 critical, 2 major, 1 minor breached in March on 1200.00."""
    for severity, start in [("critical", "2025-03-03 10:00"), ("major", "2025-03-04 10:00"),
                            ("major", "2025-03-05 10:00"), ("minor", "2025-03-06 10:00")]:
        breach(tb, severity, start)
    tb.clock.now = at("2025-04-02 10:00")
    tb.bridge.service.refresh_statuses()
    return tb


def test_the_worked_example_ledger(worked_example):
    response = worked_example.as_operator("GET", "/api/v1/ledger",
                                          query_string={"client": "acme", "month": "2025-03"})
    ledger = response.json
    assert [(line["kind"], line["severity"], line["rate"], line["amount"])
            for line in ledger["lines"]] == [
        ("breach", "critical", "0.03", "36.00"), ("breach", "major", "0.015", "18.00"),
        ("breach", "major", "0.015", "18.00"), ("breach", "minor", "0.005", "6.00"),
        ("cap_adjustment", None, "-0.015", "-18.00")]
    assert (ledger["monthly_fee"], ledger["rate_total"], ledger["cap_rate"],
            ledger["applied_rate"], ledger["total"]) == ("1200.00", "0.065", "0.05", "0.05",
                                                         "60.00")


def test_the_ledger_as_csv_adds_up(worked_example):
    response = worked_example.as_operator(
        "GET", "/api/v1/ledger", query_string={"client": "acme", "month": "2025-03",
                                               "format": "csv"})
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.data.decode())))
    from decimal import Decimal

    lines, total = rows[:-1], rows[-1]
    assert total["kind"] == "total" and total["amount"] == "60.00"
    assert sum(Decimal(r["amount"]) for r in lines) == Decimal("60.00")


def test_excluded_and_met_incidents_are_not_in_the_ledger(tb):
    breach(tb, "critical", "2025-03-03 10:00")
    breach(tb, "major", "2025-03-04 10:00")
    tb.clock.now = at("2025-04-02 10:00")
    tb.as_operator("POST", "/api/v1/incidents/1/exclusion",
                   json={"reason": "zero_day", "note": "CVE"})
    ledger = tb.as_operator("GET", "/api/v1/ledger",
                            query_string={"client": "acme", "month": "2025-03"}).json
    assert [line["incident_id"] for line in ledger["lines"]] == [2]
    assert ledger["total"] == "18.00"


@pytest.mark.parametrize("query, status, field", [
    ({"month": "2025-03"}, 400, "client"),
    ({"client": "acme"}, 400, "month"),
    ({"client": "acme", "month": "March"}, 400, "month"),
    ({"client": "acme", "month": "2025-03", "format": "xml"}, 400, "format"),
    ({"client": "nobody", "month": "2025-03"}, 404, "client"),
])
def test_a_bad_ledger_query_is_a_clear_4xx(tb, query, status, field):
    response = tb.as_operator("GET", "/api/v1/ledger", query_string=query)
    assert response.status_code == status and response.json["field"] == field


# --- termination -----------------------------------------------------------------------------

def test_a_terminated_clients_data_is_exported_then_deleted_after_seven_working_days(
        database_url):
    from sla_bridge.retention import delete_due_clients

    tb = make_bridge(database_url, at("2025-12-22 10:00"), TERMINATED)
    tb.post_alerts(alert(client="globex", site="www", starts_at=at("2025-12-22 09:00")),
                   alert(starts_at=at("2025-12-22 09:00")))
    export = tb.as_operator("GET", "/api/v1/export", query_string={"client": "globex"}).json
    assert export["deletion_due"] == "2026-01-06"  # 24 Dec + 7 jours ouvrés
    assert len(export["incidents"]) == 1 and export["events"]

    service = tb.bridge.service
    tb.clock.now = at("2026-01-05 23:00")
    assert delete_due_clients(tb.bridge.db, service.terms, tb.clock()) == []
    tb.clock.now = at("2026-01-06 00:30")
    assert delete_due_clients(tb.bridge.db, service.terms, tb.clock()) == ["globex"]
    assert delete_due_clients(tb.bridge.db, service.terms, tb.clock()) == []  # idempotent

    assert [i["client"] for i in tb.incidents()] == ["acme"]
    gone = tb.as_operator("GET", "/api/v1/export", query_string={"client": "globex"})
    assert gone.status_code == 410 and "deleted on 2026-01-05T23:30:00Z" in gone.json["error"]
    tb.bridge.db.dispose()


WITHOUT_GLOBEX = INVENTORY[:INVENTORY.index("  - id: globex")] + \
    INVENTORY[INVENTORY.index("  - id: trial"):]


def restarted(tb, database_url, inventory):
    """The same database, served again after the inventory changed."""
    tb.bridge.db.dispose()
    return make_bridge(database_url, tb.clock(), inventory)


def events_of(tb, client):
    from sqlalchemy import select

    from sla_bridge.storage.schema import Event

    with tb.bridge.db.read() as session:
        return session.scalars(select(Event.kind).where(Event.client == client)).all()


def test_a_terminated_client_removed_from_the_inventory_is_still_deleted_on_its_day(
        database_url):
    from sla_bridge.retention import delete_due_clients

    tb = make_bridge(database_url, at("2025-12-22 10:00"), TERMINATED)
    tb.post_alerts(alert(client="globex", site="www", starts_at=at("2025-12-22 09:00")))
    tb = restarted(tb, database_url, WITHOUT_GLOBEX)
    terms = tb.bridge.service.terms
    assert "globex" not in terms
    tb.clock.now = at("2026-01-05 23:00")
    assert delete_due_clients(tb.bridge.db, terms, tb.clock()) == []
    tb.clock.now = at("2026-01-06 00:30")
    assert delete_due_clients(tb.bridge.db, terms, tb.clock()) == ["globex"]
    assert events_of(tb, "globex") == [] and tb.incidents() == []
    tb.bridge.db.dispose()


def test_a_client_removed_without_termination_keeps_its_data_and_is_reported(database_url):
    from sla_bridge.retention import delete_due_clients

    tb = make_bridge(database_url, at("2025-12-22 10:00"))
    tb.post_alerts(alert(client="globex", site="www", starts_at=at("2025-12-22 09:00")))
    metric = ("owl_client_data_without_contract", {"client": "globex"})
    assert tb.bridge.registry.get_sample_value(*metric) is None
    tb = restarted(tb, database_url, WITHOUT_GLOBEX)
    tb.clock.now = at("2027-01-01 10:00")
    assert delete_due_clients(tb.bridge.db, tb.bridge.service.terms, tb.clock()) == []
    assert [i["client"] for i in tb.incidents()] == ["globex"]
    assert tb.bridge.registry.get_sample_value(*metric) == 1
    tb = restarted(tb, database_url, INVENTORY)  # put back: nothing to report any more
    assert tb.bridge.registry.get_sample_value(*metric) is None
    tb.bridge.db.dispose()


def test_a_deleted_client_left_in_the_inventory_gets_no_new_record(database_url):
    from sla_bridge.retention import delete_due_clients

    tb = make_bridge(database_url, at("2026-01-06 10:00"), TERMINATED)
    assert events_of(tb, "globex") == ["contract"]
    assert delete_due_clients(tb.bridge.db, tb.bridge.service.terms, tb.clock()) == ["globex"]
    tb = restarted(tb, database_url, TERMINATED)
    assert events_of(tb, "globex") == []
    assert tb.bridge.registry.get_sample_value("owl_client_data_without_contract",
                                               {"client": "globex"}) is None
    tb.bridge.db.dispose()


def test_this_months_penalties_are_exported_as_metrics(worked_example):
    tb = worked_example
    tb.clock.now = at("2025-03-31 23:00")
    registry = tb.bridge.registry
    assert registry.get_sample_value("owl_sla_penalty_rate", {"client": "acme"}) == 0.05
    assert registry.get_sample_value("owl_sla_penalty_amount_euros", {"client": "acme"}) == 60
    assert registry.get_sample_value("owl_sla_penalty_cap_used_ratio", {"client": "acme"}) == 1
    assert registry.get_sample_value("owl_sla_penalty_rate", {"client": "globex"}) == 0
    assert registry.get_sample_value("owl_sla_penalty_rate", {"client": "trial"}) is None
    tb.clock.now = at("2025-04-01 00:30")
    assert registry.get_sample_value("owl_sla_penalty_rate", {"client": "acme"}) == 0


def test_this_months_incidents_and_ledger_lines_are_exported_for_the_dashboards(worked_example):
    tb = worked_example
    tb.clock.now = at("2025-03-31 23:00")
    registry = tb.bridge.registry

    def month(severity, sla, client="acme"):
        return registry.get_sample_value("owl_sla_month_incidents",
                                         {"client": client, "severity": severity, "sla": sla})

    assert (month("critical", "breached"), month("major", "breached"),
            month("minor", "breached")) == (1, 2, 1)
    assert month("critical", "met") is None  # only the statuses that have incidents
    assert month("major", "pending", client="globex") is None

    def lines(severity):
        return registry.get_sample_value("owl_sla_ledger_lines_amount_euros",
                                         {"client": "acme", "severity": severity})

    # the ledger's lines by severity, before the cap; the total is after it
    assert (lines("critical"), lines("major"), lines("minor")) == (36, 36, 6)  # 78
    assert registry.get_sample_value("owl_sla_penalty_amount_euros", {"client": "acme"}) == 60
