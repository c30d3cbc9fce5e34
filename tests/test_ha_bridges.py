"""What the highly available stack delivers to the bridges: the same alert from several
Alertmanagers to two bridge replicas on one database at the same moment, and resolutions that
carry the start another Prometheus replica saw. On SQLite and on PostgreSQL.

Before: an incident opened with the start one Prometheus replica saw stayed open for good when
its resolution came with the other replica's, one evaluation earlier (Alertmanager keeps the
earliest start it has heard): the bridge took it for news of an earlier episode. Concurrent
identical deliveries to two replicas were already safe: the ingest transaction takes advisory
locks on the alerts' fingerprints (sla_bridge.storage.queries.lock_fingerprints) under the
unique episode and dedup keys; without those locks, the last test gets 503s on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading

from sqlalchemy import func, select

from sla_bridge.storage.schema import Event, Incident
from tests.support.bridge import WEBHOOK_TOKEN, alert, at, make_bridge, webhook

ALERTS = 24


def test_a_resolution_with_the_other_replicas_earlier_start_resolves_the_incident(tb):
    seen_by_a = at("2025-03-07 09:00:15")
    seen_by_b = at("2025-03-07 09:00:00")  # replica b fired it an evaluation sooner
    assert tb.post_alerts(alert(starts_at=seen_by_a)).status_code == 200
    [incident] = tb.incidents()
    assert incident["state"] == "open"
    tb.clock.advance(minutes=10)
    resolved = alert(status="resolved", starts_at=seen_by_b, ends_at=at("2025-03-07 09:09"))
    assert tb.post_alerts(resolved).status_code == 200
    [incident] = tb.incidents()
    assert (incident["state"], incident["resolved_at"]) == ("resolved", "2025-03-07T08:09:00Z")


def test_an_earlier_episode_delivered_late_still_leaves_the_open_incident_open(tb):
    assert tb.post_alerts(alert(starts_at=at("2025-03-07 09:30"))).status_code == 200
    earlier = alert(status="resolved", starts_at=at("2025-03-07 09:00"),
                    ends_at=at("2025-03-07 09:10"))
    assert tb.post_alerts(earlier).status_code == 200
    assert [i["state"] for i in tb.incidents()] == ["open"]


def test_two_replicas_given_the_same_deliveries_at_once_open_each_incident_once(database_url):
    now = at("2025-03-07 10:00")
    replicas = [make_bridge(database_url, now), make_bridge(database_url, now)]
    alerts = [alert(site=f"s{n}", starts_at=now - dt.timedelta(minutes=5))
              for n in range(ALERTS)]
    start = threading.Barrier(2 * ALERTS)
    statuses = []

    def deliver(replica, one):
        client = replica.app.test_client()  # a client per thread, as two Alertmanagers
        start.wait()
        response = client.post("/api/v1/alerts", json=webhook(one),
                               headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=deliver, args=(replica, one))
               for one in alerts for replica in replicas]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    try:
        assert statuses == [200] * (2 * ALERTS)
        with replicas[0].bridge.db.read() as session:
            assert session.scalar(select(func.count()).select_from(Incident)) == ALERTS
            assert session.scalar(select(func.count()).select_from(Event)
                                  .where(Event.kind == "alert")) == ALERTS
        assert len(replicas[1].incidents(limit=1000)) == ALERTS
    finally:
        for replica in replicas:
            replica.bridge.db.dispose()

