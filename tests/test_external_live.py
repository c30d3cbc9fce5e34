"""owl-monitoring plugged into a provider's own stack, live: ``owl config render --profile
external`` then ``owl config merge --replace`` into their prometheus.yml and alertmanager.yml,
which promtool and amtool accept; their real Prometheus and Alertmanager then run the merged
files with our blackbox_exporter and ``owl bridge``.

Theirs: a job scraping an application of theirs whose metric fires their own rule (team web),
their Prometheus watching itself as job ``prometheus``, and routes to webhooks of theirs (a
default receiver, the web team's, and a ``severity="critical"`` pager route that would take our
SiteDown, were our subtree not first). Ours: a client site that refuses connections. Their
alert reaches their web team's webhook and not the bridge; our SiteDown opens an incident in the
bridge and reaches none of their webhooks, nor does any alert of ours.

Only time is changed: SiteDown's ``for`` (1m) in the rendered rules, and their Prometheus'
``--rules.alert.resend-delay`` (1 s); the intervals are the inventories' (1 s).
"""

from __future__ import annotations

import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from tests.support.binaries import require_binary
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.support.routes import serving_routes
from tests.test_render_live import capturing_http_server

INVENTORY = """
provider:
  name: OWL SYSTEMS
  stack:
    prometheus: 127.0.0.1:{prometheus}
    alertmanager: 127.0.0.1:{alertmanager}
    blackbox_exporter: 127.0.0.1:{blackbox}
    exporter: 127.0.0.1:{exporter}
    bridge: 127.0.0.1:{bridge}
    scrape_interval: 1s
    evaluation_interval: 1s
clients:
  - id: demo
    name: Demo Boutique SAS
    contract: {{tier: 1, monthly_fee: "450.00", quote: DEV-1, start: 2025-02-01}}
    sites: [{{id: shop, url: "http://127.0.0.1:{closed}/", cms: wordpress}}]
"""
THEIR_PROMETHEUS = """\
# Their own Prometheus.
global:
  scrape_interval: 1s
  evaluation_interval: 1s
  external_labels: {{datacenter: par1}}
rule_files: [their-rules.yml]
alerting:
  alertmanagers: [{{static_configs: [{{targets: ['127.0.0.1:{alertmanager}']}}]}}]
scrape_configs:
  - job_name: prometheus
    static_configs: [{{targets: ['127.0.0.1:{prometheus}']}}]
  - job_name: billing
    static_configs: [{{targets: ['127.0.0.1:{app}']}}]
"""
THEIR_RULES = """\
groups:
  - name: billing
    rules:
      - alert: BillingQueueStuck
        expr: billing_queue_stuck == 1
        labels: {severity: warning, team: web}
        annotations: {summary: "The billing queue is stuck"}
"""
THEIR_ALERTMANAGER = """\
# Their own Alertmanager.
route:
  receiver: ops-default
  group_by: [alertname]
  group_wait: 1s
  group_interval: 2s
  repeat_interval: 1h
  routes:
    - matchers: ['team="web"']
      receiver: web-team
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: ops-default
    webhook_configs: [{{url: 'http://127.0.0.1:{hooks}/default', send_resolved: true}}]
  - name: web-team
    webhook_configs: [{{url: 'http://127.0.0.1:{hooks}/web', send_resolved: true}}]
  - name: pager
    webhook_configs: [{{url: 'http://127.0.0.1:{hooks}/pager', send_resolved: true}}]
"""
PORTS = ("prometheus", "alertmanager", "blackbox", "exporter", "bridge", "closed", "hooks")
SITE_DOWN_FOR = "2s"


