"""The token lifecycle: `owl token add|list|revoke`, a revocation that counts at the bridge's next
request, a last use recorded at most once a minute without failing a request, and, while the
database is down, 401 for a token the bridge cannot vouch for (503 only for one it saw valid).

The outages are real: PostgreSQL behind a TCP relay that is switched off under a running `owl
bridge`, an SQLite file replaced by a directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest
import requests
from sqlalchemy import select, text
from sqlalchemy.engine import make_url

from sla_bridge.auth import (
    OPERATOR,
    AmbiguousToken,
    TokenNotFound,
    TokenStore,
    digest,
)
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Token
from tests.conftest import REPO
from tests.support.bridge import WEBHOOK_TOKEN, Clock, at
from tests.support.databases import postgres_url, reset_postgres
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.support.tcp_relay import TcpRelay

INVENTORY = str(REPO / "examples" / "inventory.yml")
NOW = at("2025-03-07 10:00")
ENV = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "PATH": "/usr/bin:/bin"}


def owl(*args: str, database: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "owl_commands.cli", *args, "--database",
                           database], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": "/usr/bin:/bin"})


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def last_used(db: Database, token: str):
    with db.read() as session:
        return session.scalar(select(Token.last_used_at).where(Token.digest == digest(token)))


@pytest.fixture
def store(database_url):
    db = Database(database_url)
    db.upgrade()
    yield TokenStore(db, None, clock=Clock(NOW))
    db.dispose()


# --- listing and revoking ---------------------------------------------------------------------

def test_the_list_shows_who_each_token_is_for_and_the_revoked_ones_only_when_asked(store):
    alice = store.add(OPERATOR, "alice")
    store.add("client", "client:acme", client="acme")
    store.revoke(OPERATOR, "alice")
    [valid] = store.list_tokens()
    assert (valid.kind, valid.name, valid.client, valid.revoked_at) == (
        "client", "client:acme", "acme", None)
    listed = store.list_tokens(include_revoked=True)
    assert [(info.name, info.prefix, info.revoked_at) for info in listed] == [
        ("alice", alice[:12], NOW), ("client:acme", valid.prefix, None)]


def test_a_prefix_revokes_the_one_token_it_starts_and_no_other(store):
    alice, bob = store.add(OPERATOR, "alice"), store.add(OPERATOR, "bob")
    revoked = store.revoke_one(alice[:9])
    assert (revoked.name, revoked.prefix, revoked.revoked_at) == ("alice", alice[:12], NOW)
    assert store.authenticate(alice) is None
    assert store.authenticate(bob).name == "bob"


def test_a_prefix_several_tokens_start_with_is_refused_and_revokes_nothing(store):
    store.add(OPERATOR, "alice"), store.add(OPERATOR, "alice")
    with pytest.raises(AmbiguousToken, match="2 valid tokens start with 'owlo_'") as refused:
        store.revoke_one("owlo_")
    assert [info.name for info in refused.value.matches] == ["alice", "alice"]
    assert len(store.list_tokens()) == 2


@pytest.mark.parametrize("given, reason", [
    ("owlc_", "no valid token starts with 'owlc_'"),
    ("alice", "'alice' is not the start of a token"),
    ("owlo_" + "x" * 10, "is longer than the 12 characters kept"),
])
def test_a_prefix_no_valid_token_starts_with_is_refused_naming_it(store, given, reason):
    store.add(OPERATOR, "alice")
    with pytest.raises(TokenNotFound, match=reason):
        store.revoke_one(given)
    assert len(store.list_tokens()) == 1


def test_a_token_made_before_prefixes_were_kept_is_listed_without_one_and_revoked_whole(store):
    old = store.add(OPERATOR, "alice")
    with store.db.write() as session:
        session.execute(text("UPDATE tokens SET prefix = NULL"))
    [info] = store.list_tokens()
    assert info.prefix is None
    with pytest.raises(TokenNotFound):
        store.revoke_one(old[:12])
    assert store.revoke_one(old).name == "alice"
    assert store.authenticate(old) is None


def test_a_revoked_token_is_refused_at_the_next_request_though_the_bridge_saw_it_valid(tb):
    token = tb.bridge.tokens.add("client", "client:acme", client="acme")
    assert tb.client.get("/api/v1/incidents", headers=bearer(token)).status_code == 200
    other = Database(tb.bridge.db.url)  # another process's connection: the command's
    try:
        TokenStore(other, None).revoke_one(token[:12])
    finally:
        other.dispose()
    response = tb.client.get("/api/v1/incidents", headers=bearer(token))
    assert response.status_code == 401


# --- last use ----------------------------------------------------------------------------------

def test_a_request_records_the_tokens_last_use(tb):
    assert last_used(tb.bridge.db, tb.operator_token) is None
    assert tb.as_operator("GET", "/api/v1/incidents").status_code == 200
    assert wait_until(lambda: last_used(tb.bridge.db, tb.operator_token), timeout=10,
                      interval=0.05, message="last_used_at written")


def test_the_last_use_is_written_at_most_once_a_minute_per_token(store):
    token = store.add(OPERATOR, "alice")
    store.authenticate(token)
    wait_until(lambda: last_used(store.db, token) == NOW, timeout=10, interval=0.05,
               message="the first use written")
    store.clock.advance(seconds=59)
    for _ in range(20):
        assert store.authenticate(token).name == "alice"
    time.sleep(0.5)
    assert last_used(store.db, token) == NOW
    later = store.clock.advance(seconds=1)
    store.authenticate(token)
    wait_until(lambda: last_used(store.db, token) == later, timeout=10, interval=0.05,
               message="the use a minute later written")


def test_a_last_use_that_cannot_be_written_fails_no_request(tmp_path):
    from tests.support.bridge import make_bridge
    from tests.support.databases import database_url_for

    tb = make_bridge(database_url_for("postgresql", tmp_path), NOW)
    try:
        with tb.bridge.db.engine.begin() as connection:
            connection.execute(text("REVOKE UPDATE ON tokens FROM CURRENT_USER"))
        for _ in range(3):
            assert tb.as_operator("GET", "/api/v1/incidents").status_code == 200
        time.sleep(0.5)
        assert last_used(tb.bridge.db, tb.operator_token) is None
    finally:
        tb.bridge.db.dispose()


# --- database outages -------------------------------------------------------------------------

def test_during_an_sqlite_outage_only_a_token_seen_valid_gets_503(tmp_path):
    """The file is replaced by a directory; the pool's connections, which keep the old file
    open, are closed, as the bridge's next new connection would find it. (PostgreSQL's outage
    is the relayed bridge's test below.)"""
    from tests.support.bridge import make_bridge

    database_url = f"sqlite:///{tmp_path / 'bridge.db'}"
    tb = make_bridge(database_url, NOW)
    unseen = tb.bridge.tokens.add(OPERATOR, "bob")
    assert tb.as_operator("GET", "/api/v1/incidents").status_code == 200
    path = make_url(database_url).database
    moved = tmp_path / "moved"
    moved.mkdir()
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.replace(path + suffix, moved / f"bridge.db{suffix}")
    os.mkdir(path)
    tb.bridge.db.engine.dispose()
    try:
        response = tb.as_operator("GET", "/api/v1/incidents")
        assert (response.status_code, response.json) == (
            503, {"error": "storage is unavailable; retry later"})
        for token in (unseen, "owlo_" + "A" * 43, "owlo_short", "not-ours"):
            response = tb.client.get("/api/v1/incidents", headers=bearer(token))
            assert response.status_code == 401, token
            assert response.headers["WWW-Authenticate"] == 'Bearer realm="owl-sla-bridge"'
    finally:
        os.rmdir(path)
        for suffix in ("", "-wal", "-shm"):
            if (moved / f"bridge.db{suffix}").exists():
                os.replace(moved / f"bridge.db{suffix}", path + suffix)
        tb.bridge.db.engine.dispose()
    assert tb.client.get("/api/v1/incidents", headers=bearer(unseen)).status_code == 200
    tb.bridge.tokens.revoke(OPERATOR, "alice")
    assert tb.as_operator("GET", "/api/v1/incidents").status_code == 401


