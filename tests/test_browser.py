"""The console in a real browser: Debian's chromium, at a desktop's size and at a phone's (390 CSS
pixels wide), on a real `owl bridge` process with a real Alertmanager and SMTP server behind it.

Each page is read with the keyboard, never scrolls sideways on the phone, and is saved as a
screenshot in build/screenshots/ (``desktop-incident.png``, ``phone-incident.png``...), so a
person can look at them: ``pytest tests/test_browser.py`` makes them all.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
import requests
from selenium.webdriver.common.keys import Keys

from tests.support.alertmanager import running_alertmanager
from tests.support.bridge import WEBHOOK_TOKEN, alert, webhook
from tests.support.browser import DESKTOP, browser  # noqa: F401 (the fixture)
from tests.support.processes import free_port, running, wait_for_http
from tests.support.smtp import notifying_inventory, smtp_server

UTC = dt.timezone.utc
ENV = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "OWL_WEB_SECRET": "browser-test-web-secret",
       "PATH": "/usr/bin:/bin"}


@dataclass
class Console:
    url: str
    operator_token: str
    client_token: str  # acme's read token

    def api(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.operator_token}"}
        return requests.request(method, f"{self.url}{path}", headers=headers, timeout=10,
                                **kwargs)

    def fire(self, *alerts: dict) -> None:
        response = requests.post(f"{self.url}/api/v1/alerts", json=webhook(*alerts), timeout=10,
                                 headers={"Authorization": f"Bearer {WEBHOOK_TOKEN}"})
        assert response.status_code == 200, response.text

    def incident(self, **labels) -> dict:
        """The one open incident whose labels include ``labels``."""
        incidents = self.api("GET", "/api/v1/incidents").json()["incidents"]
        [found] = [i for i in incidents if labels.items() <= i["labels"].items()]
        return found


def owl(*args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "owl_commands.cli", *args], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def ago(**delta) -> dt.datetime:
    return dt.datetime.now(UTC) - dt.timedelta(**delta)


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    """`owl bridge` on the clock of the machine, with acme's incidents: one breached (the shop,
    down for 5 hours), one for each size to acknowledge (the blog, the server web1), globex's
    major one, and a maintenance window announced for acme."""
    tmp = tmp_path_factory.mktemp("console")
    with running_alertmanager(tmp) as alertmanager, smtp_server() as smtp:
        inventory = tmp / "inventory.yml"
        inventory.write_text(notifying_inventory(smtp.port, alertmanager.url.split("//")[1]))
        database = f"sqlite:///{tmp / 'bridge.db'}"
        owl("db", "upgrade", "--database", database)
        operator = owl("token", "add", "--operator", "alice", "--database", database)
        client = owl("token", "add", "--client", "acme", "--inventory", str(inventory),
                     "--database", database)
        port = free_port()
        command = [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory",
                   str(inventory), "--database", database, "--web.listen-address",
                   f"127.0.0.1:{port}", "--alertmanager.url", alertmanager.url]
        with running(command, tmp / "bridge.log", env=ENV) as process:
            url = f"http://127.0.0.1:{port}"
            wait_for_http(f"{url}/healthz", process=process)
            seeded = Console(url, operator, client)
            seed(seeded)
            yield seeded


def french(summary: str, **labels) -> dict:
    """An alert as the bridge hears it, summarised in French as the rules do."""
    fired = alert(**labels)
    fired["annotations"] = {"summary": summary, "description": f"{summary} (test du navigateur)"}
    return fired


def seed(console: Console) -> None:
    console.fire(french("Le site shop ne répond plus", site="shop", starts_at=ago(hours=5)),
                 french("Le site blog ne répond plus", site="blog", starts_at=ago(minutes=10)),
                 french("Le serveur web1 ne répond plus", site=None, server="web1",
                        alertname="ServerDown", starts_at=ago(minutes=3)),
                 french("Le certificat TLS de www expire bientôt", client="globex", site="www",
                        severity="major", alertname="TlsExpiring", starts_at=ago(hours=1)))
    starts = dt.datetime.now(UTC).replace(microsecond=0, second=0) + dt.timedelta(days=3)
    announced = console.api("POST", "/api/v1/maintenances", json={
        "client": "acme", "targets": ["shop"], "starts_at": starts.isoformat(),
        "ends_at": (starts + dt.timedelta(hours=2)).isoformat(),
        "description": "Mise à jour de WordPress"})
    assert announced.status_code == 201, announced.text


def signed_in(browser, console: Console, token: str | None = None):
    """``browser`` on the console, signed in (as alice unless ``token`` says otherwise)."""
    browser.base_url = console.url
    browser.open("/signin")
    browser.sign_in(token or console.operator_token)
    return browser


# --- signing in -------------------------------------------------------------------------------

def test_an_operator_signs_in_with_the_keyboard_and_lands_on_the_incidents(console, browser):
    browser.base_url = console.url
    browser.open("/incidents")
    assert browser.path == "/signin"
    assert browser.viewport_width() == browser.size.width
    assert browser.fits()
    browser.screenshot("signin")

    browser.sign_in(console.operator_token)
    assert browser.path == "/incidents"


def test_a_wrong_token_says_so_on_the_sign_in_page(console, browser):
    browser.base_url = console.url
    browser.open("/signin")
    browser.sign_in("owlo_not-a-token")
    assert browser.path == "/signin"
    assert browser.find("[role=alert]").text.startswith("Ce jeton n'est pas valide")
    assert browser.fits()


# --- the incidents ----------------------------------------------------------------------------

# the incident each size acknowledges, so that the two runs do not meet
TO_ACKNOWLEDGE = {"desktop": {"site": "blog"}, "phone": {"server": "web1"}}


def test_the_incidents_list_shows_the_most_urgent_first_with_their_countdowns(console, browser):
    signed_in(browser, console)
    browser.open("/incidents")
    assert browser.fits()
    shop, blog = console.incident(site="shop"), console.incident(site="blog")
    rows = [row.get_attribute("id") for row in browser.find_all("tr.incident")]
    assert rows.index(f"incident-{shop['id']}") < rows.index(f"incident-{blog['id']}")
    breached = browser.find(f"#incident-{shop['id']} .countdown")
    assert "breached" in breached.get_attribute("class") and breached.text.startswith("-")
    running = browser.find(f"#incident-{blog['id']} .countdown")
    assert "breached" not in running.get_attribute("class")
    assert running.text.startswith("3 h ")  # 4 hours for a critical one, 10 minutes gone
    browser.screenshot("incidents")


@pytest.mark.parametrize("browser", [DESKTOP], ids=["desktop"], indirect=True)
def test_a_countdown_turns_red_on_the_page_when_its_deadline_passes(console, browser):
    """The script, not a reload, marks it: the deadline passes seconds after the page opened.
    Once, at one size: the script ticks every 15 seconds."""
    critical = dt.timedelta(hours=4)
    console.fire(french("Le serveur db-1 ne répond plus", site=None, server="db-1",
                        alertname="ServerDown",
                        starts_at=dt.datetime.now(UTC) - critical + dt.timedelta(seconds=4)))
    incident = console.incident(server="db-1")
    signed_in(browser, console)
    browser.open(f"/incidents/{incident['id']}")
    countdown = browser.find("#deadline .countdown")
    assert countdown.text == "0 min" and "breached" not in countdown.get_attribute("class")
    browser.wait_for(lambda b: "breached" in countdown.get_attribute("class"), timeout=25,
                     message="the countdown marked breached")
    assert countdown.text.startswith("-")


def test_acknowledge_is_on_the_first_screen_and_the_keyboard_reaches_and_presses_it(console,
                                                                                    browser):
    incident = console.incident(**TO_ACKNOWLEDGE[browser.size.name])
    signed_in(browser, console)
    browser.open(f"/incidents/{incident['id']}")
    assert browser.fits()
    button = browser.find("#acknowledge")
    assert browser.find_all("main button")[0] == button
    assert browser.bottom(button) <= browser.viewport_height()
    browser.screenshot("incident")

    # from the top: Tab to the skip link, Enter, Tab to Acknowledge, Enter
    assert browser.tab_to(browser.find("a.skip"), most=1) == 1
    browser.press(Keys.ENTER)
    assert browser.tab_to(button, most=1) == 1, "the first Tab after the skip link"
    browser.leave_page(lambda: browser.press(Keys.ENTER), "the acknowledgement answered")
    assert browser.find("#incident-state").get_attribute("data-state") == "acknowledged"
    assert "alice" in browser.find("#acknowledged-by").text
    assert not browser.find_all("#acknowledge")
    assert browser.fits()
    browser.screenshot("incident-acknowledged")
    acknowledged = console.api("GET", f"/api/v1/incidents/{incident['id']}").json()
    assert (acknowledged["state"], acknowledged["acknowledged_by"], acknowledged["sla"]) == \
        ("acknowledged", "alice", "met")


def test_the_link_of_an_alerts_fingerprint_opens_its_incident_once_signed_in(console, browser):
    shop = console.incident(site="shop")
    browser.base_url = console.url
    browser.open(f"/incidents/fingerprint/{shop['fingerprint']}")
    assert browser.path == "/signin"
    browser.sign_in(console.operator_token)
    assert browser.path == f"/incidents/{shop['id']}"


def test_the_link_of_an_alert_not_in_the_bridge_yet_says_so(console, browser):
    signed_in(browser, console)
    browser.open("/incidents/fingerprint/0123456789abcdef")
    assert browser.find("#incident-pending").get_attribute("data-fingerprint") == \
        "0123456789abcdef"
    assert browser.fits()
    browser.screenshot("incident-pending")


# --- the other pages --------------------------------------------------------------------------

def test_the_maintenance_clients_and_ledger_pages_fit_the_screen(console, browser):
    signed_in(browser, console)
    browser.open("/maintenances")
    assert "Mise à jour de WordPress" in browser.find("tr.maintenance").text
    assert browser.fits()
    browser.screenshot("maintenances")

    browser.open("/clients")
    assert "ACME SARL" in browser.find("#client-acme").text
    assert browser.fits()
    browser.screenshot("clients")

    browser.open("/ledger?client=acme")
    assert browser.find_all("table.ledger tr.breach")
    assert browser.fits()
    browser.screenshot("ledger")


def test_a_client_signed_in_sees_its_own_incidents_only(console, browser):
    signed_in(browser, console, console.client_token)
    browser.open("/incidents")
    clients = {row.find_element("css selector", "td:nth-child(2)").text
               for row in browser.find_all("tr.incident")}
    assert clients == {"acme"}
    assert browser.fits()
    browser.screenshot("portal-incidents")

