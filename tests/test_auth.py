"""Bearer tokens: kept only as their SHA-256, refused when unknown, revoked or of the wrong role,
a client's bound to that client; the webhook's read from the environment or a file. On SQLite
and PostgreSQL."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import text

from sla_bridge.auth import (
    CLIENT,
    OPERATOR,
    WEBHOOK,
    Principal,
    TokenStore,
    bearer_token,
    read_webhook_token,
    well_formed,
)
from sla_bridge.storage.database import Database
from tests.support.bridge import WEBHOOK_TOKEN, alert, at

NOW = at("2025-03-07 10:00")


@pytest.fixture
def tokens(database_url):
    db = Database(database_url)
    db.upgrade()
    yield TokenStore(db, WEBHOOK_TOKEN)
    db.dispose()


def stored_rows(tokens) -> list[tuple]:
    """Every column of every row of the tokens table, as the database has them."""
    with tokens.db.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(text("SELECT * FROM tokens"))]


# --- what is stored ----------------------------------------------------------------------------

def test_a_token_is_stored_only_as_its_sha256(tokens):
    token = tokens.add(OPERATOR, "alice", now=NOW)
    [row] = stored_rows(tokens)
    assert hashlib.sha256(token.encode()).hexdigest() in row
    assert not any(token in str(value) for value in row)


def test_tokens_are_random_and_say_their_role_by_their_prefix(tokens):
    operator, client = tokens.add(OPERATOR, "alice"), tokens.add(CLIENT, "acme", client="acme")
    assert operator.startswith("owlo_") and client.startswith("owlc_")
    assert len(operator) > 40 and operator != tokens.add(OPERATOR, "alice")


def test_the_webhook_token_is_not_stored_at_all(tokens):
    tokens.add(OPERATOR, "alice", now=NOW)
    assert tokens.authenticate(WEBHOOK_TOKEN) == Principal(WEBHOOK, "alertmanager")
    webhook_digest = hashlib.sha256(WEBHOOK_TOKEN.encode()).hexdigest()
    stored = [str(value) for row in stored_rows(tokens) for value in row]
    assert not any(WEBHOOK_TOKEN in value or webhook_digest in value for value in stored)


# --- who a token is ----------------------------------------------------------------------------

def test_each_token_authenticates_as_who_it_was_made_for(tokens):
    operator = tokens.add(OPERATOR, "alice", now=NOW)
    client = tokens.add(CLIENT, "client:acme", client="acme", now=NOW)
    assert tokens.authenticate(operator) == Principal(OPERATOR, "alice")
    assert tokens.authenticate(client) == Principal(CLIENT, "client:acme", "acme")
    assert tokens.authenticate(WEBHOOK_TOKEN) == Principal(WEBHOOK, "alertmanager")


@pytest.mark.parametrize("presented", [None, "", "owlo_unknown", WEBHOOK_TOKEN + "x",
                                       "owlo_" + "A" * 43, "owlc_" + "-" * 43])
def test_an_unknown_or_empty_token_is_nobody(tokens, presented):
    tokens.add(OPERATOR, "alice", now=NOW)
    assert tokens.authenticate(presented) is None


def test_a_token_keeps_its_first_twelve_characters_in_clear_and_nothing_more(tokens):
    token = tokens.add(OPERATOR, "alice", now=NOW)
    [info] = tokens.list_tokens()
    assert info.prefix == token[:12] and info.prefix.startswith("owlo_")
    assert len(token) == 48 and well_formed(token)


@pytest.mark.parametrize("shape", [
    "owlx_" + "A" * 43,  # no role of ours
    "owlo_" + "A" * 42,  # one character short
    "owlo_" + "A" * 44,
    "owlo_" + "A" * 42 + "=",  # not URL-safe base64
    "owlo_" + "A" * 42 + "\u00e9",
])
def test_a_token_that_cannot_be_one_of_ours_is_not_well_formed(shape):
    assert not well_formed(shape)


def test_without_a_webhook_token_configured_nothing_authenticates_as_the_webhook(
        database_url):
    db = Database(database_url)
    db.upgrade()
    try:
        assert TokenStore(db, None).authenticate(WEBHOOK_TOKEN) is None
    finally:
        db.dispose()


def test_a_revoked_token_is_nobody_and_revoking_again_changes_nothing(tokens):
    token = tokens.add(CLIENT, "client:acme", client="acme", now=NOW)
    assert tokens.revoke(CLIENT, "client:acme", now=NOW) == 1
    assert tokens.authenticate(token) is None
    assert tokens.revoke(CLIENT, "client:acme", now=NOW) == 0


def test_revoking_revokes_every_token_of_that_name_and_role_only(tokens):
    first, second = tokens.add(OPERATOR, "alice"), tokens.add(OPERATOR, "alice")
    bob, client = tokens.add(OPERATOR, "bob"), tokens.add(CLIENT, "alice", client="acme")
    assert tokens.revoke(OPERATOR, "alice") == 2
    assert [tokens.authenticate(t) for t in (first, second)] == [None, None]
    assert tokens.authenticate(bob).name == "bob"
    assert tokens.authenticate(client).client == "acme"


# --- the Authorization header ------------------------------------------------------------------

@pytest.mark.parametrize("header, token", [
    ("Bearer abc", "abc"),
    ("bearer abc", "abc"),
    ("BEARER  abc ", "abc"),
    ("Bearer ", None),
    ("Basic dXNlcjpwYXNz", None),
    ("abc", None),
    ("", None),
    (None, None),
])
def test_the_token_is_what_follows_bearer_in_the_authorization_header(header, token):
    assert bearer_token(header) == token


# --- roles and clients, through the bridge's endpoints ----------------------------------------

@pytest.fixture
def client_token(tb):
    return tb.bridge.tokens.add("client", "client:globex", client="globex")


def as_client(tb, token, path, **kwargs):
    return tb.client.get(path, headers={"Authorization": f"Bearer {token}"}, **kwargs)


@pytest.mark.parametrize("role, method, path", [
    ("client", "POST", "/api/v1/alerts"),
    ("webhook", "POST", "/api/v1/incidents/1/ack"),
    ("webhook", "GET", "/api/v1/ledger?client=acme&month=2025-03"),
    ("client", "DELETE", "/api/v1/incidents/1/exclusion"),
])
def test_a_token_of_the_wrong_role_is_refused_with_a_403(tb, client_token, role, method, path):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")))
    token = WEBHOOK_TOKEN if role == "webhook" else client_token
    response = tb.client.open(path, method=method, json={},
                              headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403
    assert [incident["acknowledged_at"] for incident in tb.incidents()] == [None]


def test_a_client_lists_only_its_own_incidents(tb, client_token):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")),
                   alert(client="globex", site="www", starts_at=at("2025-03-07 09:00")))
    listing = as_client(tb, client_token, "/api/v1/incidents").json["incidents"]
    assert [i["client"] for i in listing] == ["globex"]
    assert as_client(tb, client_token, "/api/v1/incidents",
                     query_string={"client": "acme"}).status_code == 404


def test_another_clients_incident_is_a_404_for_a_client(tb, client_token):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")))
    assert as_client(tb, client_token, "/api/v1/incidents/1").status_code == 404


def test_a_client_reads_its_own_ledger_but_not_anothers(tb, client_token):
    assert as_client(tb, client_token, "/api/v1/ledger",
                     query_string={"month": "2025-03"}).json["client"] == "globex"
    assert as_client(tb, client_token, "/api/v1/ledger",
                     query_string={"month": "2025-03", "client": "acme"}).status_code == 404


def test_a_client_cannot_acknowledge(tb, client_token):
    tb.post_alerts(alert(client="globex", site="www", starts_at=at("2025-03-07 09:00")))
    response = tb.client.post("/api/v1/incidents/1/ack",
                              headers={"Authorization": f"Bearer {client_token}"})
    assert response.status_code == 403
    [incident] = tb.incidents()
    assert incident["acknowledged_at"] is None


def test_a_revoked_token_no_longer_works(tb, client_token):
    tb.bridge.tokens.revoke("client", "client:globex")
    assert as_client(tb, client_token, "/api/v1/incidents").status_code == 401


# --- the webhook's token -----------------------------------------------------------------------

def test_the_webhook_token_is_the_first_line_of_its_file(tmp_path, monkeypatch):
    monkeypatch.delenv("OWL_WEBHOOK_TOKEN", raising=False)
    path = tmp_path / "webhook-token"
    path.write_text("  s3cret  \nsecond line\n", encoding="utf-8")
    assert read_webhook_token(str(path)) == "s3cret"


def test_the_environment_wins_over_the_webhook_token_file(tmp_path, monkeypatch):
    monkeypatch.setenv("OWL_WEBHOOK_TOKEN", " from-env\n")
    path = tmp_path / "webhook-token"
    path.write_text("from-file\n", encoding="utf-8")
    assert read_webhook_token(str(path)) == "from-env"


def test_an_empty_webhook_token_file_is_an_error_naming_the_file(tmp_path, monkeypatch):
    monkeypatch.delenv("OWL_WEBHOOK_TOKEN", raising=False)
    path = tmp_path / "webhook-token"
    path.write_text(" \n", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{path}: the webhook token file is empty"):
        read_webhook_token(str(path))


def test_without_the_environment_or_a_file_there_is_no_webhook_token(monkeypatch):
    monkeypatch.delenv("OWL_WEBHOOK_TOKEN", raising=False)
    assert read_webhook_token(None) is None