def test_a_running_bridge_whose_postgresql_goes_away_answers_401_to_tokens_it_cannot_vouch_for(
        tmp_path):
    database = postgres_url()
    reset_postgres(database)
    assert owl("db", "upgrade", database=database).returncode == 0
    made = {name: owl("token", "add", "--operator", name, database=database).stdout.strip()
            for name in ("alice", "bob")}
    url = make_url(database)
    port, log = free_port(), tmp_path / "bridge.log"
    with TcpRelay((url.host or "127.0.0.1", url.port or 5432)) as relay:
        relayed = url.set(host="127.0.0.1", port=relay.port).render_as_string(
            hide_password=False)
        relay.open()
        command = [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory",
                   INVENTORY, "--database", relayed, "--web.listen-address",
                   f"127.0.0.1:{port}", "--storage.wait-timeout", "0"]
        with running(command, log, env=ENV) as process:
            base = f"http://127.0.0.1:{port}"
            wait_for_http(f"{base}/healthz", timeout=60, process=process,
                          ok=lambda response: response.status_code == 200)

            def get(token):
                return requests.get(f"{base}/api/v1/incidents", headers=bearer(token),
                                    timeout=30)

            assert get(made["alice"]).status_code == 200
            relay.close()
            started = time.monotonic()
            response = get(made["alice"])
            assert (response.status_code, response.json()) == (
                503, {"error": "storage is unavailable; retry later"})
            for token in (made["bob"], "owlo_" + "A" * 43, "owlo_short"):
                assert get(token).status_code == 401, token
            print(f"\n4 requests answered in {time.monotonic() - started:.2f}s during the outage")
    text_logged = log.read_text()
    assert not any(token in text_logged for token in made.values())
    assert "Traceback" not in text_logged


