"""What a monthly report says is what the API and Prometheus say: May 2026 of a tier-3 client,
lived through a real bridge (tests/support/report_month.py) and backfilled into a real
Prometheus, gathered by sla_bridge.reports.build."""

from __future__ import annotations

import csv
import io

import pytest
import requests

from dashboards.queries import expand, load_dashboards, panel_queries
from sla_bridge.reports.build import ReportSources, build_report
from sla_bridge.reports.model import summary
from sla_bridge.reports.prometheus import Prometheus
from sla_bridge.replay import export_events, replay
from tests.support.bridge import at
from tests.support.processes import free_port
from tests.support.prometheus_history import prometheus_with
from tests.support.report_month import CLIENT, MONTH, live_the_month, month_history
from tests.support.smtp import smtp_server


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report-month")
    with smtp_server() as smtp:
        test = live_the_month(f"sqlite:///{folder / 'bridge.db'}", smtp.port)
    with prometheus_with(month_history(), folder / "prometheus") as url:
        yield test, url


def content_of(test, url, client=CLIENT, month_=MONTH):
    sources = ReportSources(test.bridge.service, test.bridge.config.inventory,
                            Prometheus(url) if url else None)
    return build_report(sources, client, month_, test.clock.now)


def dashboard_value(url: str, title: str, site: str) -> float:
    """The client dashboard's panel ``title`` for ``site``, over May, straight from Prometheus."""
    dashboard = load_dashboards()["client-overview.json"]
    expr = next(q.expr for q in panel_queries("client-overview.json", dashboard)
                if q.panel == title)
    sent = expand(expr, {"client": CLIENT, "site": site, "__range": f"{31 * 86400}s"})
    answer = requests.get(f"{url}/api/v1/query", timeout=10,
                          params={"query": sent, "time": at("2026-06-01 00:00").timestamp()})
    [sample] = answer.json()["data"]["result"]
    return float(sample["value"][1])


def test_the_report_ledger_is_the_ledger_the_api_gives(month):
    test, url = month
    api = test.as_operator("GET", "/api/v1/ledger", query_string={"client": CLIENT,
                                                                  "month": MONTH})
    content = content_of(test, url)
    assert content.ledger == api.json
    assert content.ledger["total"] == "60.00"
    assert [line["kind"] for line in content.ledger["lines"]] == [
        "breach", "breach", "cap_adjustment"]


def test_the_report_lists_the_incidents_the_api_lists_for_the_month(month):
    test, url = month
    listed = test.incidents(client=CLIENT, month=MONTH, limit=500)
    content = content_of(test, url)
    assert sorted(row.id for row in content.incidents) == sorted(row["id"] for row in listed)
    by_id = {row["id"]: row for row in listed}
    assert {row.id: row.sla for row in content.incidents} == {
        row_id: row["sla"] for row_id, row in by_id.items()}
    assert len(content.incidents) == 7


def test_the_excluded_incident_keeps_its_reason_and_note(month):
    test, url = month
    [excluded] = [row for row in content_of(test, url).incidents if row.sla == "excluded"]
    assert (excluded.exclusion_reason, excluded.exclusion_note) == (
        "third_party", "Panne du réseau de l'hébergeur, ticket 88231")


def test_a_deadline_moved_by_a_public_holiday_names_the_holiday(month):
    test, url = month
    [moved] = [row for row in content_of(test, url).incidents
               if row.alertname == "SiteCertificateInvalid"]
    assert moved.wall_clock is False
    assert [day.isoformat() for day in moved.holidays] == ["2026-05-08"]
    assert moved.deadline == at("2026-05-11 11:00")


def test_the_security_incident_carries_when_the_client_was_notified(month):
    test, url = month
    [security] = content_of(test, url).security_incidents
    assert security.alertname == "SiteDefaced"
    assert security.security_notified_at == at("2026-05-26 09:30")


def test_the_availability_is_what_the_client_dashboard_computes(month):
    test, url = month
    targets = {row.target: row for row in content_of(test, url).availability.targets}
    for site in ("boutique", "vitrine"):
        assert targets[site].ratio == pytest.approx(
            dashboard_value(url, "Availability this month", site), abs=1e-12)
        assert targets[site].downtime_minutes == pytest.approx(
            dashboard_value(url, "Downtime this month", site), abs=1e-9)
    assert targets["boutique"].downtime_minutes == 300
    assert targets["vitrine"].downtime_minutes == 40


def test_the_planned_window_is_left_out_of_the_measured_minutes(month):
    test, url = month
    targets = {row.target: row for row in content_of(test, url).availability.targets}
    assert targets["vitrine"].measured_minutes == 31 * 24 * 60
    assert targets["boutique"].measured_minutes == 31 * 24 * 60 - 60


