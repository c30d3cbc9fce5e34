"""The clients page, for operators only: each contract and this month's penalty standing
against its cap; on SQLite and on PostgreSQL."""

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.support.bridge import INVENTORY, alert, at, make_bridge
from tests.support.pages import page_text, sign_in

TERMINATED = INVENTORY.replace(
    'contract: {tier: 1, monthly_fee: "450.00", quote: DEV-2, start: 2025-01-01}',
    'contract: {tier: 1, monthly_fee: "450.00", quote: DEV-2, start: 2025-01-01,\n'
    '               status: terminated, terminated_on: 2025-12-24}')


def client_row(page: str, client: str) -> str:
    start = page.index(f'<tr id="client-{client}">')
    return page[start:page.index("</tr>", start)]


def test_someone_not_signed_in_is_sent_to_the_sign_in_page_and_back(tb):
    response = tb.client.get("/clients")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.path, parse_qs(location.query)) == ("/signin", {"next": ["/clients"]})


def test_a_client_gets_a_403_and_no_contract(tb):
    browser = tb.app.test_client()
    sign_in(browser, tb.bridge.tokens.add("client", "acme-reader", client="acme"))
    response = browser.get("/clients")
    assert response.status_code == 403
    assert "Globex" not in page_text(response) and "450" not in page_text(response)


def test_an_operator_sees_each_contract_with_its_french_tier_name(tb):
    sign_in(tb.client, tb.operator_token)
    page = page_text(tb.client.get("/clients"))
    acme, globex, trial = (client_row(page, c) for c in ("acme", "globex", "trial"))
    assert "ACME SARL" in acme and "3 · Avancé" in acme and "1\u202f200,00\u00a0€" in acme
    assert "24 h/24, 7 j/7 pour les incidents critiques" in acme and "actif" in acme
    assert "1 · Essentiel" in globex and "450,00\u00a0€" in globex and "heures ouvrées" in globex
    assert "0 · Découverte" in trial and "essai" in trial
    assert "essai jusqu'au 1 avril 2025" in trial and "pas de SLA pendant l'essai" in trial


def test_a_terminated_contract_shows_its_termination_and_data_deletion_dates(database_url):
    tb = make_bridge(database_url, at("2025-12-22 10:00"), TERMINATED)
    sign_in(tb.client, tb.operator_token)
    globex = client_row(page_text(tb.client.get("/clients")), "globex")
    assert "résilié le 24 décembre 2025" in globex
    assert "données supprimées le 6 janvier 2026" in globex  # 24 Dec + 7 jours ouvrés
    tb.bridge.db.dispose()


@pytest.mark.parametrize("month_day, capped", [("2025-03-31 23:00", True),
                                               ("2025-04-01 00:30", False)])
def test_this_months_penalties_stand_against_the_cap(tb, month_day, capped):
    for severity, start in [("critical", "2025-03-03 10:00"), ("major", "2025-03-04 10:00"),
                            ("major", "2025-03-05 10:00"), ("minor", "2025-03-06 10:00")]:
        tb.clock.now = at(start)
        tb.post_alerts(alert(alertname=f"Alert{start}", severity=severity, starts_at=at(start)))
    tb.clock.now = at(month_day)  # the month in Paris: 1 April 00:30 is April
    sign_in(tb.client, tb.operator_token)
    acme = client_row(page_text(tb.client.get("/clients")), "acme")
    if capped:
        assert '<a href="/ledger?client=acme&month=2025-03">60,00\u00a0€</a>' in acme
        assert "(60,00\u00a0€)" in acme and "plafonné : 6,5" in acme
    else:
        assert '<a href="/ledger?client=acme&month=2025-04">0,00\u00a0€</a>' in acme
        assert "plafonné" not in acme
