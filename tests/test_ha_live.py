"""The highly available stack, live: ``owl config render --profile ha`` run with the real
binaries, parts killed with SIGKILL while an incident goes on, and nothing lost or doubled.

Two Prometheus replicas (``prometheus @flags-<r> --config.file=prometheus-<r>.yml``) scrape the
demo site through blackbox_exporter and send to the three clustered Alertmanagers (``@flags-<m>``,
gossip on loopback), which deliver to HAProxy (the rendered ``haproxy.cfg``) in front of two
``owl bridge`` replicas on the tests' PostgreSQL (HAProxy also fronts the Prometheus replicas and
the Alertmanagers for what queries them), and page on-call by email (the rendered pager
receiver) to a local SMTP server. The demo shop breaks: one incident opens and one page goes out.
Then Prometheus replica a, the Alertmanager that sent the page and bridge replica a are killed
(SIGKILL, not restarted); the incident is acknowledged through the balancer; the shop comes back.
The incident resolves, once; on-call got exactly one page and one resolution for it.

What is changed in the rendered files is time only, so that the test takes about a minute:
SiteDown's ``for`` (1m, which tests/test_end_to_end.py runs as is) and Alertmanager's group
timings (30 s / 5 m) are shortened. The scrape and evaluation intervals (2 s) and the
Alertmanagers' ``--cluster.peer-timeout`` (2 s) are the inventory's.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests
import yaml

from tests.support.binaries import require_binary
from tests.support.databases import postgres_url, reset_postgres
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.support.smtp import smtp_server

INVENTORY = """
provider:
  name: OWL SYSTEMS
  smtp: {{host: 127.0.0.1, port: {smtp}, sender: monitoring@owl-systems.example}}
  receivers: {{pager: {{email: astreinte@owl-systems.example}}}}
  stack:
    blackbox_exporter: 127.0.0.1:{blackbox}
    exporter: 127.0.0.1:{exporter}
    bridge: 127.0.0.1:{balancer}
    prometheus: 127.0.0.1:{prometheus_balancer}
    alertmanager: 127.0.0.1:{alertmanager_balancer}
    scrape_interval: 2s
    evaluation_interval: 2s
    ha:
      prometheus: [127.0.0.1:{prometheus_a}, 127.0.0.1:{prometheus_b}]
      alertmanager:
        - {{address: 127.0.0.1:{am_a}, cluster: 127.0.0.1:{gossip_a}}}
        - {{address: 127.0.0.1:{am_b}, cluster: 127.0.0.1:{gossip_b}}}
        - {{address: 127.0.0.1:{am_c}, cluster: 127.0.0.1:{gossip_c}}}
      bridges: [127.0.0.1:{bridge_a}, 127.0.0.1:{bridge_b}]
      peer_timeout: 2s
clients:
  - id: demo
    name: Demo Boutique SAS
    contract: {{tier: 3, monthly_fee: "1200.00", support_24_7: true, quote: DEV-1,
                start: 2025-02-01}}
    sites: [{{id: shop, url: "http://127.0.0.1:{demo}/", cms: wordpress, shop: woocommerce}}]
"""
PORTS = ("smtp", "blackbox", "exporter", "balancer", "prometheus_balancer",
         "alertmanager_balancer", "prometheus_a", "prometheus_b", "am_a",
         "am_b", "am_c", "gossip_a", "gossip_b", "gossip_c", "bridge_a", "bridge_b", "demo")
REPLICAS, MEMBERS, BRIDGES = ("a", "b"), ("a", "b", "c"), ("a", "b")
SITE_DOWN_FOR = "10s"
GROUP_TIMINGS = {"group_wait": "2s", "group_interval": "4s"}  # the bridge's group_wait: 1s
QUIET_AFTER = 12  # seconds without any further notification before counting them


def owl(*args: str, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "owl_commands.cli", *args],
                            capture_output=True, text=True, timeout=60, **kwargs)
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def shorten_timings(out: Path) -> None:
    """SiteDown's ``for`` and Alertmanager's group timings, to the test's time scale."""
    rules = out / "prometheus" / "rules" / "sites.yml"
    text = rules.read_text()
    rule = text.index("- alert: SiteDown")
    start = text.index("for: 1m", rule)
    rules.write_text(text[:start] + f"for: {SITE_DOWN_FOR}" + text[start + len("for: 1m"):])
    path = out / "alertmanager" / "alertmanager.yml"
    config = yaml.safe_load(path.read_text())
    config["route"].update(GROUP_TIMINGS)
    bridge_route = config["route"]["routes"][0]
    assert bridge_route["receiver"] == "owl-bridge"
    bridge_route.update(group_wait="1s", group_interval=GROUP_TIMINGS["group_interval"])
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


