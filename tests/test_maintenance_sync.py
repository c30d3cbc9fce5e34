"""What a real Alertmanager's silences keep from the webhook, and how the bridge's sync job brings
it in: incidents that start inside a window, and resolutions that are never delivered."""

import datetime as dt
import time

import pytest
from sqlalchemy import select

from sla_bridge.maintenance import INFERRED
from sla_bridge.storage.schema import Event, Maintenance
from tests.support.alertmanager import prometheus_alert, running_alertmanager, serving
from tests.support.bridge import make_bridge, rfc3339
from tests.support.processes import free_port, wait_until
from tests.support.smtp import notifying_inventory

UTC = dt.timezone.utc
SHOP_DOWN = {"alertname": "SiteDown", "client": "acme", "site": "shop", "severity": "critical"}
BLOG_DOWN = {**SHOP_DOWN, "site": "blog"}


def real_now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
def bridges(database_url):
    """Builds bridges whose clock starts at a given time, and closes them after the test."""
    built = []

    def build(alertmanager_url: str, now: dt.datetime):
        bridge = make_bridge(database_url, now, notifying_inventory(
            free_port(), alertmanager_url.removeprefix("http://")))
        built.append(bridge)
        return bridge

    yield build
    for bridge in built:
        bridge.bridge.notifier.close()
        bridge.bridge.db.dispose()


def announce(tb, ahead: dt.timedelta, length=dt.timedelta(hours=3), **fields) -> dict:
    start = tb.clock.now + ahead
    body = {"client": "acme", "targets": ["shop", "blog"], "starts_at": rfc3339(start),
            "ends_at": rfc3339(start + length), "description": "Migration PHP", **fields}
    response = tb.as_operator("POST", "/api/v1/maintenances", json=body)
    assert response.status_code == 201, response.json
    return response.json


def planned_window_now(bridges, am) -> tuple:
    """A planned window, announced 49 h ago, in progress now (Alertmanager's real now)."""
    tb = bridges(am.url, real_now() - dt.timedelta(hours=49))
    window = announce(tb, ahead=dt.timedelta(hours=48))
    tb.clock.advance(hours=49)
    return tb, window


def emergency_window_now(bridges, am, **fields) -> tuple:
    tb = bridges(am.url, real_now())
    return tb, announce(tb, ahead=dt.timedelta(0), emergency=True, **fields)


def hidden_by(am, silence_ids: list[str], count: int = 1) -> list[dict]:
    """Wait until Alertmanager has matched ``count`` alerts against the bridge's silences."""
    def silenced():
        alerts = am.alerts(silenced="true", active="false", inhibited="false")
        hidden = [a for a in alerts if set(a["status"]["silencedBy"]) & set(silence_ids)]
        return len(hidden) >= count and hidden
    return wait_until(silenced, 5, 0.05, "alerts silenced")


def by_target(tb) -> dict[str, dict]:
    return {incident["target"]: incident for incident in tb.incidents()}


def test_a_silenced_alert_skips_the_webhook_and_the_sync_records_it_as_maintenance(
        bridges, alertmanager):
    tb, window = planned_window_now(bridges, alertmanager)
    started = tb.clock.now - dt.timedelta(minutes=10)
    other_site = {**SHOP_DOWN, "site": "www", "client": "globex"}
    with serving(tb.app, alertmanager.webhook_port):
        alertmanager.post_alerts(prometheus_alert(SHOP_DOWN, started),
                                 prometheus_alert(other_site, started))
        wait_until(tb.incidents, 10, 0.05, "the unsilenced alert delivered")
        time.sleep(0.5)  # a group is flushed at once: a silenced alert would be here by now
        assert list(by_target(tb)) == ["www"]
    hidden_by(alertmanager, window["silence_ids"])
    result = tb.bridge.silence_sync.sync()
    assert result.created == 1
    shop = by_target(tb)["shop"]
    assert shop["sla"] == "maintenance"
    assert shop["maintenance_id"] == window["id"]
    assert shop["started_at"] == rfc3339(started)
    assert shop["state"] == "open"


def test_under_an_emergency_window_a_silenced_alert_stays_tracked_for_the_sla(
        bridges, alertmanager):
    tb, window = emergency_window_now(bridges, alertmanager)
    alertmanager.post_alerts(prometheus_alert(SHOP_DOWN, tb.clock.now))
    hidden_by(alertmanager, window["silence_ids"])
    tb.bridge.silence_sync.sync()
    [incident] = tb.incidents()
    assert incident["sla"] == "pending"
    assert incident["maintenance_id"] is None
    assert incident["deadline"] == rfc3339(tb.clock.now + dt.timedelta(hours=4))


def test_syncing_the_same_silenced_alert_again_changes_nothing(
        bridges, alertmanager):
    tb, window = emergency_window_now(bridges, alertmanager)
    alertmanager.post_alerts(prometheus_alert(SHOP_DOWN, tb.clock.now),
                             prometheus_alert(BLOG_DOWN, tb.clock.now))
    hidden_by(alertmanager, window["silence_ids"], count=2)
    assert tb.bridge.silence_sync.sync().created == 2
    before = tb.incidents()
    tb.clock.advance(seconds=30)
    again = tb.bridge.silence_sync.sync()
    assert (again.created, again.updated) == (0, 0)
    assert tb.incidents() == before


