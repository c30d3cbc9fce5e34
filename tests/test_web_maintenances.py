"""The maintenance pages: the windows each principal may see, and the operators' form that plans
a window in the client's timezone (with a real Alertmanager for its silences) and cancels one;
on SQLite and on PostgreSQL."""

import datetime as dt
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from sla_bridge.storage.schema import Maintenance
from sla_bridge.storage.windows import record_window
from tests.support.bridge import make_bridge, rfc3339
from tests.support.pages import csrf_token, page_text, post_form, sign_in
from tests.support.processes import free_port
from tests.support.smtp import notifying_inventory

UTC = dt.timezone.utc
PARIS = ZoneInfo("Europe/Paris")


def paris(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text).replace(tzinfo=PARIS).astimezone(UTC)


@pytest.fixture
def planning(database_url, alertmanager):
    """A bridge whose Alertmanager is real, its clock at 10:00 in Paris on Monday 25 March 2030:
    after today for Alertmanager, which refuses silences that have ended, and six days before
    Paris moves to summer time (Sunday 31 March, 02:00 → 03:00)."""
    bridge = make_bridge(database_url, paris("2030-03-25 10:00"), notifying_inventory(
        free_port(), alertmanager.url.removeprefix("http://")))
    sign_in(bridge.client, bridge.operator_token)
    yield bridge
    bridge.bridge.notifier.close()
    bridge.bridge.db.dispose()


def windows(tb) -> list[Maintenance]:
    with tb.bridge.db.read() as session:
        return session.scalars(select(Maintenance).order_by(Maintenance.id)).all()


def store_window(tb, client="acme", description="Mise à jour de PHP", ahead_hours=72,
                 cancelled=False, **fields) -> Maintenance:
    now = tb.clock.now
    start = now + dt.timedelta(hours=ahead_hours)
    with tb.bridge.db.write() as session:
        return record_window(session, Maintenance(
            client=client, targets=None, starts_at=start, ends_at=start + dt.timedelta(hours=2),
            description=description, emergency=False, announced_at=now, announced_by="alice",
            cancelled_at=now if cancelled else None, cancelled_by="bob" if cancelled else None,
            silence_ids=[], **fields))


def client_browser(tb, client: str):
    browser = tb.app.test_client()
    sign_in(browser, tb.bridge.tokens.add("client", f"{client}-reader", client=client))
    return browser


def plan(tb, **fields):
    data = {"client": "acme", "starts_at": "2030-03-28T22:00", "ends_at": "2030-03-29T02:00",
            "description": "Mise à jour de PHP 8.3", **fields}
    return post_form(tb.client, "/maintenances", "/maintenances", data)


# --- who sees what ----------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", [("GET", "/maintenances"), ("POST", "/maintenances"),
                                          ("POST", "/maintenances/1/cancel")])
def test_someone_not_signed_in_is_sent_to_the_sign_in_page(tb, method, path):
    response = tb.client.open(path, method=method)
    if method == "GET":
        assert response.status_code == 302
        location = urlsplit(response.headers["Location"])
        assert (location.path, parse_qs(location.query)) == ("/signin", {"next": [path]})
    else:  # no session, so no CSRF token either: the form is refused before the view
        assert response.status_code in (302, 303)
    assert windows(tb) == []


def test_an_operator_sees_every_clients_windows_with_the_cancelled_ones_marked(tb):
    store_window(tb, "acme", "Mise à jour de PHP")
    store_window(tb, "globex", "Migration du serveur", cancelled=True)
    sign_in(tb.client, tb.operator_token)
    page = page_text(tb.client.get("/maintenances"))
    assert "Mise à jour de PHP" in page and "Migration du serveur" in page
    assert "annulée le 7 mars 2025 10:00" in page and "annulée par bob" in page
    assert "Planifier une fenêtre" in page and 'name="csrf_token"' in page
    # 72 h ahead, in Paris: Monday 10 March 10:00 to 12:00
    assert "10 mars 2025 10:00" in page and "10 mars 2025 12:00" in page


