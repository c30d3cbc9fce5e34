"""A real Alertmanager for a test, its API, and a real HTTP server for the bridge it calls.

``running_alertmanager`` starts ``prometheus-alertmanager`` on a free port with one receiver: the
bridge's webhook at ``http://127.0.0.1:<webhook_port>/api/v1/alerts`` (the webhook token of
``tests.support.bridge``). Serve a bridge there with ``serving(app, am.webhook_port)`` when the
test needs deliveries. Alertmanager groups by every label, flushes a new group at once and
then every half second.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import requests
from werkzeug.serving import make_server

from tests.support.binaries import require_binary
from tests.support.bridge import WEBHOOK_TOKEN, rfc3339
from tests.support.processes import free_port, running, wait_for_http

CONFIG = """\
route:
  receiver: bridge
  group_by: ['...']
  group_wait: 0s
  group_interval: 500ms
  repeat_interval: 1h
receivers:
  - name: bridge
    webhook_configs:
      - url: http://127.0.0.1:{port}/api/v1/alerts
        send_resolved: true
        http_config:
          authorization: {{type: Bearer, credentials: {token}}}
"""


@dataclass
class RunningAlertmanager:
    url: str
    webhook_port: int

    def post_alerts(self, *alerts: dict) -> None:
        """What Prometheus does: ``POST /api/v2/alerts``."""
        response = requests.post(f"{self.url}/api/v2/alerts", json=list(alerts), timeout=5)
        assert response.status_code == 200, response.text

    def alerts(self, **filters: str) -> list[dict]:
        response = requests.get(f"{self.url}/api/v2/alerts", params=filters, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def silences(self, state: str | None = None) -> list[dict]:
        response = requests.get(f"{self.url}/api/v2/silences", timeout=5)
        assert response.status_code == 200, response.text
        return [s for s in response.json() if state is None or s["status"]["state"] == state]

    def create_silence(self, matchers: list[dict], minutes: int = 60) -> str:
        """A silence made by someone else than the bridge (an operator with amtool)."""
        now = dt.datetime.now(dt.timezone.utc)
        body = {"matchers": matchers, "startsAt": rfc3339(now),
                "endsAt": rfc3339(now + dt.timedelta(minutes=minutes)),
                "createdBy": "someone", "comment": "not the bridge's"}
        response = requests.post(f"{self.url}/api/v2/silences", json=body, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()["silenceID"]


def prometheus_alert(labels: dict, starts_at: dt.datetime, ends_at: dt.datetime | None = None,
                     summary: str = "test alert") -> dict:
    """An alert as Prometheus posts it; ``ends_at`` in the past resolves it."""
    alert = {"labels": labels, "annotations": {"summary": summary},
             "startsAt": rfc3339(starts_at), "generatorURL": "http://prometheus/graph"}
    if ends_at is not None:
        alert["endsAt"] = rfc3339(ends_at)
    return alert


@contextmanager
def running_alertmanager(workdir) -> Iterator[RunningAlertmanager]:
    binary = require_binary("prometheus-alertmanager")
    port, webhook_port = free_port(), free_port()
    config = workdir / "alertmanager.yml"
    config.write_text(CONFIG.format(port=webhook_port, token=WEBHOOK_TOKEN))
    args = [binary, f"--config.file={config}", f"--storage.path={workdir / 'am-data'}",
            f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="]
    with running(args, workdir / "alertmanager.log") as process:
        url = f"http://127.0.0.1:{port}"
        wait_for_http(f"{url}/-/ready", process=process,
                      ok=lambda response: response.status_code == 200)
        yield RunningAlertmanager(url, webhook_port)


@pytest.fixture
def alertmanager(tmp_path) -> Iterator[RunningAlertmanager]:
    """A fresh Alertmanager for each test: silences never leak from one test to the next."""
    with running_alertmanager(tmp_path) as am:
        yield am


@contextmanager
def serving(app, port: int) -> Iterator[str]:
    """Serve a WSGI app on 127.0.0.1:``port`` in a thread, for as long as the block runs."""
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
