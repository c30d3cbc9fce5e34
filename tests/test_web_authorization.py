"""Every page of the console and the portal, as the API's routes are: who may open it, and a
client never sees another client's data through it, whatever the URL says.

The table below names a request for every page route the bridge has; a route added without a
row fails the first test, so no page escapes these checks.
"""

from __future__ import annotations

import pytest

from sla_bridge.reports.store import add_report
from tests.support.bridge import alert
from tests.support.pages import csrf_token, page_text, sign_in
from tests.test_web_maintenances import store_window

# What only acme's data holds: its incident's summary, its window's description, its name.
# (Not its id: a page refusing ``client=acme`` may repeat what was asked.)
ACME_MARKS = ("SiteDown on shop", "Migration secrète d'ACME", "ACME SARL")
ACME_INCIDENT = 1
ACME_WINDOW = 1
ACME_FINGERPRINT = alert()["fingerprint"]  # acme's SiteDown on shop
ACME_REPORT = 1

# Every page route: (rule, method) -> the request made of it, aimed at acme's data.
PAGES = {
    ("/", "GET"): "/",
    ("/signin", "GET"): "/signin",
    ("/signin", "POST"): "/signin",
    ("/signout", "POST"): "/signout",
    ("/incidents", "GET"): "/incidents?client=acme&status=all",
    ("/incidents/<raw_id>", "GET"): f"/incidents/{ACME_INCIDENT}",
    ("/incidents/fingerprint/<fingerprint>", "GET"): f"/incidents/fingerprint/{ACME_FINGERPRINT}",
    ("/incidents/<raw_id>/ack", "POST"): f"/incidents/{ACME_INCIDENT}/ack",
    ("/incidents/<raw_id>/exclusion", "POST"): f"/incidents/{ACME_INCIDENT}/exclusion",
    ("/incidents/<raw_id>/exclusion/withdraw", "POST"):
        f"/incidents/{ACME_INCIDENT}/exclusion/withdraw",
    ("/maintenances", "GET"): "/maintenances?client=acme",
    ("/maintenances", "POST"): "/maintenances",
    ("/maintenances/<int(max=9223372036854775807):maintenance_id>/cancel", "POST"):
        f"/maintenances/{ACME_WINDOW}/cancel",
    ("/clients", "GET"): "/clients",
    ("/ledger", "GET"): "/ledger?client=acme&month=2025-03",
    ("/ledger.csv", "GET"): "/ledger.csv?client=acme&month=2025-03",
    ("/interventions.csv", "GET"): "/interventions.csv?client=acme&month=2025-03",
    ("/reports", "GET"): "/reports?client=acme",
    ("/reports/<raw_id>.pdf", "GET"): f"/reports/{ACME_REPORT}.pdf",
    ("/reports/<raw_id>.html", "GET"): f"/reports/{ACME_REPORT}.html",
    ("/static/<path:filename>", "GET"): "/static/owl.css",
}
OPEN_TO_ALL = {"/signin", "/static/owl.css"}  # before signing in: sign-in and its styles
SIGNED_IN_GETS = [path for (rule, method), path in PAGES.items()
                  if method == "GET" and path not in OPEN_TO_ALL]
ACTIONS = [path for (rule, method), path in PAGES.items()
           if method == "POST" and path not in ("/signin", "/signout")]
NOT_PAGES = ("/api/", "/metrics", "/healthz", "/readyz")


@pytest.fixture
def acme_data(tb):
    """An incident, a maintenance window and a stored report of acme's, and a client browser
    of globex's."""
    assert tb.post_alerts(alert()).status_code == 200
    store_window(tb, description="Migration secrète d'ACME")
    with tb.bridge.db.write() as session:
        add_report(session, "acme", "2025-03", {}, "<p>ACME SARL, mars 2025</p>",
                   b"%PDF-1.7 ACME SARL", tb.clock(), "Europe/Paris")
    globex = tb.app.test_client()
    assert sign_in(globex, tb.bridge.tokens.add("client", "globex-reader",
                                                 client="globex")).status_code == 302
    return globex


def test_every_page_route_of_the_bridge_is_in_the_table(tb):
    routes = {(rule.rule, method) for rule in tb.app.url_map.iter_rules()
              for method in rule.methods - {"HEAD", "OPTIONS"}
              if not rule.rule.startswith(NOT_PAGES)}
    assert routes == set(PAGES)


@pytest.mark.parametrize("path", SIGNED_IN_GETS)
def test_a_page_is_only_for_someone_signed_in(tb, path):
    response = tb.client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin?next=")


@pytest.mark.parametrize("path", ACTIONS)
def test_an_action_without_a_session_does_nothing_and_asks_to_sign_in(tb, acme_data, path):
    token = csrf_token(page_text(tb.client.get("/signin")))
    response = tb.client.post(path, data={"csrf_token": token, "reason": "hardware",
                                          "note": "n", "client": "acme"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/signin?next=")
    assert tb.incidents()[0]["state"] == "open"


@pytest.mark.parametrize("path", SIGNED_IN_GETS)
def test_a_client_never_sees_another_clients_data_on_any_page(tb, acme_data, path):
    response = acme_data.get(path, follow_redirects=True)
    assert response.status_code in (200, 400, 403, 404), path
    text = page_text(response)
    for mark in ACME_MARKS:
        assert mark not in text, (path, mark)


@pytest.mark.parametrize("path", ACTIONS)
def test_a_client_may_take_no_operators_action(tb, acme_data, path):
    token = csrf_token(page_text(acme_data.get("/incidents")))
    response = acme_data.post(path, data={"csrf_token": token, "reason": "hardware",
                                          "note": "n", "client": "globex"})
    assert response.status_code == 403
    assert tb.incidents()[0]["state"] == "open"


def test_the_same_pages_show_acme_its_own_data(tb, acme_data):
    acme = tb.app.test_client()
    sign_in(acme, tb.bridge.tokens.add("client", "acme-reader", client="acme"))
    assert "SiteDown on shop" in page_text(acme.get(f"/incidents/{ACME_INCIDENT}"))
    assert "Migration secrète d'ACME" in page_text(acme.get("/maintenances"))
    assert "ACME SARL, mars 2025" in page_text(acme.get(f"/reports/{ACME_REPORT}.html"))