def test_the_days_add_up_to_the_month(month):
    test, url = month
    for target in content_of(test, url).availability.targets:
        if target.ratio is None:
            continue
        days = [day for day in target.days if day.downtime_minutes is not None]
        assert sum(day.downtime_minutes for day in days) == pytest.approx(
            target.downtime_minutes)
        assert len(target.days) == 31
    boutique = next(t for t in content_of(test, url).availability.targets
                    if t.target == "boutique")
    assert [day.day.day for day in boutique.days if day.ratio is not None and day.ratio < 1] \
        == [4]


def test_the_report_quotes_the_expressions_it_asked_prometheus(month):
    test, url = month
    availability = content_of(test, url).availability
    assert availability.source == url
    assert any('client="lune"' in expr and "sum_over_time" in expr
               for expr in availability.expressions)


def test_tier_three_facts_come_from_the_probes_as_of_the_month_end(month):
    test, url = month
    content = content_of(test, url)
    software = {row.site: row for row in content.security.software}
    assert (software["boutique"].version, software["boutique"].core_update_available,
            software["boutique"].component_updates) == ("6.5.3", True, 2)
    assert [(v.site, v.id) for v in content.security.vulnerabilities] == [
        ("boutique", "CVE-2026-1234")]
    assert [(f.site, f.path) for f in content.security.exposed_files] == [
        ("vitrine", "/CHANGELOG.txt")]
    [backup] = content.operations.backups
    assert (backup.server, backup.backup, backup.tool, backup.check_success) == (
        "web1", "files", "restic", True)
    assert backup.last_snapshot == at("2026-05-31 21:50")  # 2 h before the last facts


def test_a_tier_one_report_has_no_security_or_backup_section(month):
    test, url = month
    content = content_of(test, url, client="soleil")
    assert content.security is None and content.operations is None
    assert content.ledger["total"] == "0.00"


def test_interventions_outside_opening_hours_are_listed_with_who_and_when(month):
    test, url = month
    rows = content_of(test, url).interventions
    assert [(row.at, row.action) for row in rows] == [
        (at("2026-05-12 20:30"), "exclusion"), (at("2026-05-16 02:20"), "ack"),
        (at("2026-05-23 03:00"), "maintenance_created")]
    assert {row.actor for row in rows} == {"alice"}


def test_the_operators_csv_of_interventions_has_the_same_rows(month):
    test, _ = month
    response = test.as_operator("GET", "/api/v1/interventions",
                                query_string={"month": MONTH, "format": "csv"})
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [(row["client"], row["local_time"], row["action"]) for row in rows] == [
        ("lune", "2026-05-12 20:30", "exclusion"), ("lune", "2026-05-16 02:20", "ack"),
        ("lune", "2026-05-23 03:00", "maintenance_created")]


def test_a_client_without_twenty_four_seven_support_is_the_only_kind_billed(month):
    test, url = month
    support = test.bridge.service.terms[CLIENT].support_24_7
    assert support is False
    assert test.as_operator("GET", "/api/v1/interventions", query_string={
        "month": MONTH, "client": "soleil"}).json["interventions"] == []


def test_the_interventions_api_names_a_bad_month(month):
    test, _ = month
    response = test.as_operator("GET", "/api/v1/interventions", query_string={"month": "May"})
    assert response.status_code == 400
    assert response.json["field"] == "month"


def test_without_prometheus_the_report_says_its_figures_are_missing(month):
    test, _ = month
    content = content_of(test, None)
    assert content.availability.targets == ()
    assert content.notes and "Prometheus" in content.notes[0]
    assert content.ledger["total"] == "60.00"


def test_an_unreachable_prometheus_is_named_in_the_report(month):
    test, _ = month
    address = f"http://127.0.0.1:{free_port()}"
    content = content_of(test, address)
    assert address in content.availability.error
    assert content.security is None


def test_a_month_not_yet_begun_is_refused(month):
    test, url = month
    with pytest.raises(ValueError, match="month"):
        content_of(test, url, month_="2026-07")


def test_a_replay_of_the_exported_events_gives_the_same_incidents_and_ledger(month, tmp_path):
    test, url = month
    exported = list(export_events(test.bridge.db, test.clock.now))
    replayed = replay(test.bridge.config.inventory, exported, workdir=tmp_path)
    try:
        again = build_report(ReportSources(replayed.service, test.bridge.config.inventory,
                                           None), CLIENT, MONTH, test.clock.now)
    finally:
        replayed.close()
    live, recomputed = summary(content_of(test, url)), summary(again)
    keys = ("id", "severity", "target", "started_at", "deadline", "acknowledged_at",
            "acknowledged_by", "resolved_at", "sla", "penalty_rate", "exclusion_reason")
    assert [{k: row[k] for k in keys} for row in recomputed["incidents"]] == [
        {k: row[k] for k in keys} for row in live["incidents"]]
    assert recomputed["ledger"] == live["ledger"]
    assert recomputed["interventions"] == live["interventions"]
