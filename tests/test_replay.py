"""Replay: the exported event history, replayed, gives the live bridge's incidents and ledgers."""

import datetime as dt
import json
import random
import subprocess
import sys
import tempfile

import pytest

from owl.inventory import parse_inventory
from sla_bridge.ledger_format import ledger_json
from sla_bridge.replay import ReplayError, export_events, read_events, replay
from sla_bridge.service import month_ledgers
from tests.support.bridge import INVENTORY, alert, at, make_bridge, rfc3339

CLIENTS = {"acme": ["shop", "web1"], "globex": ["www"], "trial": ["www"], None: [None]}
SEVERITIES = ["critical", "major", "minor"]
# globex's contract changes mid-history: a new fee and 24/7 support, as after a renegotiation
RENEGOTIATED = INVENTORY.replace('monthly_fee: "450.00", quote: DEV-2,',
                                 'monthly_fee: "600.00", support_24_7: true, quote: DEV-2,')


def with_alertmanager(inventory: str, alertmanager) -> str:
    address = alertmanager.url.removeprefix("http://")
    return inventory.replace("  timezone: Europe/Paris\n",
                             f"  timezone: Europe/Paris\n  stack: {{alertmanager: \"{address}\"}}\n")


def comparable(incident) -> tuple:
    return (incident.fingerprint, incident.started_at, incident.client, incident.severity,
            incident.state, incident.sla, incident.deadline, incident.acknowledged_at,
            incident.acknowledged_by, incident.resolved_at, incident.penalty_rate,
            incident.exclusion_reason, incident.month)


class History:
    """Drives a live bridge through a random but reproducible sequence of events."""

    def __init__(self, tb, seed: int):
        self.tb = tb
        self.random = random.Random(seed)
        self.firing: dict[str, dict] = {}  # fingerprint -> the alert as sent
        self.sent: list[dict] = []
        self.windows: list[int] = []  # maintenance windows not cancelled

    def step(self):
        self.tb.clock.advance(minutes=self.random.randint(1, 300))
        roll = self.random.random()
        if roll < 0.33 or not self.firing:
            self.fire()
        elif roll < 0.55:
            self.resolve()
        elif roll < 0.7:
            self.redeliver()
        elif roll < 0.82:
            self.acknowledge()
        elif roll < 0.89:
            self.exclude_or_withdraw()
        elif roll < 0.95:
            self.maintain()
        else:
            self.tb.bridge.service.refresh_statuses()

    def fire(self):
        client = self.random.choice(list(CLIENTS))
        target = self.random.choice(CLIENTS[client])
        name = self.random.choice(["SiteDown", "SiteSlow", "TlsCertificateExpiring",
                                   "CmsVulnerable"])
        lag = dt.timedelta(minutes=self.random.choice([0, 0, 0, 5, 300]))  # some arrive late
        skew = dt.timedelta(minutes=self.random.choice([0, 0, 0, 2]))  # some from the future
        start = self.tb.clock() - lag + skew
        labels = {"category": "security"} if name == "CmsVulnerable" else {}
        payload = alert(alertname=name, client=client, site=target,
                        severity=self.random.choice(SEVERITIES), starts_at=start, **labels)
        self.firing[payload["fingerprint"]] = payload
        self.send(payload)

    def resolve(self):
        fingerprint = self.random.choice(list(self.firing))
        payload = dict(self.firing.pop(fingerprint))
        ends = self.tb.clock() - dt.timedelta(minutes=self.random.choice([0, 0, 30, 600]))
        payload.update(status="resolved",
                       endsAt=ends.isoformat().replace("+00:00", "Z"))
        self.send(payload)

    def maintain(self):
        """Announce a window (planned 48 h ahead, or an emergency), or cancel one."""
        if self.windows and self.random.random() < 0.3:
            window = self.windows.pop(self.random.randrange(len(self.windows)))
            response = self.tb.as_operator("DELETE", f"/api/v1/maintenances/{window}")
            assert response.status_code in (200, 409), response.json  # 409: already over
            return
        emergency = self.random.random() < 0.3
        ahead = dt.timedelta(minutes=5) if emergency else \
            dt.timedelta(hours=48 + self.random.randint(0, 12))
        start = self.tb.clock() + ahead
        end = start + dt.timedelta(hours=self.random.randint(4, 24))
        response = self.tb.as_operator("POST", "/api/v1/maintenances", json={
            "client": "acme", "targets": self.random.choice([None, ["shop"], ["web1"]]),
            "starts_at": rfc3339(start), "ends_at": rfc3339(end),
            "description": "generated", "emergency": emergency})
        assert response.status_code == 201, response.json
        self.windows.append(response.json["id"])

    def redeliver(self):
        self.send(self.random.choice(self.sent))

    def send(self, payload):
        self.sent.append(payload)
        assert self.tb.post_alerts(payload).status_code == 200

    def some_incident(self):
        incidents = self.tb.incidents(limit=1000)
        return self.random.choice(incidents) if incidents else None

    def acknowledge(self):
        incident = self.some_incident()
        if incident:
            self.tb.as_operator("POST", f"/api/v1/incidents/{incident['id']}/ack")

    def exclude_or_withdraw(self):
        incident = self.some_incident()
        if incident is None or incident["sla"] == "no_sla":
            return
        if incident["exclusion"]:
            self.tb.as_operator("DELETE", f"/api/v1/incidents/{incident['id']}/exclusion")
        else:
            self.tb.as_operator("POST", f"/api/v1/incidents/{incident['id']}/exclusion",
                                json={"reason": self.random.choice(["third_party", "hardware"]),
                                      "note": "generated"})


