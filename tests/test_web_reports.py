"""The reports page of the console and the portal: every stored version with its SHA-256 and
what changed, each opened as its PDF or its HTML; an operator sees every client's, a client its
own only; the ledger page links the month's report."""

from __future__ import annotations

import hashlib
from urllib.parse import urlsplit

import pytest

from sla_bridge.reports.store import list_reports
from tests.support.pages import page_text, sign_in
from tests.test_api_reports import store_report, stored  # noqa: F401 (a fixture)


def browser_of(tb, client: str | None = None):
    browser = tb.app.test_client()
    token = (tb.bridge.tokens.add("client", f"{client}-reader", client=client) if client
             else tb.operator_token)
    assert sign_in(browser, token).status_code == 302
    return browser


def report_links(page: str) -> list[str]:
    return sorted(link for link in page.split('href="')[1:]
                  for link in [link.split('"')[0]] if link.startswith("/reports/"))


def test_an_operator_sees_every_version_and_chooses_a_client(tb, stored):
    page = page_text(browser_of(tb).get("/reports"))
    assert report_links(page) == sorted(
        f"/reports/{report_id}.{kind}" for report_id in stored.values() for kind in ("pdf", "html"))
    assert '<option value="globex"' in page and "ACME SARL" in page
    filtered = page_text(browser_of(tb).get("/reports?client=globex&month=2025-03"))
    globex = stored[("globex", "2025-03")]
    assert report_links(filtered) == [f"/reports/{globex}.html", f"/reports/{globex}.pdf"]


def test_a_client_sees_its_own_reports_without_a_client_list(tb, stored):
    page = page_text(browser_of(tb, "globex").get("/reports"))
    globex = stored[("globex", "2025-03")]
    assert report_links(page) == [f"/reports/{globex}.html", f"/reports/{globex}.pdf"]
    assert '<select id="client"' not in page and "ACME" not in page


@pytest.mark.parametrize("kind", ["pdf", "html"])
def test_a_client_opening_another_clients_report_gets_the_page_that_does_not_exist(
        tb, stored, kind):
    globex = browser_of(tb, "globex")
    other = globex.get(f"/reports/{stored[('acme', '2025-03')]}.{kind}")
    missing = globex.get(f"/reports/999.{kind}")
    assert (other.status_code, missing.status_code) == (404, 404)
    assert b"ACME" not in other.data


def test_the_pdf_opened_from_the_page_is_the_stored_one(tb, stored):
    [info] = list_reports(tb.bridge.db, "acme", "2025-04")
    response = browser_of(tb, "acme").get(f"/reports/{info.id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert hashlib.sha256(response.data).hexdigest() == info.sha256
    assert response.headers["Content-Disposition"].startswith("inline;")
    page = page_text(browser_of(tb, "acme").get("/reports"))
    assert info.sha256[:16] in page


def test_a_new_version_shows_what_changed(tb, stored):
    response = tb.as_operator("POST", "/api/v1/incidents/1/exclusion", json={
        "reason": "unauthorized_change", "note": "Mise à jour faite par le client"})
    assert response.status_code == 200, response.json
    store_report(tb, "acme", "2025-03")
    page = page_text(browser_of(tb, "acme").get("/reports?month=2025-03"))
    assert "Incident n° 1 : statut SLA « dépassé » → « exclu »" in page
    assert "première version" in page


def test_the_ledger_page_links_its_months_latest_report(tb, stored):
    page = page_text(browser_of(tb).get("/ledger?client=acme&month=2025-03"))
    assert f'href="/reports/{stored[("acme", "2025-03")]}.pdf"' in page
    second = store_report(tb, "acme", "2025-03")
    page = page_text(browser_of(tb).get("/ledger?client=acme&month=2025-03"))
    assert f'href="/reports/{second}.pdf"' in page
    assert f'href="/reports/{stored[("acme", "2025-03")]}.pdf"' not in page


@pytest.mark.parametrize("path", ["/reports", "/reports/1.pdf"])
def test_someone_not_signed_in_is_sent_to_the_sign_in_page(tb, stored, path):
    response = tb.client.get(path)
    assert response.status_code == 302
    assert urlsplit(response.headers["Location"]).path == "/signin"


def test_a_month_that_is_not_one_is_a_400_page_naming_the_field(tb, stored):
    response = browser_of(tb).get("/reports?month=2025-13")
    assert response.status_code == 400
    assert "Champ « mois »" in page_text(response) and "2025-13" in page_text(response)
