"""Signing in to the console and the portal: a token once, then a session the server checks on
every page, in an HttpOnly SameSite cookie, ended by signing out, by expiry and by revoking the
token; failed attempts limited per address; every form CSRF-protected."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from sqlalchemy import select

from sla_bridge.storage.schema import WebSession
from tests.support.bridge import INVENTORY, WEBHOOK_TOKEN, alert, at, make_bridge
from tests.support.pages import csrf_token, page_text, sign_in

OTHER_ADDRESS = {"REMOTE_ADDR": "192.0.2.7"}


def signed_in(client) -> bool:
    """Whether ``client``'s session opens the pages: the home page sends it to the incidents
    rather than to the sign-in page."""
    response = client.get("/")
    assert response.status_code == 302
    return not response.headers["Location"].startswith("/signin")


def session_cookie(response) -> str:
    cookies = [value for value in response.headers.get_all("Set-Cookie")
               if value.startswith("owl_session=")]
    assert len(cookies) == 1, response.headers.get_all("Set-Cookie")
    return cookies[0]


def test_the_sign_in_page_is_french_and_its_form_carries_a_csrf_token(tb):
    response = tb.client.get("/signin")
    text = page_text(response)
    assert response.status_code == 200
    assert '<html lang="fr">' in text
    assert "Connexion" in text and "Jeton" in text
    assert "Se souvenir de cet appareil pendant 30 jours" in text
    assert csrf_token(text)


def test_a_page_asked_for_before_signing_in_sends_to_the_sign_in_page_and_back(tb):
    response = tb.client.get("/incidents?severity=critical")
    assert response.status_code == 302
    assert response.headers["Location"] == "/signin?next=/incidents?severity%3Dcritical"
    answer = sign_in(tb.client, tb.operator_token, next_path="/incidents?severity=critical")
    assert answer.headers["Location"] == "/incidents?severity=critical"


def test_an_operator_token_opens_a_twelve_hour_session_in_an_httponly_samesite_cookie(tb):
    response = sign_in(tb.client, tb.operator_token)
    cookie = session_cookie(response)
    assert response.status_code == 302
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Max-Age=43200" in cookie
    assert "Secure" not in cookie  # plain HTTP: a Secure cookie would never come back
    assert signed_in(tb.client)
    tb.clock.advance(hours=11, minutes=59)
    assert signed_in(tb.client)
    tb.clock.advance(minutes=2)
    assert not signed_in(tb.client)  # the server's expiry, whatever the browser keeps


def test_a_remembered_device_stays_signed_in_for_thirty_days(tb):
    cookie = session_cookie(sign_in(tb.client, tb.operator_token, remember=True))
    assert f"Max-Age={30 * 24 * 3600}" in cookie
    tb.clock.advance(days=29, hours=23)
    assert signed_in(tb.client)
    tb.clock.advance(hours=2)
    assert not signed_in(tb.client)


def test_over_https_the_cookies_are_secure(tb):
    https = "https://localhost"
    form_page = tb.client.get("/signin", base_url=https)
    csrf_cookie = [value for value in form_page.headers.get_all("Set-Cookie")
                   if value.startswith("owl_csrf=")]
    assert len(csrf_cookie) == 1
    assert "Secure" in csrf_cookie[0] and "HttpOnly" in csrf_cookie[0]
    response = tb.client.post("/signin", base_url=https, headers={"Referer": f"{https}/signin"},
                              data={"csrf_token": csrf_token(page_text(form_page)),
                                    "token": tb.operator_token})
    assert "Secure" in session_cookie(response)


def test_a_client_read_token_signs_in_too(tb):
    token = tb.bridge.tokens.add("client", "acme-portal", client="acme")
    assert sign_in(tb.client, token).status_code == 302
    assert signed_in(tb.client)


@pytest.mark.parametrize("token", ["owlo_" + "x" * 43, "not a token", WEBHOOK_TOKEN, " "])
def test_a_token_that_is_not_an_operator_or_client_token_is_refused_with_no_session(tb, token):
    response = sign_in(tb.client, token)
    assert response.status_code == 401
    assert "Ce jeton n'est pas valide" in page_text(response)
    assert not [value for value in response.headers.get_all("Set-Cookie")
                if value.startswith("owl_session=")]
    assert not signed_in(tb.client)


def test_signing_in_without_the_forms_csrf_token_opens_no_session(tb):
    response = tb.client.post("/signin", data={"token": tb.operator_token})
    assert response.status_code == 303
    assert not signed_in(tb.client)


def test_signing_out_ends_the_session_on_the_server_even_for_a_copied_cookie(tb):
    cookie = session_cookie(sign_in(tb.client, tb.operator_token)).split(";")[0]
    token = csrf_token(page_text(tb.client.get("/incidents")))  # every page can sign out
    response = tb.client.post("/signout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/signin"
    assert not signed_in(tb.client)
    thief = tb.app.test_client()
    thief.set_cookie("owl_session", cookie.split("=", 1)[1])
    assert not signed_in(thief)


def test_signing_out_without_the_csrf_token_keeps_the_session(tb):
    sign_in(tb.client, tb.operator_token)
    tb.client.post("/signout")
    assert signed_in(tb.client)


def test_revoking_the_token_ends_its_sessions_at_the_next_page(tb):
    token = tb.bridge.tokens.add("operator", "bob")
    sign_in(tb.client, token)
    other = tb.app.test_client()
    sign_in(other, token, remember=True)
    assert signed_in(tb.client) and signed_in(other)
    tb.bridge.tokens.revoke_one(token)
    assert not signed_in(tb.client)
    assert not signed_in(other)


def test_the_session_secret_is_kept_only_as_its_digest(tb):
    secret = session_cookie(sign_in(tb.client, tb.operator_token)).split(";")[0].split("=", 1)[1]
    with tb.bridge.db.read() as session:
        digests = session.scalars(select(WebSession.digest)).all()
    assert len(digests) == 1 and secret not in digests[0] and len(digests[0]) == 64


def test_failed_sign_ins_are_limited_per_address(tb):
    for _ in range(10):
        assert sign_in(tb.client, "owlo_" + "y" * 43).status_code == 401
    refused = sign_in(tb.client, tb.operator_token)
    assert refused.status_code == 429
    assert "Trop de tentatives" in page_text(refused)
    assert not signed_in(tb.client)
    elsewhere = tb.app.test_client()
    assert sign_in(elsewhere, tb.operator_token, environ_base=OTHER_ADDRESS).status_code == 302


def test_successful_sign_ins_do_not_count_against_the_limit(tb):
    for _ in range(15):
        assert sign_in(tb.app.test_client(), tb.operator_token).status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example",
                                    "javascript:alert(1)"])
def test_after_signing_in_the_browser_never_goes_to_another_site(tb, target):
    response = sign_in(tb.client, tb.operator_token, next_path=target)
    assert response.headers["Location"] == "/"


def test_the_session_cookie_does_not_authenticate_the_api(tb):
    sign_in(tb.client, tb.operator_token)
    assert tb.client.get("/api/v1/incidents").status_code == 401


def test_the_apis_bearer_token_routes_need_no_csrf_token(tb):
    assert tb.post_alerts(alert()).status_code == 200
    incident = tb.incidents()[0]
    response = tb.as_operator("POST", f"/api/v1/incidents/{incident['id']}/ack")
    assert response.status_code == 200


def test_pages_carry_headers_that_keep_them_out_of_frames_and_caches(tb):
    response = tb.client.get("/signin")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" not in tb.client.get("/healthz").headers


def test_an_unknown_page_is_a_french_page_and_an_unknown_api_path_stays_json(tb):
    page = tb.client.get("/nulle-part")
    assert page.status_code == 404 and page.mimetype == "text/html"
    assert "Cette page n'existe pas." in page_text(page)
    api = tb.client.get("/api/v1/nulle-part")
    assert api.status_code == 404 and api.is_json


def test_sessions_long_expired_are_purged(tb):
    sign_in(tb.client, tb.operator_token)
    sessions = tb.bridge.web_sessions
    assert sessions.purge() == 0
    tb.clock.advance(hours=12, minutes=1)
    assert sessions.purge() == 0  # expired, kept a day for the record
    tb.clock.advance(days=1)
    assert sessions.purge() == 1


def test_lifetimes_are_the_bridges_options(tmp_path):
    from owl_commands.cli import build_parser

    args = build_parser().parse_args(["bridge", "--inventory", "x.yml",
                                      "--web.session-lifetime", "8h",
                                      "--web.remember-lifetime", "7d"])
    assert args.session_lifetime == dt.timedelta(hours=8)
    assert args.remember_lifetime == dt.timedelta(days=7)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bridge", "--inventory", "x.yml",
                                   "--web.session-lifetime", "10s"])


def test_cookies_are_secure_when_the_console_is_served_over_https(database_url):
    inventory = INVENTORY.replace("  timezone: Europe/Paris\n", "  timezone: Europe/Paris\n"
                                  "  stack: {console_url: 'https://owl.example.fr'}\n", 1)
    bridge = make_bridge(database_url, at("2025-03-07 10:00"), inventory)
    try:
        cookie = session_cookie(sign_in(bridge.client, bridge.operator_token))
        assert "Secure" in cookie  # a TLS proxy in front: the bridge itself sees plain HTTP
    finally:
        bridge.bridge.db.dispose()


def test_while_the_database_is_down_a_page_says_so_and_signs_no_one_out(tmp_path):
    """A real outage: the SQLite file is moved away and a directory put in its place (as in
    tests/test_token_lifecycle.py), then put back."""
    database_url = f"sqlite:///{tmp_path / 'bridge.db'}"
    tb = make_bridge(database_url, at("2025-03-07 10:00"))
    sign_in(tb.client, tb.operator_token)
    path = tmp_path / "bridge.db"
    moved = tmp_path / "moved"
    moved.mkdir()
    files = [name for name in ("bridge.db", "bridge.db-wal", "bridge.db-shm")
             if (tmp_path / name).exists()]
    for name in files:
        os.replace(tmp_path / name, moved / name)
    path.mkdir()
    tb.bridge.db.engine.dispose()
    try:
        response = tb.client.get("/incidents")
        assert response.status_code == 503
        assert "La base de données est momentanément indisponible" in page_text(response)
    finally:
        path.rmdir()
        for name in files:
            os.replace(moved / name, tmp_path / name)
        tb.bridge.db.engine.dispose()
    assert signed_in(tb.client)
    tb.bridge.db.dispose()


@pytest.mark.parametrize("field", ["note", "description", "token"])
def test_a_form_field_holding_a_nul_byte_is_a_400_naming_it_and_changes_nothing(tb, field):
    assert tb.post_alerts(alert()).status_code == 200
    sign_in(tb.client, tb.operator_token)
    token = csrf_token(page_text(tb.client.get("/incidents/1")))
    response = tb.client.post("/incidents/1/exclusion", data={
        "csrf_token": token, "reason": "hardware", "note": "a note", field: "bad\x00text"})
    assert response.status_code == 400
    assert f"Le champ « {field} » contient un caractère" in page_text(response)
    assert tb.incidents()[0]["sla"] == "pending"
