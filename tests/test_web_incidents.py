"""The incidents pages of the console and the portal: the list most urgent first with its
filters, an incident's page (timeline, deadline clock, actions), the fingerprint link of the
on-call emails; who may see and do what, and a client never reading another's data."""

from __future__ import annotations

import re

import pytest

from tests.support.bridge import alert, at
from tests.support.pages import csrf_token, page_text, post_form, sign_in


def operator(tb):
    assert sign_in(tb.client, tb.operator_token).status_code == 302
    return tb.client


def client_of(tb, client: str = "acme"):
    """A browser signed in with a read token of ``client``."""
    browser = tb.app.test_client()
    token = tb.bridge.tokens.add("client", f"{client}-portal", client=client, now=tb.clock())
    assert sign_in(browser, token).status_code == 302
    return browser


def fire(tb, **labels) -> dict:
    """Post one firing alert; its incident as the JSON API shows it."""
    sent = alert(**labels)
    assert tb.post_alerts(sent).status_code == 200
    return next(i for i in tb.incidents() if i["fingerprint"] == sent["fingerprint"])


def row_ids(html: str) -> list[int]:
    return [int(found) for found in re.findall(r'<tr class="incident" id="incident-(\d+)"', html)]


def incident_json(tb, incident_id: int) -> dict:
    return tb.as_operator("GET", f"/api/v1/incidents/{incident_id}").json


# --- who may see what ----------------------------------------------------------------------------

@pytest.mark.parametrize("path", ["/incidents", "/incidents/1",
                                  "/incidents/fingerprint/0123456789abcdef"])
def test_every_incidents_page_sends_a_browser_not_signed_in_to_sign_in_and_back(tb, path):
    response = tb.client.get(path)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/signin?next={path}"


def test_the_list_shows_the_open_incidents_most_urgent_first_in_french(tb):
    minor = fire(tb, alertname="Slow", severity="minor", starts_at=at("2025-03-07 08:00"))
    critical = fire(tb, alertname="SiteDown", starts_at=at("2025-03-07 09:30"))
    breached = fire(tb, alertname="Broken", site="other", starts_at=at("2025-03-07 05:00"))
    no_deadline = fire(tb, alertname="Orphan", client=None, site="lost")
    acked = fire(tb, alertname="Acked", site="third", starts_at=at("2025-03-07 09:50"))
    tb.as_operator("POST", f"/api/v1/incidents/{acked['id']}/ack")
    resolved = fire(tb, alertname="Gone", site="gone")
    tb.post_alerts(alert(alertname="Gone", site="gone", status="resolved",
                         ends_at=at("2025-03-07 09:30")))
    html = page_text(operator(tb).get("/incidents"))
    assert row_ids(html) == [breached["id"], critical["id"], minor["id"], no_deadline["id"],
                             acked["id"]]
    assert resolved["id"] not in row_ids(html)
    assert "Incidents" in html and "Temps restant" in html and "Pris en charge" in html
    assert 'data-refresh-seconds="60"' in html
    assert f'href="/incidents/{critical["id"]}"' in html
    assert 'class="countdown" data-deadline="2025-03-07T12:30:00Z">3 h 30 min</span>' in html
    assert 'class="countdown breached" data-deadline="2025-03-07T08:00:00Z">-1 h 00 min' in html
    assert "par alice" in html and "critique" in html and "dépassé" in html


def test_the_list_filters_by_client_severity_status_and_month(tb):
    acme = fire(tb, alertname="SiteDown")
    globex = fire(tb, alertname="Slow", client="globex", severity="major", site="www")
    tb.post_alerts(alert(alertname="SiteDown", status="resolved", ends_at=at("2025-03-07 09:30")))
    browser = operator(tb)
    assert row_ids(page_text(browser.get("/incidents"))) == [globex["id"]]
    assert row_ids(page_text(browser.get("/incidents?status=resolved"))) == [acme["id"]]
    assert set(row_ids(page_text(browser.get("/incidents?status=all")))) == {acme["id"],
                                                                            globex["id"]}
    assert row_ids(page_text(browser.get("/incidents?status=all&client=acme"))) == [acme["id"]]
    assert row_ids(page_text(browser.get("/incidents?severity=critical"))) == []
    assert row_ids(page_text(browser.get("/incidents?status=all&month=2025-02"))) == []
    page = page_text(browser.get("/incidents?status=all&client=globex&severity=major"))
    assert row_ids(page) == [globex["id"]]
    assert '<option value="globex" selected>' in page and '<option value="major" selected>' in page


