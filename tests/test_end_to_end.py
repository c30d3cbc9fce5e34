"""End to end, for real: `owl up` runs Prometheus, Alertmanager, blackbox_exporter, the owl
exporter, the bridge and the demo site; both demo sites go down, the alerts fire, Alertmanager
delivers them, the bridge opens a critical incident for each client, and pages on-call by email,
which `owl up`'s mail catcher keeps. In a real Chromium, an operator follows each email's link,
signs in and acknowledges: on a desktop for one, at a phone's size for the other (the Acknowledge
button on its first screen). The API then shows both acknowledged by that operator, the SLA met;
the sites come back and the incidents are resolved.

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
from tests.support.browser import DESKTOP, PHONE, Browser
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
    contract: {{tier: 1, monthly_fee: "450.00", support_24_7: true, quote: DEV-2,
                start: 2025-06-01}}
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


def test_site_outages_go_through_as_incidents_acknowledged_from_the_emails_link(stack, tmp_path):
    bridge = f"http://127.0.0.1:{stack['ports']['bridge']}"
    prometheus = f"http://127.0.0.1:{stack['ports']['prometheus']}"
    auth = {"Authorization": f"Bearer {stack['token']}"}

    def site_down(client):
        response = requests.get(f"{bridge}/api/v1/incidents", params={"client": client},
                                headers=auth, timeout=5)
        return [i for i in response.json()["incidents"] if i["alertname"] == "SiteDown"]

    # everything is up and scraped: the exporter found WordPress on the demo shop
    wait_until(lambda: _query(prometheus, 'owl_cms_info{client="demo",cms="wordpress"}'),
               timeout=60, message="the exporter's CMS metric in Prometheus")
    wait_until(lambda: len(_query(prometheus, 'probe_success{job="blackbox_http"} == 1')) == 2,
               timeout=60, message="both demo sites probed up by blackbox_exporter")
    wait_until(lambda: _query(prometheus, 'up{job="owl_bridge"} == 1'), timeout=60,
               message="the bridge scraped with the scrape token owl up made")
    assert requests.get(f"{bridge}/metrics", headers=auth, timeout=5).status_code == 401
    assert site_down("demo") == [] and site_down("acme") == []

    for site in ("shop", "acme"):
        broken = stack["owl"]("demo", "break", "--site", site, "--state", str(stack["state"]))
        assert broken.returncode == 0, broken.stderr
    incidents = {}
    for client, site in (("demo", "shop"), ("acme", "www")):
        [incident] = wait_until(lambda: site_down(client), timeout=150, interval=2,
                                message=f"an incident for {client}")
        assert (incident["client"], incident["severity"], incident["state"], incident["sla"]) == \
            (client, "critical", "open", "pending")
        assert incident["labels"]["site"] == site
        incidents[client] = incident
    wait_until(lambda: _query(prometheus, 'owl_incidents_open{client="demo",severity="critical"}'),
               timeout=30, message="the bridge's open incident in Prometheus")

    # both clients have 24/7 support: Alertmanager pages on-call by email (after the pager
    # route's group_wait of 30 s), one email per client and site, kept by owl up's mail catcher
    smtp = f"127.0.0.1:{stack['ports']['smtp']}"
    assert f"{stack['state'] / 'mail'}/ (SMTP {smtp})" in stack["log"].read_text()
    links = {}
    for client, size in (("demo", DESKTOP), ("acme", PHONE)):
        [page] = wait_until(lambda: _mail_about(f"client {client},", stack["state"] / "mail"),
                            timeout=90, message=f"the page about {client} in the mail folder")
        assert page["X-RcptTo"] == "astreinte@owl-systems.example"
        assert page["Subject"].startswith("[OWL SYSTEMS] Incident critique (Niveau 3) – SiteDown")
        link = f"{bridge}/incidents/fingerprint/{incidents[client]['fingerprint']}"
        assert f"Ouvrir l'incident et le prendre en charge : {link}" in \
            page.get_body(("plain",)).get_content()
        html = page.get_body(("html",)).get_content()
        assert f'href="{link}"' in html
        (tmp_path / f"{client}-page.html").write_text(html, encoding="utf-8")
        links[client] = (tmp_path / f"{client}-page.html", size)

    for client, (html, size) in links.items():
        _acknowledge_from_the_email(html, size, stack["token"], tmp_path / size.name)
        acknowledged = requests.get(f"{bridge}/api/v1/incidents/{incidents[client]['id']}",
                                    headers=auth, timeout=5).json()
        assert (acknowledged["state"], acknowledged["acknowledged_by"], acknowledged["sla"]) == \
            ("acknowledged", "demo", "met")

    for site in ("shop", "acme"):
        repaired = stack["owl"]("demo", "repair", "--site", site, "--state", str(stack["state"]))
        assert repaired.returncode == 0, repaired.stderr
    for client, incident in incidents.items():
        resolved = wait_until(lambda: [i for i in site_down(client) if i["state"] == "resolved"],
                              timeout=150, interval=2, message=f"{client}'s incident resolved")
        assert resolved[0]["id"] == incident["id"]
        assert resolved[0]["sla"] == "met"
        assert resolved[0]["resolved_at"] > incident["started_at"]


def _acknowledge_from_the_email(html, size, token: str, profile) -> None:
    """What on-call does in a browser at ``size``: read the email (its HTML part), tap its link,
    sign in with the token (typed, then Enter), land on the incident and tap Acknowledge, its
    first button."""
    browser = Browser(size, profile)
    try:
        browser.open(html.as_uri())
        assert browser.fits(), "the email scrolls sideways"
        browser.screenshot("end-to-end-email")
        browser.find("a.open").click()
        browser.wait_for(lambda b: b.path == "/signin", message="the sign-in page")
        browser.sign_in(token)
        assert browser.path.startswith("/incidents/")
        button = browser.find("#acknowledge")
        assert browser.find_all("main button")[0] == button
        assert browser.bottom(button) <= browser.viewport_height(), "Acknowledge below the fold"
        assert browser.fits()
        browser.screenshot("end-to-end-incident")
        button.click()
        browser.wait_for(lambda b: b.find_all("#incident-state[data-state=acknowledged]"),
                         message="the page showing the incident acknowledged")
        assert "demo" in browser.find("#acknowledged-by").text
        browser.screenshot("end-to-end-acknowledged")
    finally:
        browser.quit()


def _mail_about(words: str, folder) -> list:
    """The messages caught in ``folder`` whose subject has ``words``, oldest first."""
    messages = [email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
                for path in sorted(folder.glob("*.eml"))]
    return [message for message in messages if words in message["Subject"]]


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
