"""The on-call emails: French, from the template rendered beside alertmanager.yml, each alert
linking to ``<console_url>/incidents/fingerprint/<fingerprint>`` in the bridge's console.

The live test runs the rendered configuration in a real Alertmanager (timings shortened as in
``tests/test_routing_live``) that mails a real SMTP server on 127.0.0.1 (``tests.support.smtp``).
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess

import pytest
import requests

from owl.inventory import InventoryError, ResponseTimes, parse_inventory
from owl.render.alertmanager import render_alertmanager
from owl.render.email_template import SEVERITY_NAMES
from owl.render.profile import build_profile
from tests.support.binaries import require_binary
from tests.support.bridge import rfc3339
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.test_render import CASES, check, rendered  # noqa: F401 (rendered: a fixture)
from tests.test_routing_live import write_shortened

UTC = dt.timezone.utc
RUNBOOK = "https://github.com/owl-systems/owl-monitoring/blob/main/docs/runbooks.md#sitedown"
INVENTORY = """
provider:
  name: OWL SYSTEMS
  smtp: {{host: 127.0.0.1, port: {smtp}, sender: monitoring@owl-systems.example}}
  stack: {{console_url: "https://owl.example.fr/console/"}}
  # open at any hour, so that business-hours alerts go out whenever this runs
  calendar: {{hours: {{mon-sun: "00:00-24:00"}}}}
  receivers:
    pager: {{email: astreinte@owl-systems.example}}
    phone_email: {{email: support@owl-systems.example}}
clients:
  - {{id: acme, name: "ACME <SARL> {{{{ .Status }}}}", contract: {{tier: 3, monthly_fee: "900.00",
     support_24_7: true, quote: Q1, start: 2025-01-01}}}}
  - {{id: globex, name: Globex, contract: {{tier: 2, monthly_fee: "600.00", quote: Q2,
     start: 2025-01-01, response_times: {{major: 12h}}}}}}
