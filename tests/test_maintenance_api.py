"""Maintenance windows through the API: the 48-hour rule, validation, tokens, the silences
they become in a real Alertmanager, and the same window announced twice (emailed through a real
SMTP server); on SQLite and on PostgreSQL."""

import datetime as dt
import threading

import pytest
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from sla_bridge.alertmanager import AlertmanagerRefused
from sla_bridge.storage.schema import Event, Maintenance, Notification
from sla_bridge.storage.windows import record_window
from sla_bridge.webhook import parse_time
from tests.support.alertmanager import prometheus_alert
from tests.support.bridge import WEBHOOK_TOKEN, make_bridge, rfc3339
from tests.support.processes import free_port, wait_until
from tests.support.smtp import notifying_inventory

UTC = dt.timezone.utc
MISSING = object()


def real_now() -> dt.datetime:
    """Alertmanager keeps real time: the bridge's clock starts there, to the second."""
    return dt.datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def tb(database_url, alertmanager):
    """A bridge whose Alertmanager is real (mail goes to a port nobody listens on)."""
    bridge = make_bridge(database_url, real_now(), notifying_inventory(
        free_port(), alertmanager.url.removeprefix("http://")))
    yield bridge
    bridge.bridge.notifier.close()
    bridge.bridge.db.dispose()


@pytest.fixture
def mailed(database_url, alertmanager, smtp):
    """A bridge whose Alertmanager and SMTP server are real."""
    bridge = make_bridge(database_url, real_now(), notifying_inventory(
        smtp.port, alertmanager.url.removeprefix("http://")))
    yield bridge
    bridge.bridge.notifier.close()
    bridge.bridge.db.dispose()


@pytest.fixture
def offline(database_url):
    """A bridge whose Alertmanager does not answer."""
    bridge = make_bridge(database_url, real_now(), notifying_inventory(free_port()))
    yield bridge
    bridge.bridge.notifier.close()
    bridge.bridge.db.dispose()


def window(tb, ahead=dt.timedelta(hours=48), length=dt.timedelta(hours=2), **fields) -> dict:
    start = tb.clock.now + ahead
    body = {"client": "acme", "targets": None, "starts_at": rfc3339(start),
            "ends_at": rfc3339(start + length), "description": "Mise à jour de PHP 8.3",
            **fields}
    return {key: value for key, value in body.items() if value is not MISSING}


def announce(tb, **fields):
    return tb.as_operator("POST", "/api/v1/maintenances", json=window(tb, **fields))


def stored(tb) -> tuple[list, list, list]:
    """The windows, maintenance events and notifications in the database."""
    with tb.bridge.db.read() as session:
        return (session.scalars(select(Maintenance)).all(),
                session.scalars(select(Event).where(Event.kind.like("maintenance_%"))
                                .order_by(Event.id)).all(),
                session.scalars(select(Notification)).all())


def silence_states(alertmanager) -> list[str]:
    return sorted(silence["status"]["state"] for silence in alertmanager.silences())


# --- the 48-hour rule ------------------------------------------------------------------------

@pytest.mark.parametrize("ahead, emergency, status, planned", [
    (dt.timedelta(hours=48), False, 201, True),
    (dt.timedelta(hours=47, minutes=59), False, 422, None),
    (dt.timedelta(hours=47, minutes=59), True, 201, False),
    (dt.timedelta(0), True, 201, False),
])
def test_a_window_needs_48_hours_notice_unless_it_is_an_emergency(
        tb, alertmanager, ahead, emergency, status, planned):
    response = announce(tb, ahead=ahead, emergency=emergency)
    assert response.status_code == status, response.json
    if status == 422:
        assert "48 hours" in response.json["error"]
        assert stored(tb) == ([], [], [])
        assert alertmanager.silences() == []
        return
    assert response.json["planned"] is planned
    assert response.json["emergency"] is emergency
    assert response.json["announced_at"] == rfc3339(tb.clock.now)
    assert response.json["announced_by"] == "alice"
    assert response.headers["Location"] == f"/api/v1/maintenances/{response.json['id']}"


@pytest.mark.parametrize("emergency", [False, True])
def test_a_window_that_is_already_over_is_refused(offline, emergency):
    response = announce(offline, ahead=-dt.timedelta(hours=3), emergency=emergency)
    assert response.status_code == 422
    assert "already over" in response.json["error"]
    assert stored(offline) == ([], [], [])


# --- silences ---------------------------------------------------------------------------------