@pytest.mark.parametrize("seed", [1, 2])
def test_replaying_a_long_history_gives_the_live_incidents_and_ledgers(database_url, tmp_path,
                                                                       alertmanager, seed,
                                                                       monkeypatch):
    # Alertmanager keeps real time: the history starts now (silences must not be in the past)
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    tb = make_bridge(database_url, start, with_alertmanager(INVENTORY, alertmanager))
    history = History(tb, seed)
    for _ in range(400):
        history.step()
    # the bridge restarts with a renegotiated contract, then the history goes on
    tb = make_bridge(database_url, tb.clock(), with_alertmanager(RENEGOTIATED, alertmanager))
    history.tb = tb
    for _ in range(400):
        history.step()
    tb.bridge.service.refresh_statuses()

    lines = list(export_events(tb.bridge.db, tb.clock()))
    replayed = replay(parse_inventory(RENEGOTIATED, "inv.yml"), lines, workdir=tmp_path)

    live = tb.bridge.service.find(limit=10**9)
    assert len(live) > 100
    assert sorted(map(comparable, replayed.incidents())) == sorted(map(comparable, live))
    months = sorted({incident.month for incident in live})
    assert len(months) >= 3
    breached = 0
    for client in ("acme", "globex"):
        for month in months:
            expected = ledger_json(tb.bridge.service.ledger(client, month))
            assert ledger_json(replayed.service.ledger(client, month)) == expected
            breached += len(expected["lines"])
    assert breached > 10  # the comparison covered real penalties, not only empty ledgers
    monkeypatch.setattr(month_ledgers, "FEW_CLIENTS", 0)  # the one pass for many clients
    for month in months:  # every client's ledger at once: the same, under each month's terms
        together = tb.bridge.service.ledgers(["acme", "globex"], month)
        assert [ledger_json(ledger) for ledger in together] == [
            ledger_json(tb.bridge.service.ledger(client, month)) for client in ("acme", "globex")]
    assert {i.sla for i in live} >= {"pending", "met", "breached", "resolved_without_response",
                                      "no_sla", "excluded", "maintenance"}
    replayed.close()
    tb.bridge.db.dispose()


