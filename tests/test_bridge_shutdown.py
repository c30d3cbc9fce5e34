"""A real `owl bridge` stopped by SIGTERM while it is still answering a delivery lets that
delivery finish: the alert is stored, the process exits 0 and logs no traceback.

Before: the signal handler closed the server at once, closing waitress' trigger under the thread
still answering, which then failed with "OSError: [Errno 9] Bad file descriptor" (seen in CI).
"""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

import requests
from sqlalchemy import select

from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Event
from tests.support.bridge import INVENTORY, WEBHOOK_TOKEN, alert, webhook
from tests.support.processes import free_port, running, wait_for_http, wait_until

ENV = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "PATH": "/usr/bin:/bin"}


def alert_names(url: str) -> set[str]:
    with Database(url).read() as session:
        payloads = session.execute(select(Event.payload).where(Event.kind == "alert")).scalars()
        return {payload["labels"]["alertname"] for payload in payloads}


def test_a_bridge_stopped_during_a_delivery_stores_it_and_exits_cleanly(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    database = tmp_path / "bridge.db"
    url = f"sqlite:///{database}"
    port = free_port()
    log = tmp_path / "bridge.log"
    command = [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory", str(inventory),
               "--database", url, "--web.listen-address", f"127.0.0.1:{port}"]
    with running(command, log, env=ENV) as process:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process,
                      ok=lambda response: response.status_code == 200)
        lock = sqlite3.connect(database, isolation_level=None)
        lock.execute("BEGIN EXCLUSIVE")  # the delivery's write now waits in SQLite's busy handler
        delivery = threading.Thread(target=lambda: _deliver(port), daemon=True)
        delivery.start()
        time.sleep(1.0)
        assert delivery.is_alive(), "the delivery did not wait for the database lock"
        process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        lock.execute("COMMIT")
        lock.close()
        wait_until(lambda: process.poll() is not None, timeout=20, message="the bridge to exit")
        returncode = process.returncode
    text = log.read_text()
    assert returncode == 0, text
    assert "Traceback" not in text
    assert "SiteDown" in alert_names(url), "the delivery in progress was lost"


def _deliver(port: int) -> None:
    try:
        requests.post(f"http://127.0.0.1:{port}/api/v1/alerts", json=webhook(alert()),
                      headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"}, timeout=30)
    except requests.RequestException:
        pass  # the reply may not get out before the process ends; Alertmanager would retry


def test_a_bridge_whose_address_is_taken_says_so_and_exits_without_a_traceback(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory", str(inventory),
             "--database", f"sqlite:///{tmp_path / 'bridge.db'}",
             "--web.listen-address", f"127.0.0.1:{port}"],
            env=ENV, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}: Address already in use; the bridge is not " \
           "started" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