def test_a_client_sees_only_the_windows_announced_to_it_and_no_form(tb):
    store_window(tb, "acme", "Mise à jour de PHP")
    store_window(tb, "globex", "Migration du serveur")
    page = page_text(client_browser(tb, "acme").get("/maintenances"))
    assert "Mise à jour de PHP" in page
    assert "Migration du serveur" not in page and "globex" not in page
    assert "Planifier une fenêtre" not in page


def test_a_client_can_neither_plan_nor_cancel_a_window(tb):
    window = store_window(tb, "acme")
    browser = client_browser(tb, "acme")
    token = csrf_token(page_text(browser.get("/maintenances")))
    assert browser.post("/maintenances", data={"csrf_token": token, "client": "acme"}
                        ).status_code == 403
    assert browser.post(f"/maintenances/{window.id}/cancel",
                        data={"csrf_token": token}).status_code == 403
    assert [w.cancelled_at for w in windows(tb)] == [None]


def test_a_window_over_for_more_than_a_month_is_no_longer_listed(tb):
    store_window(tb, "acme", "Ancienne intervention", ahead_hours=-24 * 40)
    sign_in(tb.client, tb.operator_token)
    assert "Ancienne intervention" not in page_text(tb.client.get("/maintenances"))


# --- planning ---------------------------------------------------------------------------------

@pytest.mark.parametrize("now, start, end, utc_start, utc_end", [
    # Paris moves to summer time on 31 March 2030 at 02:00: 22:00 is +01:00, 04:00 is +02:00
    ("2030-03-25 10:00", "2030-03-30T22:00", "2030-03-31T04:00",
     "2030-03-30T21:00:00Z", "2030-03-31T02:00:00Z"),
    # and back to winter time on 27 October 2030 at 03:00: 22:00 is +02:00, 04:00 is +01:00
    ("2030-10-20 10:00", "2030-10-26T22:00", "2030-10-27T04:00",
     "2030-10-26T20:00:00Z", "2030-10-27T03:00:00Z"),
])
def test_a_window_typed_in_paris_time_across_a_clock_change_is_stored_in_utc(
        planning, alertmanager, now, start, end, utc_start, utc_end):
    planning.clock.now = paris(now)
    planning.client = planning.app.test_client()  # the session of 25 March may have expired
    sign_in(planning.client, planning.operator_token)
    response = plan(planning, starts_at=start, ends_at=end, targets=["acme:shop", "acme:web1"])
    assert response.status_code == 303 and response.headers["Location"] == "/maintenances"
    [window] = windows(planning)
    assert (rfc3339(window.starts_at), rfc3339(window.ends_at)) == (utc_start, utc_end)
    assert (window.client, window.targets, window.emergency) == ("acme", ["shop", "web1"], False)
    assert window.announced_by == "alice"
    silences = alertmanager.silences()
    assert len(silences) == 2  # one for the site, one for the server
    assert {(s["startsAt"][:16], s["endsAt"][:16]) for s in silences} == {
        (utc_start[:16], utc_end[:16])}
    page = page_text(planning.client.get("/maintenances"))
    assert f"La fenêtre de maintenance n° {window.id} est annoncée" in page
    assert "planifiée : hors SLA" in page


def test_a_window_with_no_target_ticked_is_for_every_target_of_the_client(planning):
    assert plan(planning).status_code == 303
    assert [window.targets for window in windows(planning)] == [None]


def test_a_window_starting_within_48_hours_is_refused_with_the_rule_and_the_values_kept(
        planning, alertmanager):
    # 47 h ahead: Wednesday 27 March 09:00 in Paris
    response = plan(planning, starts_at="2030-03-27T09:00", ends_at="2030-03-27T11:00",
                    targets=["acme:blog"], description="Redémarrage <urgent>")
    assert response.status_code == 422
    page = page_text(response)
    assert "Début : Une fenêtre de maintenance doit être annoncée au moins 48 heures" in page
    assert "article 5b du contrat" in page
    assert "au plus tôt le 27 mars 2030 10:00 (Europe/Paris)" in page
    assert "cochez « Urgence »" in page and "comptent toujours pour le SLA" in page
    assert 'value="2030-03-27T09:00"' in page and 'value="2030-03-27T11:00"' in page
    assert 'value="acme:blog" checked' in page
    assert '<option value="acme" selected>' in page
    assert "Redémarrage &lt;urgent&gt;</textarea>" in response.get_data(as_text=True)
    assert windows(planning) == [] and alertmanager.silences() == []