class Stack:
    """The rendered stack's processes, by name, and how to reach them."""

    def __init__(self, tmp_path: Path, ports: dict[str, int], out: Path, database: str):
        self.tmp, self.ports, self.out, self.database = tmp_path, ports, out, database
        self.processes: dict[str, subprocess.Popen] = {}
        self.balancer = f"http://127.0.0.1:{ports['balancer']}"

    def start(self, stack: ExitStack, name: str, args: list[str]) -> subprocess.Popen:
        process = stack.enter_context(running(args, self.tmp / f"{name}.log",
                                              stdin=subprocess.DEVNULL))
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        """SIGKILL: no shutdown of any kind."""
        self.processes[name].send_signal(signal.SIGKILL)
        self.processes[name].wait(timeout=10)

    def url(self, port: str) -> str:
        return f"http://127.0.0.1:{self.ports[port]}"

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")[-3000:]


def start_stack(stack: ExitStack, s: Stack) -> None:
    """Every process, Prometheus last: its first alerts (the Watchdog) are sent at once, and
    Prometheus drops what no Alertmanager takes."""
    out, secrets = s.out, s.out / "secrets"
    for name in MEMBERS:
        s.start(stack, f"alertmanager-{name}", [
            require_binary("prometheus-alertmanager"),
            f"@{out / 'alertmanager' / f'flags-{name}'}",
            f"--config.file={out / 'alertmanager' / 'alertmanager.yml'}",
            f"--storage.path={s.tmp / f'alertmanager-{name}-data'}"])
    s.start(stack, "blackbox", [
        require_binary("prometheus-blackbox-exporter"),
        f"--config.file={out / 'blackbox' / 'blackbox.yml'}",
        f"--web.listen-address=127.0.0.1:{s.ports['blackbox']}"])
    s.start(stack, "demo-site", [sys.executable, "-m", "owl_commands.cli", "demo", "site",
                                 "--web.listen-address", f"127.0.0.1:{s.ports['demo']}",
                                 "--state", str(s.tmp / "demo-state")])
    for name in BRIDGES:
        s.start(stack, f"bridge-{name}", [
            sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory",
            str(s.tmp / "inventory.yml"), "--database", s.database,
            "--web.listen-address", f"127.0.0.1:{s.ports[f'bridge_{name}']}",
            "--webhook.token-file", str(secrets / "bridge-webhook-token"),
            "--scrape.token-file", str(secrets / "bridge-scrape-token"),
            "--web.secret-file", str(secrets / "bridge-web-secret")])
    s.start(stack, "haproxy", [require_binary("haproxy"), "-db", "-f",
                               str(out / "haproxy" / "haproxy.cfg")])
    for name, url in [*((f"alertmanager-{m}", s.url(f"am_{m}") + "/-/ready") for m in MEMBERS),
                      ("blackbox", s.url("blackbox") + "/-/healthy"),
                      ("demo-site", s.url("demo") + "/"),
                      *((f"bridge-{b}", s.url(f"bridge_{b}") + "/healthz") for b in BRIDGES),
                      ("haproxy", f"{s.balancer}/healthz")]:
        wait_answering(s, name, url)
    for member in MEMBERS:
        wait_until(lambda: cluster_size(s.url(f"am_{member}")) == len(MEMBERS), timeout=30,
                   message=f"alertmanager-{member} sees the whole cluster")
    for name in REPLICAS:
        s.start(stack, f"prometheus-{name}", [
            require_binary("prometheus"), f"@{out / 'prometheus' / f'flags-{name}'}",
            f"--config.file={out / 'prometheus' / f'prometheus-{name}.yml'}",
            f"--storage.tsdb.path={s.tmp / f'prometheus-{name}-data'}"])
    for name in REPLICAS:
        wait_answering(s, f"prometheus-{name}", s.url(f"prometheus_{name}") + "/-/ready")
        wait_until(lambda: query(s.url(f"prometheus_{name}"),
                                 'probe_success{job="blackbox_http"} == 1'), timeout=30,
                   message=f"prometheus-{name} probes the demo shop up")


def wait_answering(s: Stack, name: str, url: str) -> None:
    try:
        wait_for_http(url, timeout=60, process=s.processes[name],
                      ok=lambda response: response.status_code == 200)
    except (RuntimeError, TimeoutError) as exc:
        pytest.fail(f"{name}: {exc}\n{s.log(name)}")