"""


# --- amtool -------------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES)
def test_amtool_checks_the_email_template_alertmanager_yml_names(rendered, case):
    output = check("amtool", "check-config",
                   str(rendered[case] / "alertmanager" / "alertmanager.yml"))
    assert " - 1 templates" in output


def test_amtool_refuses_a_broken_email_template(rendered, tmp_path):
    copy = tmp_path / "alertmanager"
    shutil.copytree(rendered["fixture"] / "alertmanager", copy)
    template = copy / "templates" / "owl-email.tmpl"
    template.write_text(template.read_text(encoding="utf-8") + '{{ define "x" }}{{ if }}',
                        encoding="utf-8")
    result = subprocess.run([require_binary("amtool"), "check-config",
                             str(copy / "alertmanager.yml")], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode != 0
    assert "owl-email.tmpl" in result.stdout + result.stderr


def test_every_contract_severity_has_its_french_name():
    assert tuple(SEVERITY_NAMES) == tuple(ResponseTimes.model_fields)


# --- the console's address ----------------------------------------------------------------------

def stack_of(stack: str):
    return parse_inventory(f"provider: {{name: OWL, stack: {stack}}}\n", "inv.yml").provider.stack


def test_the_console_is_the_bridge_unless_the_inventory_says_otherwise():
    assert stack_of("{}").console_url == "http://127.0.0.1:9180"
    assert stack_of('{bridge: "10.0.0.7:9180"}').console_url == "http://10.0.0.7:9180"
    assert stack_of('{console_url: "https://owl.example.fr/"}').console_url == \
        "https://owl.example.fr"
    assert stack_of('{console_url: "HTTPS://owl.example.fr/owl//"}').console_url == \
        "https://owl.example.fr/owl"


@pytest.mark.parametrize("value, expected", [
    ('"ftp://owl.example.fr"', "is not an http or https URL"),
    ('"owl.example.fr"', "is not an http or https URL"),
    ('"https://owl.example.fr/?next=1"', "must have no query (?...) or fragment (#...)"),
    ('"https://owl.example.fr/#top"', "must have no query (?...) or fragment (#...)"),
    ('"https://"', "has no host"),
    ('"https://owl.example.fr:99999"', "has an invalid port"),
    ('"https://owl.example.fr/a b"', "may hold letters, digits"),
    ('"https://owl.example.fr/{{ .X }}"', "may hold letters, digits"),
    ('"https://admin:secret@owl.example.fr"', "no credentials"),
    ("443", "expected an http or https URL"),
])
def test_a_bad_console_url_is_refused_naming_the_field(value, expected):
    with pytest.raises(InventoryError) as caught:
        stack_of(f"{{console_url: {value}}}")
    [problem] = caught.value.problems
    assert problem.startswith("inv.yml:1: provider.stack.console_url: ")
    assert expected in problem


# --- a real Alertmanager mails them ------------------------------------------------------------

def rendered_alertmanager(tmp_path, smtp_port: int):
    inventory = parse_inventory(INVENTORY.format(smtp=smtp_port))
    profile = build_profile("local", inventory.provider.stack, tmp_path, tmp_path / "bridge-token")
    (tmp_path / "bridge-token").write_text("bridge-token\n", encoding="utf-8")
    files = render_alertmanager(inventory, profile, dt.date.today(),
                                lambda country, subdivision, years: [])  # no holiday today
    return write_shortened(files, tmp_path)


def site_down(starts_at: dt.datetime, ends_at: dt.datetime | None = None) -> dict:
    alert = {"labels": {"alertname": "SiteDown", "client": "acme", "site": "shop",
                        "instance": "https://shop.acme.example/", "severity": "critical"},
             "annotations": {"summary": "Site shop of client acme is down",
                             "description": "https://shop.acme.example/ has failed every probe.",
                             "runbook_url": RUNBOOK},
             "startsAt": rfc3339(starts_at)}
    if ends_at:
        alert["endsAt"] = rfc3339(ends_at)
    return alert


def site_slow(starts_at: dt.datetime) -> dict:
    return {"labels": {"alertname": "SiteSlow", "client": "globex", "site": "www",
                       "severity": "major"},
            "annotations": {"summary": "Site www of client globex is slow"},
            "startsAt": rfc3339(starts_at)}


def bridge_down(starts_at: dt.datetime) -> dict:
    """A provider-internal alert: no client."""
    return {"labels": {"alertname": "OwlBridgeDown", "instance": "127.0.0.1:9180",
                       "job": "owl_bridge", "severity": "critical"},
            "annotations": {"summary": "The SLA bridge is down"},
            "startsAt": rfc3339(starts_at)}


def parts(mail) -> tuple[str, str, str]:
    """(subject, text, html) of a received email."""
    message = mail.message
    return (message["Subject"], message.get_body(("plain",)).get_content(),
            message.get_body(("html",)).get_content())


def mail_about(smtp, alertname: str, count: int = 1) -> list:
    """The first ``count`` emails whose subject names ``alertname``, once they are there."""
    def found():
        mails = [m for m in smtp.received if f" {alertname} " in m.message["Subject"]]
        return len(mails) >= count and mails[:count]
    return wait_until(found, timeout=30, interval=0.2, message=f"{count} emails about {alertname}")


def test_alertmanager_mails_on_call_in_french_with_the_link_to_the_incident_of_its_fingerprint(
        tmp_path, smtp):
    config_file = rendered_alertmanager(tmp_path, smtp.port)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    args = [require_binary("prometheus-alertmanager"), f"--config.file={config_file}",
            f"--storage.path={tmp_path / 'data'}", "--cluster.listen-address=",
            f"--web.listen-address=127.0.0.1:{port}"]
    started = dt.datetime.now(UTC).replace(microsecond=0) - dt.timedelta(minutes=7)
    with running(args, tmp_path / "alertmanager.log") as process:
        wait_for_http(f"{url}/-/ready", process=process,
                      ok=lambda response: response.status_code == 200)
        requests.post(f"{url}/api/v2/alerts", timeout=5, json=[
            site_down(started), site_slow(started), bridge_down(started)]).raise_for_status()
        [page] = mail_about(smtp, "SiteDown")
        [slow_mail] = mail_about(smtp, "SiteSlow")
        [internal] = mail_about(smtp, "OwlBridgeDown")
        fingerprints = {alert["labels"]["alertname"]: alert["fingerprint"]
                        for alert in requests.get(f"{url}/api/v2/alerts", timeout=5).json()}
        ended = dt.datetime.now(UTC).replace(microsecond=0)
        requests.post(f"{url}/api/v2/alerts", json=[site_down(started, ended)],
                      timeout=5).raise_for_status()
        resolved = mail_about(smtp, "SiteDown", 2)[1]

    link = f"https://owl.example.fr/console/incidents/fingerprint/{fingerprints['SiteDown']}"
    assert page.recipients == resolved.recipients == ["astreinte@owl-systems.example"]
    assert slow_mail.recipients == ["support@owl-systems.example"]
    subject, text, html = parts(page)
    assert subject == ("[OWL SYSTEMS] Incident critique (Niveau 3) – SiteDown – client acme, "
                       "site shop – 1 alerte en cours")
    since = started.strftime("%d/%m/%Y à %H:%M:%S UTC")
    for expected in ("EN COURS : SiteDown",
                     'Client : ACME <SARL> {{ .Status }} (acme)',
                     "Cible : site shop (https://shop.acme.example/)",
                     "Gravité : critique (Niveau 3)",
                     "Problème : Site shop of client acme is down",
                     "Détail : https://shop.acme.example/ has failed every probe.",
                     f"Depuis le : {since}",
                     "Délai de réponse : 4 h en temps réel (support 24/7)",
                     "(annexe, section 5a)",
                     f"Procédure : {RUNBOOK}",
                     f"Ouvrir l'incident et le prendre en charge : {link}"):
        assert expected in text, (expected, text)
    assert "Résolu" not in text
    assert f'<a class="open" href="{link}">Ouvrir l\'incident et le prendre en charge</a>' \
        in html
    assert "ACME &lt;SARL&gt; {{ .Status }} (acme)" in html and "<SARL>" not in html
    assert f"<td>{since}</td>" in html and f'<a href="{RUNBOOK}">' in html

    subject, text, _ = parts(slow_mail)
    assert subject.startswith("[OWL SYSTEMS] Incident majeur (Niveau 2) – SiteSlow – client globex")
    assert "Délai de réponse : 12 h ouvrées, comptées dans les horaires d'ouverture du client " \
           "(lun-dim 00:00-24:00, heure de Europe/Paris, jours fériés exclus)" in text
    assert "Procédure : aucune pour cette alerte" in text
    assert f"/console/incidents/fingerprint/{fingerprints['SiteSlow']}" in text

    subject, text, _ = parts(internal)
    assert subject == ("[OWL SYSTEMS] Incident critique (Niveau 3) – OwlBridgeDown – alerte "
                       "interne – 1 alerte en cours")
    for expected in ("Client : aucun (alerte interne au prestataire)", "Cible : 127.0.0.1:9180",
                     "Délai de réponse : aucun délai contractuel : alerte interne au "
                     "prestataire, hors SLA",
                     f"/console/incidents/fingerprint/{fingerprints['OwlBridgeDown']}"):
        assert expected in text, (expected, text)

    subject, text, html = parts(resolved)
    assert subject == ("[OWL SYSTEMS] Résolu – incident critique (Niveau 3) – SiteDown – "
                       "client acme, site shop – 1 alerte résolue")
    assert "RÉSOLU : SiteDown" in text and "EN COURS" not in text
    assert f"Résolu le : {ended.strftime('%d/%m/%Y à %H:%M:%S UTC')}" in text
    assert f"Ouvrir l'incident : {link}" in text
    assert "Résolu" in html and link in html