def test_owl_sla_export_and_replay_print_the_same_ledger_as_owl_ledger(tmp_path):
    database = f"sqlite:///{tmp_path / 'bridge.db'}"
    tb = make_bridge(database, at("2025-03-03 10:00"))
    for hour, severity in enumerate(["critical", "major", "major", "minor"]):
        tb.post_alerts(alert(alertname=f"A{hour}", severity=severity,
                             starts_at=at(f"2025-03-03 1{hour}:00")))
    tb.clock.now = at("2025-04-01 12:00")
    tb.bridge.service.refresh_statuses()
    tb.bridge.db.dispose()
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    events = tmp_path / "events.jsonl"

    def owl(*args):
        result = subprocess.run([sys.executable, "-m", "owl_commands.cli", *args], capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    owl("sla", "export-events", "--database", database, "--out", str(events))
    live = json.loads(owl("ledger", "--month", "2025-03", "--client", "acme", "--inventory",
                          str(inventory), "--database", database, "--format", "json"))
    replayed = json.loads(owl("sla", "replay", "--inventory", str(inventory), "--events",
                              str(events), "--month", "2025-03", "--client", "acme"))
    assert replayed["ledgers"] == live
    assert live[0]["total"] == "60.00"
    assert len(replayed["incidents"]) == 4
    text = owl("ledger", "--month", "2025-03", "--client", "acme", "--inventory",
               str(inventory), "--database", database)
    assert "cap adjustment" in text and "60.00" in text


def maintenance_events(db) -> list[tuple]:
    """Each maintenance event's kind, time, client, actor and window, bar the ids that differ
    from one database to another."""
    events = [json.loads(line) for line in list(export_events(db, at("2025-03-01 00:00")))[1:]]
    return [(e["kind"], e["at"], e["client"], e["actor"],
             {k: v for k, v in e["payload"].items() if k not in ("id", "silence_ids")})
            for e in events if e["kind"].startswith("maintenance_")]


def test_replay_records_windows_and_their_cancellation_as_the_operators_api_does(
        database_url, tmp_path, alertmanager):
    start = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
    tb = make_bridge(database_url, start, with_alertmanager(INVENTORY, alertmanager))
    ids = []
    for targets, ahead in ((None, 48), (["web1"], 50)):
        begins = start + dt.timedelta(hours=ahead)
        response = tb.as_operator("POST", "/api/v1/maintenances", json={
            "client": "acme", "targets": targets, "starts_at": rfc3339(begins),
            "ends_at": rfc3339(begins + dt.timedelta(hours=2)), "description": "PHP 8.3"})
        assert response.status_code == 201, response.json
        ids.append(response.json["id"])
        tb.clock.advance(minutes=5)
    assert tb.as_operator("DELETE", f"/api/v1/maintenances/{ids[0]}").status_code == 200

    replayed = replay(parse_inventory(INVENTORY, "inv.yml"),
                      list(export_events(tb.bridge.db, tb.clock())), workdir=tmp_path)

    live = maintenance_events(tb.bridge.db)
    assert [kind for kind, *_ in live] == ["maintenance_created"] * 2 + ["maintenance_cancelled"]
    assert maintenance_events(replayed.service.db) == live
    replayed.close()
    tb.bridge.db.dispose()


@pytest.mark.parametrize("lines, message", [
    ([], "expected the export header line"),
    (['{"format": "other"}'], "not an owl-events/1 export"),
    (['{"format": "owl-events/1", "exported_at": "2025-03-01T00:00:00Z"}', "{oops"],
     "<events>:2: invalid JSON"),
    (['{"format": "owl-events/1", "exported_at": "2025-03-01T00:00:00Z"}', '{"kind": "x"}'],
     "<events>:2: an event needs kind, at and payload"),
    (['{"format": "owl-events/1", "exported_at": "2025-03-01T00:00:00Z"}',
      '{"id": 1, "kind": "ack", "at": "2025-03-01T00:00:00Z", "incident_id": 9, '
      '"actor": "x", "payload": {}}'], "<events>:2: event 1 acts on incident 9"),
])
def test_a_broken_events_file_is_refused_naming_the_line(tmp_path, lines, message):
    with pytest.raises(ReplayError, match=message):
        replay(parse_inventory(INVENTORY, "inv.yml"), lines, workdir=tmp_path)


EXPORTED = ['{"format": "owl-events/1", "exported_at": "2025-03-08T00:00:00Z"}',
            json.dumps({"id": 1, "kind": "alert", "at": "2025-03-07T09:00:00Z",
                        "incident_id": 1, "actor": None, "client": "acme",
                        "payload": alert(starts_at=at("2025-03-07 09:00"))})]


def scratch_folders(folder) -> list:
    return sorted(folder.glob("owl-replay-*"))


def test_a_replay_s_scratch_database_is_removed_when_it_closes(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    replayed = replay(parse_inventory(INVENTORY, "inv.yml"), EXPORTED)
    assert [incident.alertname for incident in replayed.incidents()] == ["SiteDown"]
    assert len(scratch_folders(tmp_path)) == 1
    replayed.close()
    assert scratch_folders(tmp_path) == []


def test_a_replay_that_fails_leaves_no_scratch_database(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(ReplayError, match="<events>:3: invalid JSON"):
        replay(parse_inventory(INVENTORY, "inv.yml"), [*EXPORTED, "{oops"])
    assert scratch_folders(tmp_path) == []


def test_the_events_are_read_as_the_replay_consumes_them():
    consumed = []

    def lines():
        for line in EXPORTED:
            consumed.append(line)
            yield line
        raise AssertionError("not reached: the events are read one by one")

    _, events = read_events(lines(), "<events>")
    assert len(consumed) == 1  # the header only
    assert next(events)[1]["kind"] == "alert" and len(consumed) == 2


def alert_event(number: int, received: str, payload: dict) -> str:
    return json.dumps({"id": number, "kind": "alert", "at": received, "incident_id": number,
                       "actor": None, "client": "acme", "payload": payload})


def test_alerts_replayed_together_are_each_applied_as_of_the_time_they_were_received(tmp_path):
    # consecutive alert events are stored in one transaction: each incident must still be
    # created, and judged, at its own alert's time, not at the last one's
    lines = ['{"format": "owl-events/1", "exported_at": "2025-03-08T00:00:00Z"}',
             alert_event(1, "2025-03-07T08:00:00Z", alert(starts_at=at("2025-03-07 09:00"))),
             alert_event(2, "2025-03-07T14:00:00Z",
                         alert(site="web1", starts_at=at("2025-03-07 15:00")))]
    replayed = replay(parse_inventory(INVENTORY, "inv.yml"), lines, workdir=tmp_path)
    created = sorted(incident.created_at for incident in replayed.incidents())
    assert created == [at("2025-03-07 09:00"), at("2025-03-07 15:00")]
    replayed.close()


def test_a_history_longer_than_a_batch_of_alerts_replays_every_alert(tmp_path, monkeypatch):
    monkeypatch.setattr("sla_bridge.replay.ALERT_BATCH", 2)
    starts = [at("2025-03-07 09:00") + dt.timedelta(minutes=10 * n) for n in range(5)]
    lines = ['{"format": "owl-events/1", "exported_at": "2025-03-08T00:00:00Z"}',
             *(alert_event(n + 1, rfc3339(start), alert(site=f"s{n}", starts_at=start))
               for n, start in enumerate(starts)),
             json.dumps({"id": 6, "kind": "ack", "at": "2025-03-07T09:00:00Z", "incident_id": 5,
                         "actor": "alice", "payload": {}})]
    replayed = replay(parse_inventory(INVENTORY, "inv.yml"), lines, workdir=tmp_path)
    incidents = {incident.target: incident for incident in replayed.incidents()}
    assert sorted(incidents) == [f"s{n}" for n in range(5)]
    assert [incidents[f"s{n}"].acknowledged_by for n in range(5)] == [None] * 4 + ["alice"]
    replayed.close()


@pytest.mark.parametrize("lists", [
    {"incidents": [], "ledgers": []},
    {"incidents": [{"id": 1, "labels": {"a": "é\n\"x\""}, "lines": [1, [2, {}]], "none": None}],
     "ledgers": [{"client": "acme", "lines": []}, {"client": "globex", "total": "1.00"}]},
])
def test_the_replay_s_document_is_written_item_by_item_as_json_would_write_it_whole(lists):
    import io

    from owl_commands.sla import write_json_streamed

    head = {"month": "2025-03", "as_of": "2025-04-01T00:00:00Z"}
    out = io.StringIO()
    write_json_streamed(out, head, {name: iter(items) for name, items in lists.items()})
    assert out.getvalue() == json.dumps({**head, **lists}, indent=2) + "\n"