# --- the commands, against a running bridge ----------------------------------------------------

def test_owl_token_adds_lists_and_revokes_and_the_running_bridge_refuses_at_once(tmp_path):
    database = f"sqlite:///{tmp_path / 'bridge.db'}"
    assert owl("db", "upgrade", database=database).returncode == 0
    alice = owl("token", "add", "--operator", "alice", database=database)
    assert alice.returncode == 0, alice.stderr
    token = alice.stdout.strip()
    assert f"token {token[:12]}… created" in alice.stderr
    client = owl("token", "add", "--client", "acme", "--inventory", INVENTORY,
                 database=database)
    assert client.returncode == 0, client.stderr
    assert owl("operator", "add", "bob", database=database).returncode == 0  # the old spelling

    table = owl("token", "list", database=database)
    assert table.returncode == 0, table.stderr
    header, *rows = table.stdout.splitlines()
    assert header.split() == ["KIND", "NAME", "CLIENT", "PREFIX", "CREATED", "LAST", "USED",
                              "REVOKED"]
    assert [row.split()[:4] for row in rows][0] == ["operator", "alice", "-", f"{token[:12]}…"]
    assert len(rows) == 3 and token not in table.stdout

    port = free_port()
    command = [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory", INVENTORY,
               "--database", database, "--web.listen-address", f"127.0.0.1:{port}"]
    with running(command, tmp_path / "bridge.log", env=ENV) as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/healthz", process=process)
        assert requests.get(f"{base}/api/v1/incidents", headers=bearer(token),
                            timeout=10).status_code == 200

        ambiguous = owl("token", "revoke", "owlo_", database=database)
        assert ambiguous.returncode == 1
        assert ambiguous.stderr.startswith("2 valid tokens start with 'owlo_'")
        assert "nothing revoked" in ambiguous.stderr and "'alice'" in ambiguous.stderr
        assert token not in ambiguous.stderr

        revoked = owl("token", "revoke", f"{token[:10]}…", database=database)
        assert revoked.returncode == 0, revoked.stderr
        assert f"operator 'alice': token {token[:12]}… revoked" in revoked.stderr
        assert requests.get(f"{base}/api/v1/incidents", headers=bearer(token),
                            timeout=10).status_code == 401

    again = owl("token", "revoke", token[:12], database=database)
    assert again.returncode == 1
    assert again.stderr.startswith(f"no valid token starts with '{token[:12]}'")
    listed = json.loads(owl("token", "list", "--all", "--format", "json",
                            database=database).stdout)
    assert [(entry["kind"], entry["name"], entry["revoked_at"] is not None)
            for entry in listed] == [("operator", "alice", True), ("client", "client:acme", False),
                                     ("operator", "bob", False)]
    assert listed[0]["prefix"] == token[:12] and listed[0]["last_used_at"] is not None
    assert set(listed[0]) == {"kind", "name", "client", "prefix", "created_at", "last_used_at",
                              "revoked_at"}
    assert json.loads(owl("token", "list", "--format", "json", database=database).stdout)[0][
        "name"] == "client:acme"


@pytest.mark.parametrize("args, message", [
    (["token", "revoke"], "give one of PREFIX, --operator NAME or --client ID"),
    (["token", "revoke", "owlo_", "--operator", "alice"],
     "give one of PREFIX, --operator NAME or --client ID"),
    (["token", "add", "--client", "acme"], "--client needs --inventory FILE"),
])
def test_a_token_command_missing_what_it_needs_says_so(tmp_path, args, message):
    database = f"sqlite:///{tmp_path / 'bridge.db'}"
    assert owl("db", "upgrade", database=database).returncode == 0
    result = owl(*args, database=database)
    assert result.returncode == 2
    assert result.stderr.startswith(message)


def test_owl_token_revoke_by_name_revokes_every_token_of_that_operator_or_client(tmp_path):
    database = f"sqlite:///{tmp_path / 'bridge.db'}"
    assert owl("db", "upgrade", database=database).returncode == 0
    for _ in range(2):
        owl("token", "add", "--client", "acme", "--inventory", INVENTORY, database=database)
    revoked = owl("token", "revoke", "--client", "acme", database=database)
    assert revoked.returncode == 0, revoked.stderr
    assert "client 'client:acme': 2 token(s) revoked" in revoked.stderr
    assert owl("token", "list", database=database).stderr.startswith("no valid tokens")
