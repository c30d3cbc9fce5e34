"""End to end, for real: `owl up` runs Prometheus, Alertmanager, blackbox_exporter, the owl
exporter, the bridge and the demo site; the demo site goes down, the alert fires, Alertmanager
delivers it, the bridge opens a critical incident for the right client; an operator acknowledges
it; the site comes back and the incident is resolved. On-call's page, an email, is in the mail
folder of `owl up`'s mail catcher.

Only the intervals of this test's inventory are short; the rules are the real ones (SiteDown
waits 1 minute), so this test takes two to three minutes.
"""

import email
import email.policy
import os
import signal
import subprocess

import pytest
import requests

from tests.support.binaries import require_binary
from tests.support.processes import free_port, wait_until

INVENTORY = """
provider:
  name: OWL SYSTEMS
  smtp: {{host: 127.0.0.1, port: {smtp}, sender: monitoring@owl-systems.example}}
  receivers: {{pager: {{email: astreinte@owl-systems.example}}}}
  stack:
    prometheus: 127.0.0.1:{prometheus}
    alertmanager: 127.0.0.1:{alertmanager}
    blackbox_exporter: 127.0.0.1:{blackbox}
    exporter: 127.0.0.1:{exporter}
    bridge: 127.0.0.1:{bridge}
    scrape_interval: 2s
    evaluation_interval: 2s
clients:
  - id: demo
    name: Demo Boutique SAS
    contract: {{tier: 3, monthly_fee: "1200.00", support_24_7: true, quote: DEV-1,
                start: 2025-02-01}}
    sites: [{{id: shop, url: "http://127.0.0.1:{demo}/", cms: wordpress, shop: woocommerce}}]
  - id: acme
    name: ACME SARL
    contract: {{tier: 1, monthly_fee: "450.00", quote: DEV-2, start: 2025-06-01}}
    sites: [{{id: www, url: "http://127.0.0.1:{demo}/acme/", cms: drupal}}]
"""


@pytest.fixture
def stack(tmp_path, installed_owl):
    for binary in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"):
        require_binary(binary)
    ports = {name: free_port() for name in
             ("prometheus", "alertmanager", "blackbox", "exporter", "bridge", "demo", "smtp")}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY.format(**ports))
    state = tmp_path / "state"
    log = open(tmp_path / "owl-up.log", "w")
    process = subprocess.Popen(
        [installed_owl.owl, "up", "--inventory", str(inventory), "--state",
         str(state), "--demo-site.listen-address", f"127.0.0.1:{ports['demo']}",
         "--node-exporter.listen-address", "none"], stdout=log, stderr=subprocess.STDOUT,
        cwd=installed_owl.workdir)
    try:
        wait_until(lambda: "owl-monitoring is up" in (tmp_path / "owl-up.log").read_text()
                   or process.poll() is not None, timeout=90, message="owl up ready")
        assert process.poll() is None, (tmp_path / "owl-up.log").read_text()
        yield {"ports": ports, "state": state, "process": process, "owl": installed_owl.run,
               "token": (state / "secrets" / "demo-operator-token").read_text().strip(),
               "log": tmp_path / "owl-up.log"}
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        log.close()
    assert code == 0, (tmp_path / "owl-up.log").read_text()


