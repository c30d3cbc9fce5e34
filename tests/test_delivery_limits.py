"""Limits that agree with Alertmanager's: a real Alertmanager delivers a group of 6,000 alerts with
Prometheus' generatorURL to a real ``owl bridge`` and every one is stored, firing then resolved; alerts
that ``max_alerts`` leaves out of a delivery are fetched from Alertmanager's API; the rendered
``max_alerts`` keeps a group's body under the bridge's limit. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from contextlib import contextmanager

import pytest
import requests
import yaml
from sqlalchemy import func, select

from owl.render import alertmanager as render
from owl.render.profile import Profile
from sla_bridge.api import alerts as webhook_api
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Incident
from tests.support.binaries import require_binary
from tests.support.bridge import INVENTORY, WEBHOOK_TOKEN, alert, rfc3339, webhook
from tests.support.processes import free_port, running, wait_for_http, wait_until

UTC = dt.timezone.utc
GROUP_SIZE = 6_000
# What Prometheus writes in generatorURL: the rule's expression, URL-encoded.
GENERATOR_URL = ("http://prometheus.owl.example:9090/graph?g0.expr=probe_success%7Bjob%3D%22"
                 "blackbox_http%22%2Cclient%3D%22acme%22%7D+%3D%3D+0+and+on%28instance%29+"
                 "owl_probe_expected%7Bkind%3D%22site%22%7D&g0.tab=1")


def prometheus_like(n: int, starts_at: dt.datetime, ends_at: dt.datetime | None = None) -> dict:
    """Alert ``n`` of a storm, as Prometheus posts it to Alertmanager."""
    alert = {"labels": {"alertname": "SiteDown", "severity": "critical", "client": "acme",
                        "site": "shop", "job": "blackbox_http", "kind": "site",
                        "instance": f"https://shop.acme.example/catalogue/page-{n:05d}"},
             "annotations": {"summary": f"https://shop.acme.example/catalogue/page-{n:05d} "
                                        "does not answer",
                             "description": "The probe has failed for 2 minutes: the page "
                                            "answers no HTTP status under 400.",
                             "runbook_url": "https://github.com/owl-systems/owl-monitoring/"
                                            "blob/main/docs/runbooks.md#sitedown"},
             "startsAt": rfc3339(starts_at), "generatorURL": GENERATOR_URL}
    if ends_at is not None:
        alert["endsAt"] = rfc3339(ends_at)
    return alert


def alertmanager_config(webhook_port: int, token_file, max_alerts: int) -> str:
    """One group for every alert of a client, sent to the bridge as the render configures it."""
    receiver = render.webhook(f"http://127.0.0.1:{webhook_port}/api/v1/alerts", str(token_file),
                              max_alerts)
    return yaml.safe_dump({
        "route": {"receiver": render.BRIDGE_RECEIVER, "group_by": ["client"],
                  "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"},
        "receivers": [{"name": render.BRIDGE_RECEIVER, "webhook_configs": [receiver]}]})


@contextmanager
def alertmanager_for_the_bridge(tmp_path, max_alerts: int):
    binary = require_binary("prometheus-alertmanager")
    port, webhook_port = free_port(), free_port()
    token_file = tmp_path / "webhook-token"
    token_file.write_text(WEBHOOK_TOKEN)
    config = tmp_path / "alertmanager.yml"
    config.write_text(alertmanager_config(webhook_port, token_file, max_alerts))
    args = [binary, f"--config.file={config}", f"--storage.path={tmp_path / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    with running(args, tmp_path / "alertmanager.log") as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/-/ready", process=process, ok=lambda r: r.status_code == 200)
        yield url, webhook_port


def post_to_alertmanager(url: str, alerts: list[dict]) -> None:
    for start in range(0, len(alerts), 1000):  # Prometheus sends batches too
        response = requests.post(f"{url}/api/v2/alerts", json=alerts[start:start + 1000],
                                 timeout=30)
        assert response.status_code == 200, response.text


def counts(db: Database) -> tuple[int, int]:
    """Incidents stored, and of them resolved."""
    with db.read() as session:
        total = session.scalar(select(func.count()).select_from(Incident))
        resolved = session.scalar(select(func.count()).select_from(Incident)
                                  .where(Incident.resolved_at.is_not(None)))
    return total, resolved


def metric(bridge, name: str, **labels) -> float:
    return bridge.registry.get_sample_value(name, labels) or 0.0


def refusals(bridge) -> float:
    return sum(sample.value for family in bridge.registry.collect()
               if family.name == "owl_bridge_deliveries_refused"
               for sample in family.samples if sample.name.endswith("_total"))


@pytest.fixture
def storm(database_url, tmp_path):
    """A real Alertmanager delivering to a real ``owl bridge``, and a storm to post to it."""
    def run(max_alerts: int):
        return _Storm(database_url, tmp_path, max_alerts)
    return run


class _Storm:
    def __init__(self, database_url, tmp_path, max_alerts):
        self.database_url, self.tmp_path, self.max_alerts = database_url, tmp_path, max_alerts
        self.log = tmp_path / "bridge.log"

    @contextmanager
    def running(self):
        inventory = self.tmp_path / "inventory.yml"
        inventory.write_text(INVENTORY)
        with alertmanager_for_the_bridge(self.tmp_path, self.max_alerts) as (am_url, port):
            command = [sys.executable, "-m", "owl_commands.cli", "bridge",
                       "--inventory", str(inventory), "--database", self.database_url,
                       "--web.listen-address", f"127.0.0.1:{port}",
                       "--alertmanager.url", am_url]
            env = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "PATH": "/usr/bin:/bin"}
            with running(command, self.log, env=env) as process:
                wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
                self.am_url, self.db = am_url, Database(self.database_url)
                try:
                    yield self
                finally:
                    self.db.dispose()
                assert process.poll() is None, "the bridge exited"

    def send(self, alerts: list[dict], stored: tuple[int, int], timeout: float = 240) -> float:
        """Post ``alerts`` to Alertmanager; the seconds until the bridge has ``stored``."""
        began = time.monotonic()
        post_to_alertmanager(self.am_url, alerts)
        wait_until(lambda: counts(self.db) == stored, timeout, interval=0.25,
                   message=f"{stored} incidents (total, resolved) stored")
        return time.monotonic() - began

    def failed_notifications(self) -> float:
        """Alertmanager's count of webhook notifications that failed (refused or timed out)."""
        text = requests.get(f"{self.am_url}/metrics", timeout=5).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("alertmanager_notifications_failed_total")
                   and 'integration="webhook"' in line)

    def logged(self) -> str:
        return self.log.read_text(errors="replace")