@pytest.mark.parametrize("query, named", [
    ("client=initech", "client"), ("severity=bad", "gravité"), ("status=closed", "état"),
    ("month=2025-13", "mois"), ("month=%E2%91%A0", "mois")])
def test_a_bad_filter_value_is_a_french_400_page_naming_the_filter(tb, query, named):
    response = operator(tb).get(f"/incidents?{query}")
    assert response.status_code == 400
    assert f"Filtre « {named} »" in page_text(response)


def test_a_client_lists_only_its_own_incidents_open_and_past(tb):
    open_one = fire(tb, alertname="SiteDown")
    past = fire(tb, alertname="Old", site="old", starts_at=at("2025-03-06 10:00"))
    tb.post_alerts(alert(alertname="Old", site="old", status="resolved",
                         starts_at=at("2025-03-06 10:00"), ends_at=at("2025-03-06 10:30")))
    theirs = fire(tb, alertname="Slow", client="globex", severity="major", site="www")
    browser = client_of(tb, "acme")
    html = page_text(browser.get("/incidents"))
    assert row_ids(html) == [open_one["id"], past["id"]]
    assert 'id="filter-client"' not in html
    assert browser.get("/incidents?client=globex").status_code == 400
    assert theirs["id"] not in row_ids(page_text(browser.get("/incidents?client=globex")))
    assert row_ids(page_text(browser.get("/incidents?client=acme&status=resolved"))) == [
        past["id"]]


# --- an incident's page -----------------------------------------------------------------------

def test_the_incident_page_puts_acknowledge_first_right_under_the_title(tb):
    incident = fire(tb, alertname="SiteDown")
    html = page_text(operator(tb).get(f"/incidents/{incident['id']}"))
    content = html[html.index('<main id="main">'):]
    first_form = content[content.index("<form"):content.index("</form>")]
    assert 'id="acknowledge"' in first_form and "Prendre en charge" in first_form
    assert f'action="/incidents/{incident["id"]}/ack"' in first_form
    assert content.index('id="incident-title"') < content.index('id="acknowledge"') \
        < content.index('id="deadline"')
    assert 'id="incident-state" data-state="open">ouvert</span>' in html


def test_the_incident_page_shows_labels_annotations_and_the_runbook_link(tb):
    incident = fire(tb, alertname="SiteDown", runbook_url="https://wiki.example/runbooks/down")
    html = page_text(operator(tb).get(f"/incidents/{incident['id']}"))
    assert '<a id="runbook" href="https://wiki.example/runbooks/down"' in html
    assert "<dt>alertname</dt><dd>SiteDown</dd>" in html
    assert "<dt>summary</dt><dd>SiteDown on shop</dd>" in html


def test_a_runbook_that_is_not_a_web_address_is_not_a_link(tb):
    incident = fire(tb, alertname="SiteDown", runbook_url="javascript:alert(1)")
    html = page_text(operator(tb).get(f"/incidents/{incident['id']}"))
    assert 'id="runbook"' not in html


def test_acknowledging_from_the_page_records_the_operator_and_meets_the_sla(tb):
    incident = fire(tb, alertname="SiteDown")
    browser = operator(tb)
    page = f"/incidents/{incident['id']}"
    response = post_form(browser, page, f"{page}/ack")
    assert response.status_code == 303 and response.headers["Location"] == page
    acknowledged = incident_json(tb, incident["id"])
    assert acknowledged["acknowledged_by"] == "alice" and acknowledged["sla"] == "met"
    html = page_text(browser.get(page))
    assert "Incident pris en charge." in html
    assert 'id="acknowledge"' not in html
    assert 'id="incident-state" data-state="acknowledged">pris en charge</span>' in html
    assert "Pris en charge par alice le 7 mars 2025 10:00." in html