def test_an_emergency_window_within_48_hours_is_accepted_and_counts_for_the_sla(planning):
    response = plan(planning, starts_at="2030-03-25T11:00", ends_at="2030-03-25T13:00",
                    emergency="y")
    assert response.status_code == 303
    [window] = windows(planning)
    assert window.emergency is True and window.starts_at == paris("2030-03-25 11:00")
    assert "urgence : compte pour le SLA" in page_text(planning.client.get("/maintenances"))


@pytest.mark.parametrize("fields, field, message", [
    ({"client": "nobody"}, "Client", "Choisissez un client de l'inventaire."),
    ({"client": ""}, "Client", "Choisissez un client de l'inventaire."),
    ({"targets": ["globex:www"]}, "Cibles", "www n'est pas une cible de ACME SARL"),
    ({"targets": ["acme:ftp"]}, "Cibles", "ftp n'est ni un site ni un serveur de ce client."),
    ({"starts_at": "demain"}, "Début", "Indiquez une date et une heure"),
    ({"ends_at": ""}, "Fin", "Indiquez une date et une heure"),
    ({"ends_at": "2030-03-28T21:00"}, "Fin", "La fenêtre doit finir après son début."),
    ({"description": "  "}, "Description", "Décrivez l'intervention"),
    # 02:30 on 31 March does not exist in Paris: the clocks go from 02:00 to 03:00
    ({"starts_at": "2030-03-31T02:30", "ends_at": "2030-03-31T05:00"}, "Début",
     "02:30 n'existe pas dans le fuseau Europe/Paris"),
    ({"starts_at": "2030-03-20T09:00", "ends_at": "2030-03-20T11:00", "emergency": "y"},
     "Fin", "Cette fenêtre est déjà passée"),
])
def test_a_refused_form_names_the_field_in_french(planning, fields, field, message):
    response = plan(planning, **fields)
    assert response.status_code in (400, 422)
    assert f"{field} : " in page_text(response) and message in page_text(response)
    assert windows(planning) == []


def test_the_form_is_refused_without_its_csrf_token_and_nothing_is_created(planning):
    response = planning.client.post("/maintenances", data={
        "client": "acme", "starts_at": "2030-03-28T22:00", "ends_at": "2030-03-29T02:00",
        "description": "Mise à jour"}, headers={"Referer": "http://localhost/maintenances"})
    assert response.status_code == 303 and response.headers["Location"] == "/maintenances"
    assert windows(planning) == []
    assert "Ce formulaire avait expiré" in page_text(planning.client.get("/maintenances"))


# --- cancelling -------------------------------------------------------------------------------

def test_an_operator_cancels_a_window_and_its_silence_expires(planning, alertmanager):
    plan(planning)
    [window] = windows(planning)
    response = post_form(planning.client, "/maintenances", f"/maintenances/{window.id}/cancel")
    assert response.status_code == 303
    [window] = windows(planning)
    assert window.cancelled_at == planning.clock.now and window.cancelled_by == "alice"
    assert [s["status"]["state"] for s in alertmanager.silences()] == ["expired"]
    page = page_text(planning.client.get("/maintenances"))
    assert f"La fenêtre de maintenance n° {window.id} est annulée" in page
    assert "annulée le 25 mars 2030 10:00" in page


def test_cancelling_without_the_csrf_token_changes_nothing(planning):
    plan(planning)
    [window] = windows(planning)
    planning.client.post(f"/maintenances/{window.id}/cancel")
    assert [w.cancelled_at for w in windows(planning)] == [None]


def test_cancelling_a_window_that_is_over_or_unknown_says_so(tb):
    window = store_window(tb, "acme", ahead_hours=-5)
    sign_in(tb.client, tb.operator_token)
    response = post_form(tb.client, "/maintenances", f"/maintenances/{window.id}/cancel")
    assert response.status_code == 303
    page = page_text(tb.client.get("/maintenances"))
    assert "est terminée : il n'y a plus rien à annuler" in page
    for missing in ("999", "99999999999999999999999"):
        assert post_form(tb.client, "/maintenances",
                         f"/maintenances/{missing}/cancel").status_code == 404