def test_alerts_hidden_by_a_silence_the_bridge_did_not_make_are_left_alone(
        bridges, alertmanager):
    tb, _ = emergency_window_now(bridges, alertmanager, client="globex", targets=None)
    theirs = alertmanager.create_silence(
        [{"name": "client", "value": "acme", "isRegex": False, "isEqual": True}])
    alertmanager.post_alerts(prometheus_alert(SHOP_DOWN, tb.clock.now))
    hidden_by(alertmanager, [theirs])
    tb.bridge.silence_sync.sync()
    assert tb.incidents() == []


def test_an_alert_that_ends_under_a_silence_is_resolved_once_alertmanager_has_forgotten_it(
        bridges, alertmanager):
    tb, window = emergency_window_now(bridges, alertmanager)
    started = tb.clock.now
    alertmanager.post_alerts(prometheus_alert(SHOP_DOWN, started))
    hidden_by(alertmanager, window["silence_ids"])
    tb.bridge.silence_sync.sync()
    alertmanager.post_alerts(prometheus_alert(SHOP_DOWN, started, ends_at=real_now()))
    # Alertmanager forgets a resolved alert at once: its endsAt cannot be read back.
    assert wait_until(lambda: alertmanager.alerts() == [], 5, 0.05, "alert forgotten")
    tb.clock.advance(seconds=30)
    gone_at = tb.clock.now
    tb.bridge.silence_sync.sync()
    assert by_target(tb)["shop"]["state"] == "open"  # not yet: the webhook may still say more
    tb.clock.advance(minutes=5)
    assert tb.bridge.silence_sync.sync().updated == 1
    incident = by_target(tb)["shop"]
    assert incident["resolved_at"] == rfc3339(gone_at)
    assert incident["sla"] == "resolved_without_response"
    with tb.bridge.db.read() as session:
        resolution = session.scalars(select(Event).where(Event.kind == "alert")
                                     .order_by(Event.id.desc())).first()
    assert resolution.payload["status"] == "resolved"
    assert resolution.payload["annotations"]["owl_resolution"] == INFERRED


def test_an_alert_notified_before_a_window_and_ended_under_it_is_resolved_by_the_sync(
        bridges, alertmanager):
    tb = bridges(alertmanager.url, real_now())
    started = tb.clock.now - dt.timedelta(minutes=5)
    with serving(tb.app, alertmanager.webhook_port):
        alertmanager.post_alerts(prometheus_alert(SHOP_DOWN, started))
        wait_until(tb.incidents, 10, 0.05, "the alert delivered")
        announce(tb, ahead=dt.timedelta(0), emergency=True)
        alertmanager.post_alerts(prometheus_alert(SHOP_DOWN, started, ends_at=real_now()))
        time.sleep(1.0)  # two group intervals: Alertmanager has dropped the resolution
        assert by_target(tb)["shop"]["state"] == "open"
    tb.bridge.silence_sync.sync()
    tb.clock.advance(minutes=5)
    tb.bridge.silence_sync.sync()
    assert by_target(tb)["shop"]["resolved_at"] == rfc3339(tb.clock.now - dt.timedelta(minutes=5))


def test_an_alert_missing_only_while_alertmanager_restarts_is_not_resolved(bridges, tmp_path):
    with running_alertmanager(tmp_path) as before_restart:
        tb, window = emergency_window_now(bridges, before_restart)
        alert = prometheus_alert(SHOP_DOWN, tb.clock.now)
        before_restart.post_alerts(alert)
        hidden_by(before_restart, window["silence_ids"])
        tb.bridge.silence_sync.sync()
    with running_alertmanager(tmp_path) as restarted:  # keeps its silences, not its alerts
        tb.bridge.alertmanager.url = restarted.url
        assert restarted.alerts() == []
        tb.bridge.silence_sync.sync()  # the alert is missing: the timer starts
        restarted.post_alerts(alert)  # Prometheus sends it again within a minute
        hidden_by(restarted, window["silence_ids"])
        tb.clock.advance(minutes=1)
        tb.bridge.silence_sync.sync()
        tb.clock.advance(minutes=6)
        tb.bridge.silence_sync.sync()
    assert by_target(tb)["shop"]["state"] == "open"


def test_an_unreachable_alertmanager_is_logged_and_tried_again_later(bridges, caplog):
    tb = bridges(f"http://127.0.0.1:{free_port()}", real_now())
    with tb.bridge.db.write() as session:
        session.add(Maintenance(client="acme", targets=None, starts_at=tb.clock.now,
                                ends_at=tb.clock.now + dt.timedelta(hours=1),
                                description="test", emergency=True, announced_at=tb.clock.now,
                                announced_by="alice", silence_ids=["a-silence"]))
    assert tb.bridge.silence_sync.run() is None
    assert "silenced alerts not synchronized" in caplog.text
    assert "unreachable" in caplog.text
