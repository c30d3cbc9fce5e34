"""The Idempotency-Key header on operators' writes: a retry gets the first answer and the write
happens once, even at the same time; a key reused for another request, a bad key, keys of two
operators, keys that expire. Maintenance windows with a real Alertmanager and a real SMTP
server; on SQLite and on PostgreSQL."""

import datetime as dt
import threading

import pytest
from sqlalchemy import select

from sla_bridge.storage.schema import Event, IdempotencyKey, Incident, Maintenance
from tests.support.bridge import alert, make_bridge, rfc3339
from tests.support.processes import free_port
from tests.support.smtp import notifying_inventory

UTC = dt.timezone.utc
KEY = "8e03978e-40d5-43e8-bc93-6894a57f9324"


@pytest.fixture
def mailed(database_url, alertmanager, smtp):
    """A bridge with a real Alertmanager and a real SMTP server; its clock is Alertmanager's."""
    bridge = make_bridge(database_url, dt.datetime.now(UTC).replace(microsecond=0),
                         notifying_inventory(smtp.port, alertmanager.url.removeprefix("http://")))
    yield bridge
    bridge.bridge.notifier.close()
    bridge.bridge.db.dispose()


def send(tb, method, path, key=KEY, token=None, client=None, **kwargs):
    headers = {"Authorization": f"Bearer {token or tb.operator_token}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return (client or tb.client).open(path, method=method, headers=headers, **kwargs)


def window(tb, description="Mise à jour de PHP 8.3", targets=("shop", "web1")) -> dict:
    start = tb.clock.now + dt.timedelta(hours=48)
    return {"client": "acme", "targets": list(targets), "starts_at": rfc3339(start),
            "ends_at": rfc3339(start + dt.timedelta(hours=2)), "description": description}


def rows(tb, model) -> list:
    with tb.bridge.db.read() as session:
        return session.scalars(select(model).order_by(model.id)).all()


def slow_silences(tb, monkeypatch, seconds=0.5):
    """Alertmanager answers each silence late, so that two requests overlap."""
    create = tb.bridge.alertmanager.create_silence

    def late(*args, **kwargs):
        threading.Event().wait(seconds)
        return create(*args, **kwargs)

    monkeypatch.setattr(tb.bridge.alertmanager, "create_silence", late)


def at_once(*calls):
    """Run the calls in threads started together; their results in order."""
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(index, call):
        start.wait()
        results[index] = call()

    threads = [threading.Thread(target=run, args=pair) for pair in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def incident_of(tb) -> int:
    assert tb.post_alerts(alert()).status_code == 200
    [incident] = tb.incidents()
    return incident["id"]


# --- maintenance windows ------------------------------------------------------------------------

def test_a_retried_announcement_gets_the_first_answer_and_makes_nothing_twice(
        mailed, alertmanager, smtp):
    first = send(mailed, "POST", "/api/v1/maintenances", json=window(mailed))
    assert first.status_code == 201, first.json
    cancelled = send(mailed, "DELETE", f"/api/v1/maintenances/{first.json['id']}", key=None)
    assert cancelled.status_code == 200
    retry = send(mailed, "POST", "/api/v1/maintenances", json=window(mailed))
    assert retry.status_code == 201
    assert retry.json == first.json  # the answer given then: the window as announced
    assert retry.headers["Location"] == first.headers["Location"]
    assert len(rows(mailed, Maintenance)) == 1
    assert len(alertmanager.silences()) == 2  # one per target kind, once
    mailed.bridge.notifier.wait()
    assert sorted("annulée" in mail.message["Subject"] for mail in smtp.received) == [
        False, True]  # the announcement and its cancellation, nothing more
    [stored] = rows(mailed, IdempotencyKey)
    assert (stored.principal, stored.key, stored.status, stored.body) == (
        "operator:alice", KEY, 201, first.json)


def test_the_answer_is_stored_with_the_window_so_a_crash_before_answering_is_retried(
        mailed, alertmanager, monkeypatch):
    def crash(rows):
        raise RuntimeError("the process died after the commit")

    monkeypatch.setattr(mailed.bridge.notifier, "dispatch", crash)
    assert send(mailed, "POST", "/api/v1/maintenances", json=window(mailed)).status_code == 500
    monkeypatch.undo()
    retry = send(mailed, "POST", "/api/v1/maintenances", json=window(mailed))
    assert retry.status_code == 201  # not 200, "announced already": the first answer
    [stored] = rows(mailed, Maintenance)
    assert retry.json["id"] == stored.id
    assert len(alertmanager.silences()) == 2


def test_two_announcements_with_the_same_key_at_once_make_one_window(
        mailed, alertmanager, smtp, monkeypatch):
    slow_silences(mailed, monkeypatch)
    body = window(mailed)
    first, second = at_once(*[
        lambda: send(mailed, "POST", "/api/v1/maintenances", json=body,
                     client=mailed.app.test_client())] * 2)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json == second.json  # the second waited for the first, and got its answer
    assert len(rows(mailed, Maintenance)) == 1
    assert len(alertmanager.silences()) == 2
    mailed.bridge.notifier.wait()
    assert len(smtp.received) == 1


def test_a_failed_request_is_not_stored_and_its_retry_runs(mailed, alertmanager):
    reachable = mailed.bridge.alertmanager.url
    mailed.bridge.alertmanager.url = f"http://127.0.0.1:{free_port()}"
    failed = send(mailed, "POST", "/api/v1/maintenances", json=window(mailed))
    assert failed.status_code == 503
    assert rows(mailed, IdempotencyKey) == []
    mailed.bridge.alertmanager.url = reachable
    retry = send(mailed, "POST", "/api/v1/maintenances", json=window(mailed))
    assert retry.status_code == 201, retry.json
    assert len(alertmanager.silences()) == 2


def test_the_same_key_for_another_request_is_a_422_naming_the_header(mailed, alertmanager):
    first = send(mailed, "POST", "/api/v1/maintenances", json=window(mailed))
    assert first.status_code == 201, first.json
    for method, path, body in [
            ("POST", "/api/v1/maintenances", window(mailed, description="Autre chose")),
            ("POST", "/api/v1/maintenances", window(mailed, targets=["web1", "shop"])),
            ("DELETE", f"/api/v1/maintenances/{first.json['id']}", None),
            ("POST", "/api/v1/incidents/1/ack", None)]:
        response = send(mailed, method, path, json=body)
        assert response.status_code == 422, (method, path, response.json)
        assert response.json["field"] == "Idempotency-Key"
        assert "another request" in response.json["error"]
    [announced] = rows(mailed, Maintenance)
    assert announced.cancelled_at is None
    assert len(alertmanager.silences()) == 2


def test_two_operators_sending_the_same_key_do_not_share_it(mailed, alertmanager):
    bob = mailed.bridge.tokens.add("operator", "bob")
    alices = send(mailed, "POST", "/api/v1/maintenances", json=window(mailed, targets=["shop"]))
    bobs = send(mailed, "POST", "/api/v1/maintenances", token=bob,
                json=window(mailed, targets=["web1"]))
    assert (alices.status_code, bobs.status_code) == (201, 201)
    assert bobs.json["announced_by"] == "bob" and bobs.json["targets"] == ["web1"]
    assert sorted(row.principal for row in rows(mailed, IdempotencyKey)) == [
        "operator:alice", "operator:bob"]


@pytest.mark.parametrize("key, reason", [
    ("", "empty"),
    ('""', "empty"),
    ("k" * 256, "at most 255"),
    ('"' + "k" * 256 + '"', "at most 255"),
    ("clé", "letters, digits"),
    ("a b", "letters, digits"),
    ('"a", "b"', "letters, digits"),
    ("a;b", "letters, digits"),
])
def test_a_bad_key_is_a_400_naming_the_header_and_changes_nothing(mailed, alertmanager, key,
                                                                  reason):
    response = send(mailed, "POST", "/api/v1/maintenances", key=key, json=window(mailed))
    assert response.status_code == 400, response.json
    assert response.json["field"] == "Idempotency-Key"
    assert reason in response.json["error"]
    assert rows(mailed, Maintenance) == [] and alertmanager.silences() == []


@pytest.mark.parametrize("key, stored", [
    ('"' + KEY + '"', KEY),  # the draft's Structured Field string
    ("k" * 255, "k" * 255),
    ("AZaz09-_.:~+/=", "AZaz09-_.:~+/="),
])
def test_a_key_is_a_quoted_string_or_a_bare_one_of_up_to_255_characters(
        mailed, alertmanager, key, stored):
    assert send(mailed, "POST", "/api/v1/maintenances", key=key,
                json=window(mailed)).status_code == 201
    assert [row.key for row in rows(mailed, IdempotencyKey)] == [stored]


# --- incidents ---------------------------------------------------------------------------

def test_a_retried_exclusion_is_answered_as_the_first_and_excludes_once(tb):
    incident = incident_of(tb)
    path = f"/api/v1/incidents/{incident}/exclusion"
    body = {"reason": "third_party", "note": "panne de l'hébergeur"}
    first = send(tb, "POST", path, json=body)
    assert first.status_code == 200, first.json
    assert send(tb, "DELETE", path, key=None).status_code == 200
    tb.clock.advance(minutes=5)
    retry = send(tb, "POST", path, json=body)
    assert (retry.status_code, retry.json) == (200, first.json)
    with tb.bridge.db.read() as session:
        assert session.get(Incident, incident).exclusion_reason is None  # withdrawn, still
        assert [event.kind for event in session.scalars(
            select(Event).where(Event.incident_id == incident).order_by(Event.id))
                if event.kind.startswith("exclusion")] == ["exclusion", "exclusion_withdrawn"]


@pytest.mark.parametrize("method, suffix", [("POST", "ack"), ("DELETE", "exclusion")])
def test_acknowledgements_and_withdrawals_keep_their_answer_under_the_key(tb, method, suffix):
    incident = incident_of(tb)
    response = send(tb, method, f"/api/v1/incidents/{incident}/{suffix}")
    assert response.status_code == 200, response.json
    [stored] = rows(tb, IdempotencyKey)
    assert (stored.status, stored.body) == (200, response.json)


def test_a_key_expires_after_24_hours_and_expired_keys_are_purged(tb):
    incident = incident_of(tb)
    ack = f"/api/v1/incidents/{incident}/ack"
    exclusion = f"/api/v1/incidents/{incident}/exclusion"
    body = {"reason": "third_party", "note": "panne de l'hébergeur"}
    assert send(tb, "POST", ack).status_code == 200
    send(tb, "POST", ack, key="other")
    tb.clock.advance(hours=23, minutes=59)
    assert send(tb, "POST", exclusion, json=body).status_code == 422
    tb.clock.advance(minutes=2)
    reused = send(tb, "POST", exclusion, json=body)
    assert reused.status_code == 200, reused.json
    assert reused.json["exclusion"]["reason"] == "third_party"
    assert [(row.key, row.created_at) for row in rows(tb, IdempotencyKey)] == [
        (KEY, tb.clock.now)]  # the new answer; "other" is gone with the first


def test_a_request_without_the_header_is_not_kept(tb):
    incident = incident_of(tb)
    assert send(tb, "POST", f"/api/v1/incidents/{incident}/ack", key=None).status_code == 200
    assert rows(tb, IdempotencyKey) == []