def cluster_size(alertmanager: str) -> int:
    try:
        status = requests.get(f"{alertmanager}/api/v2/status", timeout=2).json()
    except requests.RequestException:
        return 0
    return len(status["cluster"].get("peers") or [])


def query(prometheus: str, expr: str) -> list:
    response = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5)
    return response.json()["data"]["result"]


def emails_sent(alertmanager: str) -> float:
    text = requests.get(f"{alertmanager}/metrics", timeout=2).text
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith('alertmanager_notifications_total{integration="email"}'))


def pages(smtp, about: str) -> list[str]:
    """Each message received, in order: "firing" or "resolved" when its subject is ``about``
    the alert, else its subject."""
    kinds = []
    for mail in smtp.received:
        subject = mail.message["Subject"]
        if f" – {about} – " not in subject:
            kinds.append(subject)
        else:
            kinds.append("resolved" if subject.startswith("[OWL SYSTEMS] Résolu") else "firing")
    return kinds


def test_the_ha_stack_loses_and_doubles_nothing_while_a_replica_of_each_part_is_killed(
        tmp_path):
    database = postgres_url()
    reset_postgres(database)
    ports = {name: free_port() for name in PORTS}
    with smtp_server(ports["smtp"]) as smtp, ExitStack() as stack:
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(INVENTORY.format(**ports))
        out = tmp_path / "rendered"
        owl("config", "render", "--inventory", str(inventory), "--out", str(out),
            "--profile", "ha")
        shorten_timings(out)
        owl("db", "upgrade", "--database", database)
        token = owl("token", "add", "--operator", "alice", "--database",
                    database).stdout.strip()
        auth = {"Authorization": f"Bearer {token}"}
        s = Stack(tmp_path, ports, out, database)
        start_stack(stack, s)

        def site_down() -> list[dict]:
            response = requests.get(f"{s.balancer}/api/v1/incidents",
                                    params={"client": "demo"}, headers=auth, timeout=5)
            assert response.status_code == 200, response.text
            return response.json()["incidents"]

        owl("demo", "break", "--site", "shop", "--state", str(tmp_path / "demo-state"))
        [incident] = wait_until(site_down, timeout=60, interval=0.5, message="the incident")
        assert (incident["alertname"], incident["state"]) == ("SiteDown", "open")
        assert "replica" not in incident["labels"]
        smtp.wait_for(1, timeout=30)

        s.kill("prometheus-a")
        # the member that paged (first in the cluster's order); the others saw its
        # notification log entry by gossip, within the peer timeout
        [sender] = [m for m in MEMBERS if emails_sent(s.url(f"am_{m}")) > 0]
        time.sleep(1)
        s.kill(f"alertmanager-{sender}")
        acknowledged = requests.post(f"{s.balancer}/api/v1/incidents/{incident['id']}/ack",
                                     headers=auth, timeout=5)
        assert acknowledged.status_code == 200, acknowledged.text
        s.kill("bridge-a")
        # what Grafana, the reports and the bridge's silences reach: the surviving replicas
        assert query(s.url("prometheus_balancer"), 'probe_success{job="blackbox_http"} == 0')
        status = requests.get(s.url("alertmanager_balancer") + "/api/v2/status", timeout=5)
        assert status.status_code == 200
        owl("demo", "repair", "--site", "shop", "--state", str(tmp_path / "demo-state"))

        wait_until(lambda: [i for i in site_down() if i["state"] == "resolved"], timeout=60,
                   interval=0.5, message="the incident resolved")
        smtp.wait_for(2, timeout=30)
        quiet_since, count = time.monotonic(), len(smtp.received)
        while time.monotonic() - quiet_since < QUIET_AFTER:  # nothing more comes
            if len(smtp.received) != count:
                quiet_since, count = time.monotonic(), len(smtp.received)
            time.sleep(0.5)

        [final] = site_down()
        assert final["id"] == incident["id"]
        assert (final["state"], final["acknowledged_by"], final["sla"]) == \
            ("resolved", "alice", "met")
        about = "SiteDown – client demo, site shop"
        assert pages(smtp, about) == ["firing", "resolved"]
        link = f"/incidents/fingerprint/{incident['fingerprint']}"
        for mail in smtp.received:
            assert mail.recipients == ["astreinte@owl-systems.example"]
            assert link in mail.message.get_body(("plain",)).get_content()
        others = requests.get(f"{s.balancer}/api/v1/incidents", headers=auth, timeout=5)
        assert [i["id"] for i in others.json()["incidents"]] == [incident["id"]]