def test_a_group_of_6000_alerts_is_stored_whole_firing_then_resolved(storm, capsys):
    started = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    firing = [prometheus_like(n, started) for n in range(GROUP_SIZE)]
    with storm(render.BRIDGE_MAX_ALERTS).running() as run:
        opened = run.send(firing, (GROUP_SIZE, 0))
        ended = dt.datetime.now(UTC).replace(microsecond=0)
        resolved = run.send([prometheus_like(n, started, ended) for n in range(GROUP_SIZE)],
                            (GROUP_SIZE, GROUP_SIZE))
        assert "refused" not in run.logged() and "left out" not in run.logged()
        assert run.failed_notifications() == 0
    with capsys.disabled():
        print(f"\n{GROUP_SIZE} alerts in one group: {GROUP_SIZE} stored, firing in {opened:.1f} s,"
              f" resolved in {resolved:.1f} s")


def test_alerts_max_alerts_leaves_out_are_fetched_from_alertmanager_and_stored(storm, capsys):
    started = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
    firing = [prometheus_like(n, started) for n in range(GROUP_SIZE)]
    with storm(1_000).running() as run:
        opened = run.send(firing, (GROUP_SIZE, 0))
        assert "firing ones fetched from Alertmanager" in run.logged()
        assert "refused" not in run.logged()
        assert run.failed_notifications() == 0
    with capsys.disabled():
        print(f"\n{GROUP_SIZE} alerts, max_alerts 1000: {GROUP_SIZE} stored in {opened:.1f} s")


# --- the limits agree -------------------------------------------------------------------------

def alertmanager_payload(alerts: list[dict]) -> dict:
    """What Alertmanager's webhook notifier posts for ``alerts`` (Prometheus-like)."""
    now = rfc3339(dt.datetime.now(UTC))
    sent = [{"status": "firing", "labels": a["labels"], "annotations": a["annotations"],
             "startsAt": a["startsAt"], "endsAt": now, "generatorURL": a["generatorURL"],
             "fingerprint": f"{n:016x}"} for n, a in enumerate(alerts)]
    common = {"alertname": "SiteDown", "client": "acme"}
    return {**webhook(), "alerts": sent, "groupLabels": {"client": "acme"},
            "commonLabels": common, "commonAnnotations": {},
            "groupKey": '{}/{}:{client="acme"}'}


def test_the_rendered_max_alerts_keeps_a_groups_body_under_the_bridges_limit_with_margin():
    started = dt.datetime(2025, 3, 7, 9, 0, tzinfo=UTC)
    body = json.dumps(alertmanager_payload([prometheus_like(n, started)
                                            for n in range(render.BRIDGE_MAX_ALERTS)])).encode()
    assert render.BRIDGE_MAX_ALERTS == webhook_api.BRIDGE_MAX_ALERTS
    assert len(body) * 4 < webhook_api.MAX_BODY_BYTES  # alerts four times as large still fit
    assert render.BRIDGE_MAX_ALERTS * 4096 <= webhook_api.MAX_BODY_BYTES
    rendered = render.bridge_receiver(_profile())["webhook_configs"][0]
    assert rendered["max_alerts"] == render.BRIDGE_MAX_ALERTS


def _profile() -> Profile:
    fields = {f.name: None for f in dataclasses.fields(Profile)}
    return Profile(**{**fields, "bridge": "127.0.0.1:9180", "bridge_token_file": "/token"})


def test_a_body_over_the_limit_is_a_413_that_is_logged_and_counted(tb, caplog):
    big = webhook(alert())
    big["padding"] = "x" * webhook_api.MAX_BODY_BYTES
    response = tb.client.post("/api/v1/alerts", json=big,
                              headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert response.status_code == 413
    assert "max_alerts" in response.json["error"]
    assert metric(tb.bridge, "owl_bridge_deliveries_refused_total", status="413",
                  reason="too_large") == 1
    assert "413" in caplog.text and "too_large" in caplog.text
    assert tb.incidents() == []


def test_a_body_the_old_4_mib_limit_refused_is_stored(tb):
    started = tb.clock.now - dt.timedelta(minutes=5)
    payload = alertmanager_payload([prometheus_like(n, started) for n in range(7_000)])
    assert len(json.dumps(payload)) > 4 * 1024 * 1024
    response = tb.client.post("/api/v1/alerts", json=payload,
                              headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["created"] == 7_000


def test_left_out_alerts_alertmanager_cannot_give_are_a_503_after_storing_the_rest(tb):
    tb.bridge.alertmanager.url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    payload = {**webhook(alert()), "truncatedAlerts": 3, "groupLabels": {"client": "acme"}}
    response = tb.client.post("/api/v1/alerts", json=payload,
                              headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
    assert response.status_code == 503  # Alertmanager retries it
    assert len(tb.incidents()) == 1
    assert refusals(tb.bridge) == 0
