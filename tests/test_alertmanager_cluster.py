"""Two clustered Alertmanagers on loopback, both told of the same alerts (as Prometheus tells every
Alertmanager of a cluster), both delivering to the bridge: exactly one incident per alert."""

import datetime as dt
import subprocess
import sys

import requests
import yaml

from tests.support.binaries import require_binary
from tests.support.bridge import INVENTORY, WEBHOOK_TOKEN
from tests.support.processes import free_port, running, wait_for_http, wait_until


def alertmanager_config(tmp_path, bridge_port: int) -> str:
    token = tmp_path / "webhook-token"
    token.write_text(WEBHOOK_TOKEN)
    config = {
        "route": {"receiver": "owl-bridge", "group_by": ["client", "alertname"],
                  "group_wait": "1s", "group_interval": "2s", "repeat_interval": "1h"},
        "receivers": [{"name": "owl-bridge", "webhook_configs": [{
            "url": f"http://127.0.0.1:{bridge_port}/api/v1/alerts", "send_resolved": True,
            "http_config": {"authorization": {"credentials_file": str(token)}}}]}],
    }
    path = tmp_path / "alertmanager.yml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def alerts_to_send(count: int) -> list[dict]:
    start = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(minutes=5)).isoformat()
    return [{"labels": {"alertname": f"SiteDown{n % 7}", "client": "acme", "site": f"s{n}",
                        "severity": "critical"},
             "annotations": {"summary": f"site {n} down"}, "startsAt": start}
            for n in range(count)]


def test_two_clustered_alertmanagers_make_exactly_one_incident_per_alert(tmp_path,
                                                                          database_url):
    binary = require_binary("prometheus-alertmanager")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY)
    bridge_port = free_port()
    config = alertmanager_config(tmp_path, bridge_port)
    web = [free_port(), free_port()]
    gossip = [free_port(), free_port()]

    def alertmanager(index: int) -> list[str]:
        peer = gossip[1 - index]
        return [binary, f"--config.file={config}",
                f"--storage.path={tmp_path / f'am{index}'}",
                f"--web.listen-address=127.0.0.1:{web[index]}",
                f"--cluster.listen-address=127.0.0.1:{gossip[index]}",
                f"--cluster.peer=127.0.0.1:{peer}", "--cluster.settle-timeout=2s",
                "--cluster.pushpull-interval=2s", "--cluster.gossip-interval=50ms",
                # no wait for the peer's notification log: both members deliver every group,
                # the duplicate deliveries a cluster makes under a partition or a slow gossip
                "--cluster.peer-timeout=1ms"]

    bridge_cmd = [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory", str(inventory),
                  "--database", database_url, "--web.listen-address",
                  f"127.0.0.1:{bridge_port}"]
    env = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "PATH": "/usr/bin:/bin"}
    with running(bridge_cmd, tmp_path / "bridge.log", env=env) as bridge, \
            running(alertmanager(0), tmp_path / "am0.log") as am0, \
            running(alertmanager(1), tmp_path / "am1.log") as am1:
        wait_for_http(f"http://127.0.0.1:{bridge_port}/healthz", process=bridge)
        for process, port in ((am0, web[0]), (am1, web[1])):
            wait_for_http(f"http://127.0.0.1:{port}/-/ready", process=process)
        wait_until(lambda: _cluster_size(web[0]) == 2, timeout=30, message="cluster formed")

        alerts = alerts_to_send(40)
        for port in web:  # Prometheus sends every alert to every Alertmanager
            response = requests.post(f"http://127.0.0.1:{port}/api/v2/alerts", json=alerts,
                                     timeout=5)
            assert response.status_code == 200

        token = _operator_token(database_url)

        def incidents():
            response = requests.get(f"http://127.0.0.1:{bridge_port}/api/v1/incidents",
                                    params={"limit": 1000},
                                    headers={"Authorization": f"Bearer {token}"}, timeout=5)
            return response.json()["incidents"]

        wait_until(lambda: len(incidents()) >= 40, timeout=60, message="40 incidents")
        wait_until(lambda: _notifications(web[0]) >= 7 and _notifications(web[1]) >= 7,
                   timeout=30, message="both Alertmanagers delivered every group")
        stored = incidents()
        assert len(stored) == 40
        assert len({i["labels"]["site"] for i in stored}) == 40


def _cluster_size(port: int) -> int:
    try:
        status = requests.get(f"http://127.0.0.1:{port}/api/v2/status", timeout=2).json()
    except requests.RequestException:
        return 0
    return len(status["cluster"].get("peers") or [])


def _notifications(port: int) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('alertmanager_notifications_total{integration="webhook"'))


def _operator_token(database_url: str) -> str:
    result = subprocess.run([sys.executable, "-m", "owl_commands.cli", "operator", "add", "cluster-test",
                             "--database", database_url], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()