def test_a_window_on_some_targets_becomes_one_silence_per_target_kind(
        tb, alertmanager):
    response = announce(tb, targets=["shop", "web1", "blog", "shop"])
    assert response.status_code == 201, response.json
    assert response.json["targets"] == ["shop", "web1", "blog"]
    silences = alertmanager.silences()
    assert sorted(s["id"] for s in silences) == sorted(response.json["silence_ids"])
    assert sorted(sorted((m["name"], m["value"], m["isRegex"]) for m in s["matchers"])
                  for s in silences) == [
        [("client", "acme", False), ("server", "web1", True)],
        [("client", "acme", False), ("site", "shop|blog", True)]]
    for silence in silences:
        assert silence["status"]["state"] == "pending"
        assert parse_time(silence["startsAt"], "startsAt") == tb.clock.now + dt.timedelta(hours=48)
        assert parse_time(silence["endsAt"], "endsAt") == tb.clock.now + dt.timedelta(hours=50)


def test_a_window_on_all_targets_is_one_silence_on_the_client(
        tb, alertmanager):
    response = announce(tb)
    [silence] = alertmanager.silences()
    assert response.json["silence_ids"] == [silence["id"]]
    assert [(m["name"], m["value"], m["isRegex"]) for m in silence["matchers"]] == [
        ("client", "acme", False)]


def test_the_silences_hide_exactly_the_targets_of_the_window(
        tb, alertmanager):
    ids = announce(tb, ahead=dt.timedelta(0), targets=["shop", "db-1"],
                   emergency=True).json["silence_ids"]
    labels = [{"alertname": "Down", "client": client, label: target}
              for client, label, target in [("acme", "site", "shop"), ("acme", "server", "db-1"),
                                            ("acme", "site", "blog"), ("globex", "site", "shop")]]
    alertmanager.post_alerts(*(prometheus_alert(each, tb.clock.now) for each in labels))

    def silenced_targets():
        alerts = alertmanager.alerts()
        return len(alerts) == 4 and sorted(
            (a["labels"]["client"], a["labels"].get("site") or a["labels"].get("server"))
            for a in alerts if set(a["status"]["silencedBy"]) & set(ids))

    assert wait_until(silenced_targets, 5, 0.1, "alerts processed") == [
        ("acme", "db-1"), ("acme", "shop")]


def test_cancelling_a_window_expires_its_silences_and_records_who_and_when(
        tb, alertmanager):
    created = announce(tb, targets=["shop", "web1"]).json
    tb.clock.advance(hours=1)
    response = tb.as_operator("DELETE", f"/api/v1/maintenances/{created['id']}")
    assert response.status_code == 200, response.json
    assert response.json["cancelled_at"] == rfc3339(tb.clock.now)
    assert response.json["cancelled_by"] == "alice"
    assert silence_states(alertmanager) == ["expired", "expired"]
    tb.clock.advance(minutes=5)
    again = tb.as_operator("DELETE", f"/api/v1/maintenances/{created['id']}")
    assert again.status_code == 200
    assert again.json["cancelled_at"] == response.json["cancelled_at"]
    _, events, _ = stored(tb)
    assert [(e.kind, e.actor, e.at) for e in events] == [
        ("maintenance_created", "alice", tb.clock.now - dt.timedelta(hours=1, minutes=5)),
        ("maintenance_cancelled", "alice", tb.clock.now - dt.timedelta(minutes=5))]
    assert events[0].payload == {
        "id": created["id"], "targets": ["shop", "web1"], "starts_at": created["starts_at"],
        "ends_at": created["ends_at"], "description": "Mise à jour de PHP 8.3",
        "emergency": False, "announced_at": created["announced_at"], "announced_by": "alice",
        "cancelled_at": None, "cancelled_by": None, "silence_ids": created["silence_ids"]}
    assert events[1].payload["cancelled_at"] == response.json["cancelled_at"]


def test_a_window_that_has_ended_cannot_be_cancelled(tb, alertmanager):
    created = announce(tb).json
    tb.clock.advance(hours=51)
    response = tb.as_operator("DELETE", f"/api/v1/maintenances/{created['id']}")
    assert response.status_code == 409
    assert "nothing left to cancel" in response.json["error"]


@pytest.mark.parametrize("raw_id", ["999", "abc", "-1", "99999999999999999999", "%C2%B2",
                                    "9223372036854775807"])
def test_cancelling_an_unknown_window_is_a_404(offline, raw_id):
    response = offline.as_operator("DELETE", f"/api/v1/maintenances/{raw_id}")
    assert response.status_code == 404
    assert "no maintenance window" in response.json["error"]


