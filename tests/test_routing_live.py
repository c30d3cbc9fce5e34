"""The rendered routing run by a real Alertmanager, with real receivers on 127.0.0.1: an SMTP
server for email (``tests.support.smtp``) and HTTP servers for the pager, ticket and bridge
webhooks.

Alertmanager reads the real clock, so the calendars are made around "now" in Paris: the default
one open all day every day, one open all day but whose holidays include today (the render's holiday source is
replaced, the rest of the render is the real one), one closed at this hour. Only the timings are
shortened (group waits and intervals of a second or two); routes, time intervals, inhibition and
receivers are as rendered.
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import requests
import yaml

from owl.inventory import parse_inventory
from owl.render.alertmanager import CONFIG_PATH, render_alertmanager
from owl.render.profile import build_profile
from owl.render.serialize import to_yaml
from tests.support.binaries import require_binary
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.test_render_live import capturing_http_server

PARIS = ZoneInfo("Europe/Paris")
PAGER_TOKEN = "pager-token-from-its-file"
INVENTORY = """
provider:
  name: OWL SYSTEMS
  smtp: {{host: 127.0.0.1, port: {smtp}, sender: monitoring@owl-systems.example}}
  stack: {{bridge: "127.0.0.1:{bridge}"}}
  # open at any hour, so that the clients on the default calendar are open whenever this runs
  calendar: {{hours: {{mon-sun: "00:00-24:00"}}}}
  receivers:
    pager: {{webhook_url: "http://127.0.0.1:{pager}/page", webhook_token_file: "{token_file}"}}
    phone_email: {{email: astreinte@owl-systems.example}}
    ticket: {{webhook_url: "http://127.0.0.1:{ticket}/tickets"}}
clients:
  - {{id: allday, name: All Day, contract: {{tier: 3, monthly_fee: "900.00", support_24_7: true,
     quote: Q1, start: 2025-01-01, calendar: {{hours: {{mon-sun: "{closed_now}"}},
                                              holidays: {{subdivision: "57"}}}}}}}}
  - {{id: office-open, name: Open, contract: {{tier: 3, monthly_fee: "900.00", quote: Q2,
     start: 2025-01-01}}}}
  - {{id: office-holiday, name: Holiday, contract: {{tier: 3, monthly_fee: "900.00", quote: Q3,
     start: 2025-01-01, calendar: {{hours: {{mon-sun: "00:00-24:00"}},
                                    holidays: {{subdivision: "57"}}}}}}}}
  - {{id: office-evening, name: Evening, contract: {{tier: 3, monthly_fee: "900.00", quote: Q4,
     start: 2025-01-01, calendar: {{hours: {{mon-sun: "{closed_now}"}},
                                    holidays: {{subdivision: "6AE"}}}}}}}}
  - {{id: suspended, name: Suspended, contract: {{tier: 3, monthly_fee: "900.00",
     support_24_7: true, quote: Q5, start: 2025-01-01, status: suspended,
     suspended_since: 2025-06-01}}}}
"""


def closed_now(now: dt.datetime) -> str:
    """Opening hours that exclude ``now``, on the same day."""
    return "00:00-01:00" if now.hour >= 2 else "22:00-23:00"


def holidays_with_today(today: dt.date):
    """The render's holiday source: today is a holiday in Moselle ("57") only."""
    def source(country: str, subdivision: str | None, years: list[int]) -> list[dt.date]:
        return [today] if subdivision == "57" else []
    return source


def shortened(config: dict) -> dict:
    """The same configuration with group waits and intervals of a second or two."""
    def walk(route: dict) -> None:
        for key, value in (("group_wait", "0s"), ("group_interval", "1s")):
            if key in route:
                route[key] = value
        for child in route.get("routes", []):
            walk(child)
    config["route"].update(group_wait="1s", group_interval="2s")
    walk(config["route"])
    return config


def write_shortened(files: dict[str, str], out_dir) -> Path:
    """The rendered Alertmanager files under ``out_dir``, alertmanager.yml with the timings
    shortened; its path."""
    for relative, text in files.items():
        (out_dir / relative).parent.mkdir(parents=True, exist_ok=True)
        (out_dir / relative).write_text(text, encoding="utf-8")
    config_file = out_dir / CONFIG_PATH
    config_file.write_text(to_yaml(shortened(yaml.safe_load(files[CONFIG_PATH]))),
                           encoding="utf-8")
    return config_file


def alert(alertname: str, client: str, site: str, severity: str, **labels: str) -> dict:
    return {"labels": {"alertname": alertname, "client": client, "site": site,
                       "severity": severity, **labels},
            "annotations": {"summary": f"{alertname} on {client}/{site}"}}


def delivered(deliveries: list[dict]) -> set[tuple[str, str, str]]:
    """(alertname, client, site) of every firing alert delivered to a webhook."""
    return {(a["labels"]["alertname"], a["labels"]["client"], a["labels"]["site"])
            for delivery in deliveries for a in delivery["json"]["alerts"]
            if a["status"] == "firing"}


