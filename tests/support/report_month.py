"""May 2026 of one client, lived through a real bridge and written into a real Prometheus: the
month the report tests check the PDF against.

Client ``lune`` (tier 3, 1,200.00 EUR a month, business hours Mon-Fri 09:00-18:00 Paris, no
24/7 support). In May 2026, 1 May, 8 May, 14 May (Ascension) and 25 May (Pentecost Monday) are
public holidays. What happens:

1. critical SiteDown on ``boutique``, Mon 4 May 10:00 to 15:00, acknowledged at 16:00: breached
   (deadline 14:00), 3 %;
2. critical SiteCertificateInvalid on ``vitrine``, Thu 7 May 16:00 to Mon 11 May 14:00, never
   acknowledged: its 4 hours of business time skip the 8 May holiday and the weekend, deadline
   Mon 11 May 11:00, breached, 3 %; 6 % in all, capped at 5 %: 60.00 to credit, a cap
   adjustment of -12.00;
3. major SiteSlow on ``boutique``, Tue 12 May 10:00, excluded as a hosting provider's outage at
   20:30 (outside opening hours: an intervention billed apart);
4. minor DiskNearlyFull on server ``web1``, Wed 20 May 10:00, acknowledged 10:30: met;
5. a planned window on ``boutique`` announced Mon 18 May 10:00 for Thu 21 May 22:00-23:00; a
   SiteDown inside it (22:10-22:40) is ``maintenance``;
6. an emergency window announced Sat 23 May 03:00 (an intervention) for 03:00-04:00;
7. major SiteDown on ``vitrine``, Sat 16 May 02:00, acknowledged 02:20 (an intervention): met;
8. a security incident (SiteDefaced, category security) on ``vitrine`` Tue 26 May 09:30,
   acknowledged 09:45, the client notified by email through a real SMTP server.

Prometheus holds the per-minute availability of both sites and the server (down while the
incidents above say so, no sample during the planned window), and the probes' facts.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sla_bridge.storage.schema import Maintenance
from sla_bridge.storage.windows import record_window
from tests.support.bridge import TestBridge, alert, at, make_bridge
from tests.support.prometheus_history import History

MONTH = "2026-05"
PARIS = ZoneInfo("Europe/Paris")
CLIENT = "lune"
AFTER_THE_MONTH = at("2026-06-01 10:00")

INVENTORY = """
provider:
  name: OWL SYSTEMS
  timezone: Europe/Paris
  smtp: {{host: 127.0.0.1, port: {smtp_port}, sender: monitoring@owl-systems.example}}
  reports: {{recipients: [facturation@owl-systems.example]}}
clients:
  - id: lune
    name: Lune Cosmétiques SAS
    contacts: {{email: [direction@lune.example]}}
    contract: {{tier: 3, monthly_fee: "1200.00", quote: DEV-2026-0117, start: 2025-09-01}}
    sites:
      - {{id: boutique, url: "https://boutique.lune-cosmetiques.example", cms: wordpress,
          shop: woocommerce}}
      - {{id: vitrine, url: "https://www.lune-cosmetiques.example", cms: drupal}}
    servers: [{{id: web1, address: 203.0.113.40}}]
  - id: essai
    name: Essai Studio
    contacts: {{email: [bonjour@essai.example]}}
    contract: {{tier: 0, monthly_fee: "0", quote: DEV-2026-0301, start: 2026-05-01,
               status: trial}}
    sites: [{{id: www, url: "https://www.essai.example"}}]
  - id: soleil
    name: Soleil SARL
    contract: {{tier: 1, monthly_fee: "300.00", quote: DEV-2026-0200, start: 2025-09-01}}
    sites: [{{id: www, url: "https://www.soleil.example"}}]
