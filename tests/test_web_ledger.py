"""The ledger pages: a client's month with its lines, cap adjustment and total, and its CSV; an
operator reads any client's, a client only its own; on SQLite and on PostgreSQL."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.bridge import alert, at
from tests.support.pages import page_text, sign_in


def breach(tb, severity, start, client="acme", site="shop"):
    tb.clock.now = at(start)
    tb.post_alerts(alert(alertname=f"Alert{start}", severity=severity, starts_at=at(start),
                         client=client, site=site))


@pytest.fixture
def worked_example(tb):
    """sla-rules.md section 5: 1 critical, 2 major, 1 minor breached in March on 1200.00, and
    one major breached for Globex; read on 2 April."""
    for severity, start in [("critical", "2025-03-03 10:00"), ("major", "2025-03-04 10:00"),
                            ("major", "2025-03-05 10:00"), ("minor", "2025-03-06 10:00")]:
        breach(tb, severity, start)
    breach(tb, "major", "2025-03-10 10:00", client="globex", site="www")
    tb.clock.now = at("2025-04-02 10:00")
    tb.bridge.service.refresh_statuses()
    sign_in(tb.client, tb.operator_token)
    return tb


def client_browser(tb, client: str):
    browser = tb.app.test_client()
    sign_in(browser, tb.bridge.tokens.add("client", f"{client}-reader", client=client))
    return browser


@pytest.mark.parametrize("path", ["/ledger", "/ledger?client=acme&month=2025-03",
                                  "/ledger.csv?client=acme&month=2025-03"])
def test_someone_not_signed_in_is_sent_to_the_sign_in_page_and_back(tb, path):
    response = tb.client.get(path)
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/signin", {"next": [path]})


def test_an_operator_reads_a_months_lines_with_the_cap_adjustment_and_the_total(worked_example):
    response = worked_example.client.get("/ledger?client=acme&month=2025-03")
    assert response.status_code == 200
    page = page_text(response)
    assert "Pénalités · ACME SARL" in page
    for incident_id in (1, 2, 3, 4):
        assert f'<a href="/incidents/{incident_id}">Incident n° {incident_id}</a>' in page
    assert '<a href="/incidents/5">' not in page  # Globex's
    assert "critique" in page and "majeur" in page and "mineur" in page
    assert "3 mars 2025 10:00" in page and "3 mars 2025 14:00" in page  # start, 4 h deadline
    assert "36,00\u00a0€" in page and "18,00\u00a0€" in page and "6,00\u00a0€" in page
    assert "Ajustement au plafond" in page and "-18,00\u00a0€" in page
    assert "Pénalités dues</dt><dd><strong>60,00\u00a0€</strong>" in page
    assert "Redevance mensuelle</dt><dd>1\u202f200,00\u00a0€" in page
    assert "Devise</dt><dd>EUR" in page
    assert 'href="/ledger.csv?month=2025-03&client=acme"' in page


def test_an_operator_chooses_the_client_from_a_list_of_every_client(worked_example):
    page = page_text(worked_example.client.get("/ledger"))
    assert '<option value="acme" >ACME SARL (acme)</option>' in page
    assert '<option value="globex" >Globex (globex)</option>' in page
    assert "Choisissez un client pour voir ses pénalités." in page


def test_the_month_is_by_default_this_month_in_the_providers_timezone(worked_example):
    tb = worked_example
    tb.clock.now = at("2025-04-01 00:30")  # still 31 March in UTC
    page = page_text(tb.client.get("/ledger?client=acme"))
    assert 'name="month" value="2025-04"' in page
    assert "Aucune échéance dépassée ce mois-ci" in page


@pytest.mark.parametrize("month", ["2025-13", "March", "2025-3", "0001-01", "２０２５-03",
                                   "2025-03'; --"])
def test_a_month_that_is_not_one_is_a_400_page_naming_the_field(worked_example, month):
    for path in ("/ledger", "/ledger.csv"):
        response = worked_example.client.get(path, query_string={"client": "acme",
                                                                 "month": month})
        assert response.status_code == 400
        assert "Champ « mois »" in page_text(response) and month in page_text(response)


def test_an_unknown_client_is_a_404_page_naming_the_field(worked_example):
    response = worked_example.client.get("/ledger?client=nobody&month=2025-03")
    assert response.status_code == 404
    assert "Champ « client » : il n'y a pas de client nobody." in page_text(response)


def test_the_csv_is_the_apis_as_an_attachment(worked_example):
    response = worked_example.client.get("/ledger.csv?client=acme&month=2025-03")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="ledger-acme-2025-03.csv"'
    api = worked_example.as_operator("GET", "/api/v1/ledger", query_string={
        "client": "acme", "month": "2025-03", "format": "csv"})
    assert response.data == api.data
    assert response.data.decode().splitlines()[-1] == \
        "acme,2025-03,EUR,total,,,,,0.05,60.00"


def test_the_csv_needs_a_client_for_an_operator(worked_example):
    response = worked_example.client.get("/ledger.csv?month=2025-03")
    assert response.status_code == 400 and "Champ « client »" in page_text(response)


def test_a_client_reads_its_own_ledger_without_a_client_list(worked_example):
    page = page_text(client_browser(worked_example, "acme").get("/ledger?month=2025-03"))
    assert "Pénalités · ACME SARL" in page and "60,00\u00a0€" in page
    assert '<select id="client"' not in page and "Globex" not in page


def test_a_client_never_reads_another_clients_ledger_or_csv(worked_example):
    browser = client_browser(worked_example, "acme")
    for path in ("/ledger?client=globex&month=2025-03",
                 "/ledger.csv?client=globex&month=2025-03",
                 "/ledger?client=nobody&month=2025-03"):
        response = browser.get(path)
        assert response.status_code == 404
        page = page_text(response)
        assert "globex" not in page.lower() and "18,00" not in page and "nobody" not in page
    own = browser.get("/ledger.csv?client=acme&month=2025-03")
    assert own.status_code == 200 and b"globex" not in own.data