def owl(*args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "owl_commands.cli", *args],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def check(binary: str, *args: str) -> None:
    result = subprocess.run([require_binary(binary), *args], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def shorten_site_down(out: Path) -> None:
    rules = out / "prometheus" / "rules" / "sites.yml"
    text = rules.read_text()
    start = text.index("for: 1m", text.index("- alert: SiteDown"))
    rules.write_text(text[:start] + f"for: {SITE_DOWN_FOR}" + text[start + len("for: 1m"):])


def their_files(etc: Path, ports: dict[str, int]) -> tuple[Path, Path]:
    etc.mkdir()
    (etc / "their-rules.yml").write_text(THEIR_RULES)
    prometheus, alertmanager = etc / "prometheus.yml", etc / "alertmanager.yml"
    prometheus.write_text(THEIR_PROMETHEUS.format(**ports))
    alertmanager.write_text(THEIR_ALERTMANAGER.format(**ports))
    return prometheus, alertmanager


def alerts_posted(received: list[dict]) -> list[tuple[str, dict]]:
    """(path, alert labels) of every alert their webhooks were sent."""
    return [(post["path"], alert["labels"]) for post in received
            for alert in post["json"]["alerts"]]


def test_their_alerts_reach_their_receivers_and_ours_the_bridge_in_the_merged_stack(tmp_path):
    ports = {name: free_port() for name in PORTS}
    metrics = {"/metrics": (200, "text/plain; version=0.0.4", b"billing_queue_stuck 1\n")}
    with ExitStack() as stack:
        app = stack.enter_context(serving_routes(metrics))  # their application
        ports["app"] = int(app.url.rsplit(":", 1)[1])
        received = stack.enter_context(capturing_http_server(ports["hooks"]))
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(INVENTORY.format(**ports))
        out = tmp_path / "owl"
        owl("config", "render", "--inventory", str(inventory), "--out", str(out),
            "--profile", "external")
        shorten_site_down(out)
        prometheus_yml, alertmanager_yml = their_files(tmp_path / "etc", ports)
        merge = ("config", "merge", "--rendered", str(out), "--prometheus.config",
                 str(prometheus_yml), "--alertmanager.config", str(alertmanager_yml), "--replace")
        owl(*merge)
        assert owl(*merge).stdout.count("already merged, unchanged") == 2
        check("promtool", "check", "config", str(prometheus_yml))
        check("amtool", "check-config", str(alertmanager_yml))
        database = f"sqlite:///{tmp_path / 'bridge.db'}"
        owl("db", "upgrade", "--database", database)
        token = owl("token", "add", "--operator", "alice", "--database",
                    database).stdout.strip()
        start_processes(stack, tmp_path, ports, out, inventory, database)
        bridge = f"http://127.0.0.1:{ports['bridge']}"
        auth = {"Authorization": f"Bearer {token}"}

        def incidents() -> list[dict]:
            response = requests.get(f"{bridge}/api/v1/incidents", headers=auth, timeout=5)
            assert response.status_code == 200, response.text
            return response.json()["incidents"]

        [site_down] = wait_until(
            lambda: [i for i in incidents() if i["alertname"] == "SiteDown"], timeout=45,
            interval=0.5, message="SiteDown's incident in the bridge")
        wait_until(lambda: any(path == "/web" and labels["alertname"] == "BillingQueueStuck"
                               for path, labels in alerts_posted(received)), timeout=30,
                   message="their alert at their web team's webhook")
        alertmanager = f"http://127.0.0.1:{ports['alertmanager']}"
        receivers = wait_until(
            lambda: (found := receivers_by_alert(alertmanager)) and {
                "SiteDown", "Watchdog", "BillingQueueStuck"} <= set(found) and found,
            timeout=20, message="the three alerts in Alertmanager")
        time.sleep(3)  # time for any other delivery to their webhooks or the bridge
        in_bridge = {incident["alertname"] for incident in incidents()}
        posted = alerts_posted(received)

    assert (site_down["client"], site_down["severity"], site_down["state"]) == (
        "demo", "critical", "open")
    assert site_down["labels"]["owl_stack"] == "owl-monitoring"
    assert "BillingQueueStuck" not in in_bridge
    assert receivers["BillingQueueStuck"] == {"web-team"}
    assert receivers["SiteDown"] == {"owl-bridge", "owl-null"}
    assert receivers["Watchdog"] == {"owl-bridge", "owl-null"}
    assert {path for path, _ in posted} == {"/web"}
    assert {labels["alertname"] for _, labels in posted} == {"BillingQueueStuck"}
    assert not any("owl_stack" in labels for _, labels in posted)


def start_processes(stack: ExitStack, tmp_path: Path, ports: dict[str, int], out: Path,
                    inventory: Path, database: str) -> None:
    """Our blackbox_exporter and bridge, their Alertmanager, then their Prometheus on the merged
    files, each answering before the next starts."""
    etc, secrets = tmp_path / "etc", out / "secrets"
    processes = {
        "blackbox": ([require_binary("prometheus-blackbox-exporter"),
                      f"--config.file={out / 'blackbox' / 'blackbox.yml'}",
                      f"--web.listen-address=127.0.0.1:{ports['blackbox']}"], "/-/healthy"),
        "bridge": ([sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory",
                    str(inventory), "--database", database,
                    "--web.listen-address", f"127.0.0.1:{ports['bridge']}",
                    "--webhook.token-file", str(secrets / "bridge-webhook-token"),
                    "--scrape.token-file", str(secrets / "bridge-scrape-token"),
                    "--web.secret-file", str(secrets / "bridge-web-secret")], "/healthz"),
        "alertmanager": ([require_binary("prometheus-alertmanager"),
                          f"--config.file={etc / 'alertmanager.yml'}",
                          f"--storage.path={tmp_path / 'alertmanager-data'}",
                          f"--web.listen-address=127.0.0.1:{ports['alertmanager']}",
                          "--cluster.listen-address="], "/-/ready"),
        "prometheus": ([require_binary("prometheus"), f"--config.file={etc / 'prometheus.yml'}",
                        f"--storage.tsdb.path={tmp_path / 'prometheus-data'}",
                        f"--web.listen-address=127.0.0.1:{ports['prometheus']}",
                        # alerts sent before it knows its Alertmanagers (the discovery's first
                        # 5 s) are resent in 1 s, not 1 min
                        "--rules.alert.resend-delay=1s"], "/-/ready"),
    }
    for name, (args, ready) in processes.items():
        process = stack.enter_context(running(args, tmp_path / f"{name}.log",
                                              stdin=subprocess.DEVNULL))
        try:
            wait_for_http(f"http://127.0.0.1:{ports[name]}{ready}", timeout=30,
                          process=process, ok=lambda r: r.status_code == 200)
        except (RuntimeError, TimeoutError) as exc:
            pytest.fail(f"{name}: {exc}\n{(tmp_path / f'{name}.log').read_text()[-3000:]}")


def receivers_by_alert(alertmanager: str) -> dict[str, set[str]]:
    """alertname -> the receivers Alertmanager routes its alerts to."""
    response = requests.get(f"{alertmanager}/api/v2/alerts", timeout=5)
    found: dict[str, set[str]] = {}
    for alert in response.json():
        found.setdefault(alert["labels"]["alertname"], set()).update(
            receiver["name"] for receiver in alert["receivers"])
    return found
