"""GET /api/v1/reports and one report by id: an operator reads every client's, a client token
its own only (another client's is the 404 of one that does not exist), the PDF is the stored
bytes with their SHA-256; on SQLite and on PostgreSQL, with reports produced for real."""

from __future__ import annotations

import hashlib

import pytest

from sla_bridge.reports.build import ReportSources
from sla_bridge.reports.delivery import ReportProducer
from sla_bridge.reports.store import add_report
from tests.support.bridge import alert, at
from tests.test_report_delivery import pdf_text


def store_report(tb, client: str, month: str) -> int:
    """The month's report of ``client`` produced from the bridge's records (no Prometheus) and
    stored as the monthly job stores it."""
    bridge = tb.bridge
    producer = ReportProducer(ReportSources(bridge.service, bridge.config.inventory, None))
    produced = producer.produce(client, month, tb.clock())
    with bridge.db.write() as session:
        report = add_report(session, client, month, producer.summary(client, month, tb.clock()),
                            produced.html, produced.pdf, tb.clock(), "Europe/Paris")
        session.flush()
        return report.id


@pytest.fixture
def stored(tb):
    """March 2025 reported for acme (one breached incident) and globex, and April for acme."""
    tb.clock.now = at("2025-03-03 10:00")
    assert tb.post_alerts(alert(starts_at=tb.clock.now)).status_code == 200
    tb.clock.now = at("2025-05-02 10:00")
    tb.bridge.service.refresh_statuses()
    return {(client, month): store_report(tb, client, month)
            for client, month in (("acme", "2025-03"), ("globex", "2025-03"),
                                  ("acme", "2025-04"))}


def as_client(tb, client: str, method: str, path: str, **kwargs):
    token = tb.bridge.tokens.add("client", f"{client}-reader", client=client)
    return tb.client.open(path, method=method, headers={"Authorization": f"Bearer {token}"},
                          **kwargs)


def listed(response) -> set[tuple[str, str]]:
    assert response.status_code == 200, response.json
    return {(row["client"], row["month"]) for row in response.json["reports"]}


def test_an_operator_lists_every_clients_reports_and_filters_them(tb, stored):
    assert listed(tb.as_operator("GET", "/api/v1/reports")) == set(stored)
    assert listed(tb.as_operator("GET", "/api/v1/reports?client=acme")) == {
        ("acme", "2025-03"), ("acme", "2025-04")}
    assert listed(tb.as_operator("GET", "/api/v1/reports?month=2025-03")) == {
        ("acme", "2025-03"), ("globex", "2025-03")}


def test_a_client_lists_its_own_reports_only(tb, stored):
    assert listed(as_client(tb, "globex", "GET", "/api/v1/reports")) == {("globex", "2025-03")}
    response = as_client(tb, "globex", "GET", "/api/v1/reports?client=acme")
    assert response.status_code == 404
    assert response.json["field"] == "client"


@pytest.mark.parametrize("suffix", ["", "/pdf", "/html"])
def test_another_clients_report_is_a_404_like_one_that_does_not_exist(tb, stored, suffix):
    acme_report = stored[("acme", "2025-03")]
    other = as_client(tb, "globex", "GET", f"/api/v1/reports/{acme_report}{suffix}")
    missing = tb.as_operator("GET", f"/api/v1/reports/999{suffix}")
    assert (other.status_code, missing.status_code) == (404, 404)
    assert b"ACME" not in other.data
    assert other.json["field"] == missing.json["field"] == "id"


def test_the_pdf_is_the_stored_report_with_its_sha256(tb, stored):
    report_id = stored[("acme", "2025-03")]
    record = as_client(tb, "acme", "GET", f"/api/v1/reports/{report_id}").json
    response = as_client(tb, "acme", "GET", record["pdf"])
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    digest = hashlib.sha256(response.data).hexdigest()
    assert digest == record["sha256"] == response.headers["X-Content-SHA256"]
    assert response.headers["ETag"] == f'"{digest}"'
    assert record["size"] == len(response.data)
    assert 'filename="rapport-acme-2025-03-v1.pdf"' in response.headers["Content-Disposition"]
    text = pdf_text(response.data)
    assert "ACME SARL" in text and "mars 2025" in text
    assert (record["version"], record["changes"]) == (1, [])


def test_the_html_is_served_as_produced_and_may_fetch_nothing(tb, stored):
    response = tb.as_operator("GET", f"/api/v1/reports/{stored[('globex', '2025-03')]}/html")
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert "Globex" in response.get_data(as_text=True)


@pytest.mark.parametrize("path, status, field", [
    ("/api/v1/reports?month=2025-13", 400, "month"),
    ("/api/v1/reports?month=mars", 400, "month"),
    ("/api/v1/reports?client=nobody", 404, "client"),
    ("/api/v1/reports/abc", 404, "id"),
    ("/api/v1/reports/-1/pdf", 404, "id"),
])
def test_bad_queries_get_an_error_naming_the_field(tb, stored, path, status, field):
    response = tb.as_operator("GET", path)
    assert response.status_code == status
    assert response.json["field"] == field


@pytest.mark.parametrize("path", ["/api/v1/reports", "/api/v1/reports/1",
                                  "/api/v1/reports/1/pdf"])
def test_reports_are_not_read_without_a_token(tb, stored, path):
    assert tb.client.get(path).status_code == 401
