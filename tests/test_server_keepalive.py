"""The bridge's server against keep-alive clients (sla_bridge.server): Alertmanager keeps many
idle connections open; a new delivery must still be answered at once, on a real `owl bridge`."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import sys
import time
from contextlib import ExitStack

from tests.support.bridge import INVENTORY, WEBHOOK_TOKEN, alert, webhook
from tests.support.processes import free_port, running, wait_for_http

IDLE_CONNECTIONS = 200
ANSWERED_WITHIN_SECONDS = 2.0


def _idle_connection(port: int) -> http.client.HTTPConnection:
    """A connection that made one request and stays open, as Alertmanager's client keeps it."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/healthz")
    response = connection.getresponse()
    response.read()
    assert response.status == 200 and not response.will_close
    return connection


def _deliver(port: int) -> tuple[int, float]:
    """POST one delivery on a new connection: its status and how long the answer took."""
    now = dt.datetime.now(dt.timezone.utc)
    body = json.dumps(webhook(alert(starts_at=now - dt.timedelta(minutes=1))))
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST", "/api/v1/alerts", body=body, headers={
            "Authorization": f"Bearer {WEBHOOK_TOKEN}", "Content-Type": "application/json"})
        status = connection.getresponse().status
    finally:
        connection.close()
    return status, time.monotonic() - started


def test_a_delivery_is_answered_at_once_beside_200_idle_keepalive_connections(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    port = free_port()
    command = [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory", str(inventory),
               "--database", f"sqlite:///{tmp_path / 'bridge.db'}",
               "--web.listen-address", f"127.0.0.1:{port}"]
    env = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "PATH": "/usr/bin:/bin"}
    with running(command, tmp_path / "bridge.log", env=env) as process, ExitStack() as idle:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        for _ in range(IDLE_CONNECTIONS):
            idle.callback(_idle_connection(port).close)
        status, seconds = _deliver(port)
    assert status == 200
    assert seconds < ANSWERED_WITHIN_SECONDS, f"answered after {seconds:.1f}s"