# --- the same window announced again ---------------------------------------------------------

def test_the_same_window_announced_again_is_a_200_with_it_and_no_second_silence_nor_email(
        mailed, alertmanager, smtp):
    first = announce(mailed, targets=["shop", "web1"])
    assert first.status_code == 201, first.json
    again = announce(mailed, targets=["web1", "shop", "web1"], description="PHP 8.3, bis")
    assert again.status_code == 200, again.json
    assert again.json == first.json  # the first description stays
    assert again.headers["Location"] == first.headers["Location"]
    windows, events, notifications = stored(mailed)
    assert (len(windows), len(events), len(notifications)) == (1, 1, 1)
    assert len(alertmanager.silences()) == 2
    mailed.bridge.notifier.wait()
    assert len(smtp.received) == 1


@pytest.mark.parametrize("first, second", [
    ({"targets": None}, {"targets": ["shop", "blog", "web1", "db-1"]}),
    ({"targets": ["shop"]}, {"targets": ["shop", "blog"]}),
    ({}, {"client": "globex"}),
    ({}, {"length": dt.timedelta(hours=3)}),
    ({}, {"ahead": dt.timedelta(hours=49)}),
])
def test_a_window_of_another_client_or_on_other_targets_or_times_is_another_window(
        mailed, alertmanager, first, second):
    assert announce(mailed, **first).status_code == 201
    assert announce(mailed, **second).status_code == 201
    assert len(stored(mailed)[0]) == 2


def test_a_cancelled_window_announced_again_is_a_new_window(mailed, alertmanager):
    first = announce(mailed).json
    assert mailed.as_operator("DELETE", f"/api/v1/maintenances/{first['id']}").status_code == 200
    again = announce(mailed)
    assert again.status_code == 201
    assert again.json["id"] != first["id"]
    assert silence_states(alertmanager) == ["expired", "pending"]


@pytest.mark.parametrize("first_emergency", [False, True])
def test_the_same_window_of_the_other_kind_is_a_409_naming_emergency(
        mailed, alertmanager, first_emergency):
    created = announce(mailed, emergency=first_emergency)
    assert created.status_code == 201
    response = announce(mailed, emergency=not first_emergency)
    assert response.status_code == 409, response.json
    assert response.json["field"] == "emergency"
    assert f"maintenance {created.json['id']}" in response.json["error"]
    assert len(stored(mailed)[0]) == 1
    assert len(alertmanager.silences()) == 1