"""


@dataclass(frozen=True)
class Outage:
    target: str
    kind: str  # site | server
    start: dt.datetime
    end: dt.datetime


OUTAGES = (Outage("boutique", "site", at("2026-05-04 10:00"), at("2026-05-04 15:00")),
           Outage("vitrine", "site", at("2026-05-16 02:00"), at("2026-05-16 02:40")),
           Outage("web1", "server", at("2026-05-20 10:00"), at("2026-05-20 10:30")))
PLANNED_WINDOW = (at("2026-05-21 22:00"), at("2026-05-21 23:00"))


def live_the_month(database_url: str, smtp_port: int) -> TestBridge:
    """The bridge after May 2026, its clock on 1 June 10:00."""
    test = make_bridge(database_url, at("2026-05-01 00:05"),
                       INVENTORY.format(smtp_port=smtp_port))

    def fire(name, severity, target, start, kind="site", **labels) -> dict:
        test.clock.now = max(test.clock.now, start)
        where = {"site": target} if kind == "site" else {"site": None, kind: target}
        sent = alert(name, CLIENT, severity, starts_at=start, **where, **labels)
        assert test.post_alerts(sent).status_code == 200
        return sent

    def resolve(sent: dict, end: dt.datetime) -> None:
        test.clock.now = max(test.clock.now, end)
        resolved = {**sent, "status": "resolved", "endsAt": end.isoformat()}
        assert test.post_alerts(resolved).status_code == 200

    def act(method: str, incident: int, action: str, when: dt.datetime, **body) -> None:
        test.clock.now = when
        response = test.as_operator(method, f"/api/v1/incidents/{incident}/{action}",
                                    json=body or None)
        assert response.status_code == 200, response.json

    def incident_of(sent: dict) -> int:
        found = [row for row in test.incidents(client=CLIENT, limit=500)
                 if row["fingerprint"] == sent["fingerprint"]]
        return found[0]["id"]

    first = fire("SiteDown", "critical", "boutique", at("2026-05-04 10:00"))
    resolve(first, at("2026-05-04 15:00"))
    act("POST", incident_of(first), "ack", at("2026-05-04 16:00"))
    second = fire("SiteCertificateInvalid", "critical", "vitrine", at("2026-05-07 16:00"))
    resolve(second, at("2026-05-11 14:00"))
    third = fire("SiteSlow", "major", "boutique", at("2026-05-12 10:00"))
    act("POST", incident_of(third), "exclusion", at("2026-05-12 20:30"),
        reason="third_party", note="Panne du réseau de l'hébergeur, ticket 88231")
    resolve(third, at("2026-05-12 21:00"))
    seventh = fire("SiteDown", "major", "vitrine", at("2026-05-16 02:00"))
    act("POST", incident_of(seventh), "ack", at("2026-05-16 02:20"))
    resolve(seventh, at("2026-05-16 02:40"))
    _window(test, at("2026-05-18 10:00"), *PLANNED_WINDOW, ["boutique"], emergency=False,
            description="Mise à jour de WooCommerce")
    fourth = fire("DiskNearlyFull", "minor", "web1", at("2026-05-20 10:00"), kind="server")
    act("POST", incident_of(fourth), "ack", at("2026-05-20 10:30"))
    resolve(fourth, at("2026-05-20 11:00"))
    in_window = fire("SiteDown", "critical", "boutique", at("2026-05-21 22:10"))
    resolve(in_window, at("2026-05-21 22:40"))
    _window(test, at("2026-05-23 03:00"), at("2026-05-23 03:00"), at("2026-05-23 04:00"),
            None, emergency=True, description="Correctif de sécurité urgent")
    defaced = fire("SiteDefaced", "critical", "vitrine", at("2026-05-26 09:30"),
                   category="security")
    test.bridge.notifier.wait()
    act("POST", incident_of(defaced), "ack", at("2026-05-26 09:45"))
    resolve(defaced, at("2026-05-26 11:00"))
    test.clock.now = AFTER_THE_MONTH
    test.bridge.service.refresh_statuses()
    return test


def _window(test: TestBridge, announced: dt.datetime, start: dt.datetime, end: dt.datetime,
            targets: list[str] | None, emergency: bool, description: str) -> None:
    """A window as the operators' API stores it (without the Alertmanager silence it also
    makes, which cannot be set in the past)."""
    test.clock.now = max(test.clock.now, announced)
    with test.bridge.db.write() as session:
        record_window(session, Maintenance(
            client=CLIENT, targets=targets, starts_at=start, ends_at=end,
            description=description, emergency=emergency, announced_at=announced,
            announced_by="alice"))


# --- Prometheus ---------------------------------------------------------------------------------

def month_history() -> History:
    """Per-minute availability of May 2026 as the recording rules would have written it."""
    start = dt.datetime(2026, 5, 1, tzinfo=PARIS).astimezone(dt.timezone.utc)
    end = dt.datetime(2026, 6, 1, tzinfo=PARIS).astimezone(dt.timezone.utc)
    history = History()
    for kind, target in (("site", "boutique"), ("site", "vitrine"), ("server", "web1")):
        history.add(f"client_{kind}:availability:ratio_1m",
                    {"client": CLIENT, kind: target, "month": MONTH},
                    _minutes(start, end, target))
    _facts(history, end - dt.timedelta(minutes=10))
    return history


def _minutes(start: dt.datetime, end: dt.datetime, target: str):
    minute = start + dt.timedelta(seconds=30)
    while minute < end:
        if not (target == "boutique" and PLANNED_WINDOW[0] <= minute < PLANNED_WINDOW[1]):
            down = any(o.target == target and o.start <= minute < o.end for o in OUTAGES)
            yield minute.timestamp(), 0.0 if down else 1.0
        minute += dt.timedelta(minutes=1)


def _facts(history: History, when: dt.datetime) -> None:
    """The probes' facts in the month's last hour, every five minutes."""
    times = [(when - dt.timedelta(minutes=5 * step)).timestamp() for step in range(6, -1, -1)]

    def fact(metric: str, value: float, **labels) -> None:
        history.add(metric, {"client": CLIENT, **labels}, [(t, value) for t in times])

    fact("owl_cms_info", 1, site="boutique", cms="wordpress", version="6.5.3", method="meta",
         confidence="high")
    fact("owl_cms_info", 1, site="vitrine", cms="drupal", version="10.2.6", method="header",
         confidence="high")
    fact("owl_cms_core_update_available", 1, site="boutique", cms="wordpress")
    fact("owl_cms_core_update_available", 0, site="vitrine", cms="drupal")
    fact("owl_cms_core_supported", 1, site="boutique", cms="wordpress")
    fact("owl_cms_core_supported", 1, site="vitrine", cms="drupal")
    fact("owl_cms_component_update_available", 1, site="boutique", type="plugin",
         name="woocommerce")
    fact("owl_cms_component_update_available", 1, site="boutique", type="plugin",
         name="contact-form-7")
    fact("owl_cms_vulnerability_info", 1, site="boutique", component="contact-form-7",
         id="CVE-2026-1234", severity="high", known_exploited="false")
    fact("owl_site_exposed_file", 1, site="vitrine", path="/CHANGELOG.txt")
    fact("owl_site_exposed_file", 0, site="boutique", path="/.env")
    backup = {"server": "web1", "backup": "files"}
    fact("owl_backup_last_snapshot_timestamp_seconds", when.timestamp() - 7200, **backup,
         tool="restic")
    fact("owl_backup_policy_period_seconds", 86400, **backup)
    fact("owl_backup_policy_grace_seconds", 7200, **backup)
    fact("owl_backup_last_check_timestamp_seconds", when.timestamp() - 3 * 86400, **backup,
         tool="restic")
    fact("owl_backup_check_success", 1, **backup, tool="restic")
    fact("owl_backup_policy_check_period_seconds", 7 * 86400, **backup)
    fact("owl_backup_last_restore_test_timestamp_seconds", when.timestamp() - 40 * 86400,
         **backup, tool="restic")
    fact("owl_backup_restore_test_success", 1, **backup, tool="restic")
    fact("owl_backup_policy_restore_test_period_seconds", 30 * 86400, **backup)
    fact("owl_shop_checkout_success", 1, site="boutique")
    fact("owl_shop_step_success", 1, site="boutique", platform="woocommerce", step="add_to_cart")