def test_acknowledging_twice_keeps_the_first_acknowledgement(tb):
    incident = fire(tb, alertname="SiteDown")
    page = f"/incidents/{incident['id']}"
    token = csrf_token(page_text(operator(tb).get(page)))
    tb.client.post(f"{page}/ack", data={"csrf_token": token})
    tb.clock.advance(minutes=5)
    bob = tb.app.test_client()
    sign_in(bob, tb.bridge.tokens.add("operator", "bob", now=tb.clock()))
    response = bob.post(f"{page}/ack", data={"csrf_token": csrf_token(page_text(bob.get(page)))})
    assert response.status_code == 303
    assert incident_json(tb, incident["id"])["acknowledged_by"] == "alice"
    assert "Cet incident avait déjà été pris en charge par alice." in page_text(bob.get(page))


def test_a_form_sent_without_its_csrf_token_does_nothing(tb):
    incident = fire(tb, alertname="SiteDown")
    browser = operator(tb)
    page = f"/incidents/{incident['id']}"
    response = browser.post(f"{page}/ack", headers={"Referer": f"http://localhost{page}"})
    assert response.status_code == 303 and response.headers["Location"] == page
    browser.post(f"{page}/exclusion", data={"reason": "hardware", "note": "disk"})
    assert incident_json(tb, incident["id"])["acknowledged_at"] is None
    assert incident_json(tb, incident["id"])["exclusion"] is None
    assert "Ce formulaire avait expiré" in page_text(browser.get(page))


def test_excluding_and_withdrawing_from_the_page_change_the_sla_and_the_timeline(tb):
    incident = fire(tb, alertname="SiteDown")
    browser = operator(tb)
    page = f"/incidents/{incident['id']}"
    response = post_form(browser, page, f"{page}/exclusion",
                         {"reason": "third_party", "note": "OVH outage"})
    assert response.status_code == 303
    excluded = incident_json(tb, incident["id"])
    assert excluded["sla"] == "excluded"
    assert excluded["exclusion"]["reason"] == "third_party"
    assert excluded["exclusion"]["by"] == "alice"
    html = page_text(browser.get(page))
    assert "Incident exclu du SLA." in html
    assert "Exclu du SLA par alice : tiers (hébergeur ou autre) (OVH outage)." in html
    tb.clock.advance(minutes=1)
    post_form(browser, page, f"{page}/exclusion/withdraw")
    assert incident_json(tb, incident["id"])["sla"] == "pending"
    html = page_text(browser.get(page))
    assert "Exclusion retirée par alice." in html and 'id="withdraw-exclusion"' not in html


@pytest.mark.parametrize("data, message", [
    ({"reason": "", "note": "why"}, "choisissez un des motifs du contrat"),
    ({"reason": "weather", "note": "why"}, "choisissez un des motifs du contrat"),
    ({"reason": "hardware", "note": "   "}, "une note qui l'explique est obligatoire")])
def test_an_exclusion_without_a_contract_reason_or_a_note_is_refused_in_french(tb, data,
                                                                              message):
    incident = fire(tb, alertname="SiteDown")
    browser = operator(tb)
    page = f"/incidents/{incident['id']}"
    assert post_form(browser, page, f"{page}/exclusion", data).status_code == 303
    assert incident_json(tb, incident["id"])["exclusion"] is None
    assert message in page_text(browser.get(page))


def test_excluding_an_incident_without_sla_says_so_instead_of_failing(tb):
    incident = fire(tb, alertname="Orphan", client=None, site="lost")
    browser = operator(tb)
    page = f"/incidents/{incident['id']}"
    assert 'id="exclusion-form"' not in page_text(browser.get(page))
    assert post_form(browser, page, f"{page}/exclusion",
                     {"reason": "hardware", "note": "disk"}).status_code == 303
    html = page_text(browser.get(page))
    assert '<p class="flash error" role="alert">Cet incident n\'est pas couvert' in html