@pytest.mark.parametrize("replicas", [1, 2])
def test_two_identical_announcements_at_once_make_one_window_one_silence_and_one_email(
        mailed, database_url, alertmanager, smtp, monkeypatch, replicas):
    """Two threads of one bridge, or two bridges on one database."""
    bridges = [mailed] + [make_bridge(database_url, mailed.clock.now, notifying_inventory(
        smtp.port, alertmanager.url.removeprefix("http://"))) for _ in range(replicas - 1)]
    for each in bridges:
        create = each.bridge.alertmanager.create_silence

        def late(*args, create=create, **kwargs):  # so that the two requests overlap
            threading.Event().wait(0.5)
            return create(*args, **kwargs)

        monkeypatch.setattr(each.bridge.alertmanager, "create_silence", late)
    body = window(mailed, targets=["shop", "web1"])
    answers = []
    start = threading.Barrier(2)

    def post(tb):
        start.wait()
        answers.append(tb.app.test_client().post(
            "/api/v1/maintenances", json=body,
            headers={"Authorization": f"Bearer {tb.operator_token}"}))

    threads = [threading.Thread(target=post, args=(bridges[i % replicas],)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(answer.status_code for answer in answers) == [200, 201]
    assert answers[0].json == answers[1].json
    assert len(stored(mailed)[0]) == 1
    assert len(alertmanager.silences()) == 2
    for each in bridges:
        each.bridge.notifier.wait()
    assert len(smtp.received) == 1
    for each in bridges[1:]:
        each.bridge.notifier.close()
        each.bridge.db.dispose()


def test_a_window_another_process_stored_meanwhile_is_found_and_the_new_silences_expired(
        mailed, alertmanager, monkeypatch):
    """Two bridges on one SQLite file share no lock: the write transaction looks again."""
    create = mailed.bridge.alertmanager.create_silence
    body = window(mailed)

    def meanwhile(*args, **kwargs):
        with mailed.bridge.db.write() as session:
            record_window(session, Maintenance(
                client="acme", targets=None, starts_at=parse_time(body["starts_at"], "s"),
                ends_at=parse_time(body["ends_at"], "e"), description="the other's",
                emergency=False, announced_at=mailed.clock.now, announced_by="bob",
                silence_ids=[]))
        return create(*args, **kwargs)

    monkeypatch.setattr(mailed.bridge.alertmanager, "create_silence", meanwhile)
    response = announce(mailed)
    assert response.status_code == 200, response.json
    assert (response.json["announced_by"], response.json["description"]) == ("bob", "the other's")
    assert silence_states(alertmanager) == ["expired"]
    windows, _, notifications = stored(mailed)
    assert (len(windows), notifications) == (1, [])


# --- nothing half-written ---------------------------------------------------------------------

def test_when_alertmanager_is_unreachable_no_window_is_stored(offline):
    response = announce(offline)
    assert response.status_code == 503
    assert "unreachable" in response.json["error"]
    assert "nothing was stored" in response.json["error"]
    assert stored(offline) == ([], [], [])


def test_a_silence_refused_halfway_leaves_no_silence_and_no_window(
        tb, alertmanager, monkeypatch):
    create = tb.bridge.alertmanager.create_silence
    calls = []

    def refuse_the_second(*args, **kwargs):
        calls.append(args)
        if len(calls) == 2:
            raise AlertmanagerRefused("cannot create a silence: refused for the test")
        return create(*args, **kwargs)

    monkeypatch.setattr(tb.bridge.alertmanager, "create_silence", refuse_the_second)
    response = announce(tb, targets=["shop", "web1"])
    assert response.status_code == 502
    assert silence_states(alertmanager) == ["expired"]
    assert stored(tb) == ([], [], [])


def test_when_the_database_fails_after_the_silences_they_are_expired(
        tb, alertmanager, monkeypatch):
    def disk_full(*args, **kwargs):
        raise OperationalError("INSERT INTO notifications", {}, OSError("disk full"))

    monkeypatch.setattr(tb.bridge.notifier, "record", disk_full)
    response = announce(tb, targets=["shop", "web1"])
    assert response.status_code == 503
    assert silence_states(alertmanager) == ["expired", "expired"]
    monkeypatch.undo()
    assert stored(tb) == ([], [], [])


def test_a_silence_alertmanager_refuses_is_a_502_saying_why_and_stores_nothing(
        database_url, alertmanager):
    """A bridge whose clock is a day behind Alertmanager's asks for a silence that, to
    Alertmanager, is over: it answers 400, and retrying the same request would not help."""
    behind = make_bridge(database_url, real_now() - dt.timedelta(days=1), notifying_inventory(
        free_port(), alertmanager.url.removeprefix("http://")))
    response = announce(behind, ahead=dt.timedelta(0), emergency=True)
    assert response.status_code == 502, response.json
    assert "Alertmanager" in response.json["error"] and "refused" in response.json["error"]
    assert "end time can't be in the past" in response.json["error"]
    assert "retry" not in response.json["error"]
    assert stored(behind) == ([], [], [])
    behind.bridge.notifier.close()
    behind.bridge.db.dispose()


def test_cancelling_while_alertmanager_is_unreachable_changes_nothing(
        tb, alertmanager):
    created = announce(tb).json
    tb.bridge.alertmanager.url = f"http://127.0.0.1:{free_port()}"
    response = tb.as_operator("DELETE", f"/api/v1/maintenances/{created['id']}")
    assert response.status_code == 503
    assert "not cancelled" in response.json["error"]
    [listed] = tb.as_operator("GET", "/api/v1/maintenances").json["maintenances"]
    assert listed["cancelled_at"] is None
    assert silence_states(alertmanager) == ["pending"]


# --- listing ---------------------------------------------------------------------------------

def test_windows_are_listed_newest_first_by_client_and_by_activity(
        tb, alertmanager):
    now = dt.timedelta(0)
    planned = announce(tb, ahead=dt.timedelta(hours=72)).json["id"]
    running = announce(tb, ahead=now, emergency=True).json["id"]
    cancelled = announce(tb, ahead=now, emergency=True, targets=["shop"]).json["id"]
    other = announce(tb, ahead=now, emergency=True, client="globex").json["id"]
    tb.as_operator("DELETE", f"/api/v1/maintenances/{cancelled}")

    def ids(**query):
        response = tb.as_operator("GET", "/api/v1/maintenances", query_string=query)
        assert response.status_code == 200, response.json
        return [m["id"] for m in response.json["maintenances"]]

    assert ids(client="acme") == [planned, cancelled, running]
    assert ids(active="true") == [other, running]
    assert ids(client="acme", active="false") == [planned, cancelled]
    registry = tb.bridge.registry
    assert registry.get_sample_value("owl_maintenance_windows_active", {"client": "acme"}) == 1
    assert registry.get_sample_value("owl_maintenance_windows_active", {"client": "globex"}) == 1
    # emergency windows are in progress, but only planned ones take sites out of availability
    assert registry.get_sample_value("owl_maintenance_site_covered",
                                     {"client": "acme", "site": "shop"}) is None


def test_a_planned_window_in_progress_covers_its_sites_for_availability(tb):
    day = dt.timedelta(hours=24)
    on_blog = announce(tb, ahead=dt.timedelta(hours=48), length=day, targets=["blog", "web1"])
    on_all = announce(tb, ahead=dt.timedelta(hours=60), length=day, client="globex")
    assert (on_blog.status_code, on_all.status_code) == (201, 201)

    def covered(client, site):
        return tb.bridge.registry.get_sample_value("owl_maintenance_site_covered",
                                                   {"client": client, "site": site})

    assert covered("acme", "blog") is None  # not started yet
    tb.clock.advance(hours=61)
    assert (covered("acme", "blog"), covered("acme", "shop"), covered("globex", "www")) == \
        (1, None, 1)


@pytest.mark.parametrize("query, status, field", [
    ({"active": "yes"}, 400, "active"),
    ({"client": "nobody"}, 404, "client"),
])
def test_a_bad_listing_query_is_refused_naming_the_parameter(offline, query, status, field):
    response = offline.as_operator("GET", "/api/v1/maintenances", query_string=query)
    assert response.status_code == status
    assert response.json["field"] == field


# --- bad input and tokens ----------------------------------------------------------------------

@pytest.mark.parametrize("change, field", [
    ({"client": "nobody"}, "client"),
    ({"client": 42}, "client"),
    ({"client": MISSING}, "client"),
    ({"targets": ["shop", "nope"]}, "targets[1]"),
    ({"targets": ["www"]}, "targets[0]"),
    ({"targets": "shop"}, "targets"),
    ({"targets": []}, "targets"),
    ({"targets": ["shop", 3]}, "targets[1]"),
    ({"starts_at": "2030-03-10T10:00:00"}, "starts_at"),
    ({"starts_at": "next monday"}, "starts_at"),
    ({"starts_at": 1900000000}, "starts_at"),
    ({"ends_at": MISSING}, "ends_at"),
    ({"length": dt.timedelta(0)}, "ends_at"),
    ({"length": -dt.timedelta(hours=1)}, "ends_at"),
    ({"description": "  "}, "description"),
    ({"description": MISSING}, "description"),
    ({"description": ["PHP"]}, "description"),
    ({"emergency": "yes"}, "emergency"),
    ({"ends_at": "9999-12-31T23:30:00-01:00"}, "ends_at"),
    ({"starts_at": "9999-12-31T23:30:00-01:00"}, "starts_at"),
    ({"ends_at": "9999-12-31T23:00:00Z"}, "ends_at"),
    ({"starts_at": "0001-01-01T00:30:00+01:00"}, "starts_at"),
    ({"start": "tomorrow"}, "start"),
])
def test_a_bad_window_is_a_400_naming_the_field_and_changes_nothing(offline, change, field):
    response = announce(offline, **change)
    assert response.status_code == 400, response.json
    assert response.json["field"] == field
    assert stored(offline) == ([], [], [])


@pytest.mark.parametrize("data", ["{not json", "[1, 2]", '"a window"'])
def test_a_body_that_is_not_a_json_object_is_a_400(offline, data):
    response = offline.as_operator("POST", "/api/v1/maintenances", data=data,
                                   content_type="application/json")
    assert response.status_code == 400
    assert stored(offline) == ([], [], [])


@pytest.mark.parametrize("method, path", [
    ("POST", "/api/v1/maintenances"),
    ("GET", "/api/v1/maintenances"),
    ("DELETE", "/api/v1/maintenances/1"),
])
def test_maintenance_endpoints_are_for_operators_only(offline, method, path):
    client_token = offline.bridge.tokens.add("client", "client:acme", client="acme")
    for token, status in [(None, 401), ("wrong", 401), (client_token, 403),
                          (WEBHOOK_TOKEN, 403)]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = offline.client.open(path, method=method, headers=headers,
                                       json=window(offline))
        assert response.status_code == status, (token, response.json)
    assert stored(offline) == ([], [], [])