def test_a_site_outage_goes_through_as_an_incident_and_back(stack):
    bridge = f"http://127.0.0.1:{stack['ports']['bridge']}"
    prometheus = f"http://127.0.0.1:{stack['ports']['prometheus']}"
    auth = {"Authorization": f"Bearer {stack['token']}"}

    def demo_incidents():
        response = requests.get(f"{bridge}/api/v1/incidents", params={"client": "demo"},
                                headers=auth, timeout=5)
        return [i for i in response.json()["incidents"] if i["alertname"] == "SiteDown"]

    # everything is up and scraped: the exporter found WordPress on the demo shop
    wait_until(lambda: _query(prometheus, 'owl_cms_info{client="demo",cms="wordpress"}'),
               timeout=60, message="the exporter's CMS metric in Prometheus")
    wait_until(lambda: _query(prometheus, 'probe_success{job="blackbox_http",client="demo"} == 1'),
               timeout=60, message="the demo shop probed up by blackbox_exporter")
    wait_until(lambda: _query(prometheus, 'up{job="owl_bridge"} == 1'), timeout=60,
               message="the bridge scraped with the scrape token owl up made")
    assert requests.get(f"{bridge}/metrics", headers=auth, timeout=5).status_code == 401
    assert demo_incidents() == []

    broken = stack["owl"]("demo", "break", "--state", str(stack["state"]))
    assert broken.returncode == 0, broken.stderr
    [incident] = wait_until(demo_incidents, timeout=150, interval=2,
                            message="an incident for the demo client")
    assert (incident["client"], incident["severity"], incident["state"], incident["sla"]) == \
        ("demo", "critical", "open", "pending")
    assert incident["labels"]["site"] == "shop"
    wait_until(lambda: _query(prometheus, 'owl_incidents_open{client="demo",severity="critical"}'),
               timeout=30, message="the bridge's open incident in Prometheus")

    acked = requests.post(f"{bridge}/api/v1/incidents/{incident['id']}/ack", headers=auth,
                          timeout=5)
    assert acked.status_code == 200
    assert (acked.json()["state"], acked.json()["sla"]) == ("acknowledged", "met")

    # the demo client has 24/7 support: Alertmanager pages on-call by email (after the pager
    # route's group_wait of 30 s), and owl up's mail catcher keeps the message
    smtp = f"127.0.0.1:{stack['ports']['smtp']}"
    assert f"{stack['state'] / 'mail'}/ (SMTP {smtp})" in stack["log"].read_text()
    [page] = wait_until(lambda: _mail_about("SiteDown", stack["state"] / "mail"), timeout=60,
                        message="the page about SiteDown in the mail folder")
    assert page["X-RcptTo"] == "astreinte@owl-systems.example"
    assert page["Subject"].startswith("[OWL SYSTEMS] Incident critique (Niveau 3) – SiteDown")
    assert "client demo, site shop" in page["Subject"]
    link = (f"http://127.0.0.1:{stack['ports']['bridge']}/incidents/fingerprint/"
            f"{incident['fingerprint']}")
    assert f"Ouvrir l'incident et en accuser réception : {link}" in \
        page.get_body(("plain",)).get_content()

    repaired = stack["owl"]("demo", "repair", "--state", str(stack["state"]))
    assert repaired.returncode == 0, repaired.stderr
    resolved = wait_until(lambda: [i for i in demo_incidents() if i["state"] == "resolved"],
                          timeout=150, interval=2, message="the incident resolved")
    assert resolved[0]["id"] == incident["id"]
    assert resolved[0]["sla"] == "met"
    assert resolved[0]["resolved_at"] > incident["started_at"]
    acme = requests.get(f"{bridge}/api/v1/incidents", params={"client": "acme"}, headers=auth,
                        timeout=5).json()["incidents"]
    assert acme == []


def _mail_about(alertname: str, folder) -> list:
    """The messages caught in ``folder`` whose subject names ``alertname``, oldest first."""
    messages = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                for path in sorted(folder.glob("*.eml"))]
    return [message for message in messages if alertname in message["Subject"]]


def _query(prometheus: str, expr: str) -> list:
    response = requests.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5)
    return response.json()["data"]["result"]


def test_owl_up_names_the_debian_package_of_a_missing_binary(tmp_path, example_inventory_path,
                                                              installed_owl):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    result = installed_owl.run("up", "--inventory", str(example_inventory_path), "--state",
                               str(tmp_path / "state"), env={**os.environ, "PATH": str(bin_dir)})
    assert result.returncode == 1
    assert "prometheus is not installed: apt-get install prometheus" in result.stderr
    assert "prometheus-alertmanager is not installed: apt-get install " \
           "prometheus-alertmanager" in result.stderr
    assert not (tmp_path / "state").exists()