def test_an_action_on_an_incident_that_does_not_exist_is_a_404_page(tb):
    browser = operator(tb)
    fire(tb, alertname="SiteDown")
    token = csrf_token(page_text(browser.get("/incidents")))
    for path in ("/incidents/999/ack", "/incidents/99999999999999999999999/ack",
                 "/incidents/x/exclusion/withdraw"):
        response = browser.post(path, data={"csrf_token": token})
        assert response.status_code == 404 and "Cette page n'existe pas" in page_text(
            response), path
    assert browser.get("/incidents/999").status_code == 404
    assert browser.get("/incidents/-1").status_code == 404


def test_the_timeline_lists_fired_acknowledged_resolved_reopened_excluded_and_withdrawn(tb):
    incident = fire(tb, alertname="SiteDown", starts_at=at("2025-03-07 09:00"))
    browser = operator(tb)
    page = f"/incidents/{incident['id']}"
    tb.clock.advance(minutes=10)
    post_form(browser, page, f"{page}/ack")
    post_form(browser, page, f"{page}/exclusion", {"reason": "hardware", "note": "disk"})
    post_form(browser, page, f"{page}/exclusion/withdraw")
    tb.clock.advance(minutes=30)
    tb.post_alerts(alert(status="resolved", starts_at=at("2025-03-07 09:00"),
                         ends_at=at("2025-03-07 10:15")))
    tb.post_alerts(alert(starts_at=at("2025-03-07 10:20")))
    html = page_text(browser.get(page))
    kinds = re.findall(r'<li class="entry (\w+)"', html)
    assert kinds == ["fired", "ack", "exclusion", "exclusion_withdrawn", "resolved",
                     "reopened"]
    assert "Alerte déclenchée (reçue par le pont le 7 mars 2025 10:00)." in html
    assert "Pris en charge par alice." in html and "Exclusion retirée par alice." in html
    assert "Alerte résolue." in html and "incident rouvert" in html


def test_the_timeline_says_when_the_deadline_passed_without_acknowledgement(tb):
    incident = fire(tb, alertname="SiteDown", starts_at=at("2025-03-07 05:00"))
    html = page_text(operator(tb).get(f"/incidents/{incident['id']}"))
    assert "Échéance de réponse dépassée sans prise en charge." in html
    assert 'class="countdown breached"' in html


def test_a_critical_incident_under_24_7_support_runs_on_the_wall_clock(tb):
    incident = fire(tb, alertname="SiteDown")
    html = page_text(operator(tb).get(f"/incidents/{incident['id']}"))
    assert 'data-clock="24/7"' in html and "24 h/24, 7 j/7" in html
    assert "Délai de réponse : 4 h 00 min." in html


@pytest.mark.parametrize("start, deadline, holiday", [
    ("2025-04-30 10:00", "5 mai 2025 16:00", "Fête du Travail (1 mai 2025)"),
    ("2025-07-11 17:00", "17 juil. 2025 14:00", "Fête nationale (14 juillet 2025)")])
def test_business_hours_name_the_public_holiday_that_moved_the_deadline(tb, start, deadline,
                                                                       holiday):
    tb.clock.now = at(start)
    incident = fire(tb, alertname="Slow", client="globex", severity="major", site="www",
                    starts_at=at(start))
    html = page_text(operator(tb).get(f"/incidents/{incident['id']}"))
    assert 'data-clock="business-hours"' in html and "Europe/Paris" in html
    assert "Délai de réponse : 1 j 0 h en heures ouvrées." in html
    assert f'id="deadline">{deadline}' in html
    assert "Jours fériés qui ont repoussé l'échéance :" in html and holiday in html


def test_business_hours_without_a_holiday_in_the_way_name_none(tb):
    incident = fire(tb, alertname="Slow", client="globex", severity="major", site="www")
    html = page_text(operator(tb).get(f"/incidents/{incident['id']}"))
    assert 'data-clock="business-hours"' in html and 'id="holidays"' not in html


# --- a client's view --------------------------------------------------------------------------