@pytest.fixture
def now_in_paris() -> dt.datetime:
    now = dt.datetime.now(PARIS)
    if now.hour == 23 and now.minute == 59:  # keep "today" the same for the whole test
        time.sleep(61 - now.second)
        now = dt.datetime.now(PARIS)
    return now


def test_pages_go_out_by_contract_business_hours_and_holidays_and_everything_reaches_the_bridge(
        tmp_path, smtp, now_in_paris):
    ports = {name: free_port() for name in ("bridge", "pager", "ticket", "alertmanager")}
    token_file = tmp_path / "pager-token"
    token_file.write_text(PAGER_TOKEN + "\n", encoding="utf-8")
    token_file.chmod(0o600)
    inventory = parse_inventory(INVENTORY.format(smtp=smtp.port, token_file=token_file,
                                                 closed_now=closed_now(now_in_paris), **ports))
    profile = build_profile("local", inventory.provider.stack, tmp_path, tmp_path / "bridge-token")
    (tmp_path / "bridge-token").write_text("bridge-token\n", encoding="utf-8")
    today = now_in_paris.date()
    config_file = write_shortened(render_alertmanager(inventory, profile, today,
                                                      holidays_with_today(today)), tmp_path)
    assert PAGER_TOKEN not in config_file.read_text()
    url = f"http://127.0.0.1:{ports['alertmanager']}"
    args = [require_binary("prometheus-alertmanager"), f"--config.file={config_file}",
            f"--storage.path={tmp_path / 'data'}", "--cluster.listen-address=",
            f"--web.listen-address=127.0.0.1:{ports['alertmanager']}"]

    site_down = alert("SiteDown", "office-open", "blog", "critical")
    alerts = [
        # critical of a 24/7 client, outside its hours and on its holiday: paged anyway
        alert("SiteDown", "allday", "www", "critical"),
        # major of business-hours clients: open now / holiday today / closed at this hour
        alert("SiteSlow", "office-open", "www", "major"),
        alert("SiteSlow", "office-holiday", "www", "major"),
        alert("SiteSlow", "office-evening", "www", "major"),
        # critical of a business-hours client on a holiday: held too
        alert("SiteDown", "office-holiday", "shop", "critical"),
        # minor of a client open now: a ticket
        alert("DomainExpiringSoon", "office-open", "www", "minor"),
        # a suspended 24/7 client: the bridge and nobody else
        alert("SiteDown", "suspended", "www", "critical"),
        # inhibition: the site is down, so its slowness and CMS alerts are held, but not the
        # security one
        site_down,
        alert("SiteSlow", "office-open", "blog", "major"),
        alert("CmsVulnerable", "office-open", "blog", "major"),
        alert("CmsKnownExploitedVulnerability", "office-open", "blog", "critical",
              category="security", component="core"),
    ]
    with capturing_http_server(ports["bridge"]) as bridge, \
            capturing_http_server(ports["pager"]) as pager, \
            capturing_http_server(ports["ticket"]) as ticket, \
            running(args, tmp_path / "alertmanager.log") as process:
        wait_for_http(f"{url}/-/ready", process=process,
                      ok=lambda response: response.status_code == 200)
        # the inhibiting alert first, so that the inhibitor knows it before the alerts it mutes
        # arrive (in production, the 30 s group wait leaves it ample time)
        requests.post(f"{url}/api/v2/alerts", json=[site_down], timeout=5).raise_for_status()
        wait_until(lambda: ("SiteDown", "office-open", "blog") in delivered(bridge), timeout=20,
                   interval=0.1, message="the site down at the bridge")
        requests.post(f"{url}/api/v2/alerts", json=alerts, timeout=5).raise_for_status()

        not_inhibited = {(a["labels"]["alertname"], a["labels"]["client"], a["labels"]["site"])
                         for a in alerts} - {("SiteSlow", "office-open", "blog"),
                                             ("CmsVulnerable", "office-open", "blog")}
        wait_until(lambda: delivered(bridge) >= not_inhibited, timeout=20, interval=0.2,
                   message="every alert but the inhibited ones at the bridge")
        wait_until(lambda: len(smtp.received) >= 1 and delivered(pager) and delivered(ticket),
                   timeout=20, interval=0.2, message="the email, the page and the ticket")
        time.sleep(4)  # two more group intervals: anything held would have gone out by now

    assert delivered(bridge) == not_inhibited
    assert delivered(pager) == {("SiteDown", "allday", "www"),
                                ("SiteDown", "office-open", "blog"),
                                ("CmsKnownExploitedVulnerability", "office-open", "blog")}
    assert {d["headers"]["Authorization"] for d in pager} == {f"Bearer {PAGER_TOKEN}"}
    assert delivered(ticket) == {("DomainExpiringSoon", "office-open", "www")}
    mails = [(m.recipients, m.message["Subject"]) for m in smtp.received]
    assert len(mails) == 1, mails
    [mail] = smtp.received
    assert mail.recipients == ["astreinte@owl-systems.example"]
    body = mail.message.get_body(("html", "plain")).get_content()
    assert "office-open" in body and "SiteSlow" in body
    assert "office-holiday" not in body and "office-evening" not in body
    assert {d["headers"]["Authorization"] for d in bridge} == {"Bearer bridge-token"}