def test_a_client_sees_its_incident_page_without_actions(tb):
    incident = fire(tb, alertname="SiteDown")
    response = client_of(tb, "acme").get(f"/incidents/{incident['id']}")
    html = page_text(response)
    assert response.status_code == 200
    assert "SiteDown on shop" in html and 'data-deadline="2025-03-07T12:00:00Z"' in html
    assert "<form" not in html.replace('<form class="signout"', "")
    assert 'id="acknowledge"' not in html


def test_another_clients_incident_is_a_404_on_every_route_and_its_actions_are_403(tb):
    theirs = fire(tb, alertname="Slow", client="globex", severity="major", site="www")
    browser = client_of(tb, "acme")
    assert browser.get(f"/incidents/{theirs['id']}").status_code == 404
    fingerprint = theirs["fingerprint"]
    pending = browser.get(f"/incidents/fingerprint/{fingerprint}")
    assert pending.status_code == 200 and 'id="incident-pending"' in page_text(pending)
    token = csrf_token(page_text(browser.get("/incidents")))
    for action in ("ack", "exclusion", "exclusion/withdraw"):
        response = browser.post(f"/incidents/{theirs['id']}/{action}",
                                data={"csrf_token": token, "reason": "hardware", "note": "x"})
        assert response.status_code == 403
    assert incident_json(tb, theirs["id"])["acknowledged_at"] is None


def test_a_client_posting_an_action_on_its_own_incident_is_refused(tb):
    incident = fire(tb, alertname="SiteDown")
    browser = client_of(tb, "acme")
    token = csrf_token(page_text(browser.get(f"/incidents/{incident['id']}")))
    response = browser.post(f"/incidents/{incident['id']}/ack", data={"csrf_token": token})
    assert response.status_code == 403
    assert incident_json(tb, incident["id"])["acknowledged_at"] is None


# --- the on-call emails' link by fingerprint ---------------------------------------------------

def test_the_fingerprint_link_opens_the_newest_incident_open_ones_first(tb):
    first = fire(tb, alertname="SiteDown", starts_at=at("2025-03-07 08:00"))
    tb.post_alerts(alert(status="resolved", starts_at=at("2025-03-07 08:00"),
                         ends_at=at("2025-03-07 08:10")))
    tb.clock.advance(hours=2)
    second = fire(tb, alertname="SiteDown", starts_at=at("2025-03-07 11:00"))
    assert second["id"] != first["id"]
    browser = operator(tb)
    response = browser.get(f"/incidents/fingerprint/{first['fingerprint']}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/incidents/{second['id']}"
    assert client_of(tb, "acme").get(f"/incidents/fingerprint/{first['fingerprint']}"
                                     ).headers["Location"] == f"/incidents/{second['id']}"


def test_the_fingerprint_link_after_signing_in_comes_back_to_the_incident(tb):
    incident = fire(tb, alertname="SiteDown")
    path = f"/incidents/fingerprint/{incident['fingerprint']}"
    assert tb.client.get(path).headers["Location"] == f"/signin?next={path}"
    assert sign_in(tb.client, tb.operator_token, next_path=path).headers["Location"] == path
    assert tb.client.get(path).headers["Location"] == f"/incidents/{incident['id']}"


def test_a_fingerprint_not_in_the_bridge_yet_is_a_page_that_refreshes_itself(tb):
    sent = alert(alertname="SiteDown")
    browser = operator(tb)
    path = f"/incidents/fingerprint/{sent['fingerprint']}"
    response = browser.get(path)
    html = page_text(response)
    assert response.status_code == 200
    assert '<meta http-equiv="refresh" content="5">' in html
    assert "pas encore dans le pont" in html
    tb.post_alerts(sent)
    assert browser.get(path).status_code == 302


@pytest.mark.parametrize("fingerprint", ["0123456789ABCDEF", "0123456789abcde",
                                         "0123456789abcdef0", "zz23456789abcdef"])
def test_a_fingerprint_that_is_not_sixteen_hex_digits_is_a_404_page(tb, fingerprint):
    response = operator(tb).get(f"/incidents/fingerprint/{fingerprint}")
    assert response.status_code == 404 and "Cette page n'existe pas" in page_text(response)
