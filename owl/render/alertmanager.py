"""``alertmanager/alertmanager.yml``: every alert to the SLA bridge, then on-call by contract.

Route tree, under a root that notifies nobody (receiver ``null``), alerts grouped by client and
target (``client``, ``site``, ``server``); the first matching route wins unless it says ``continue``:

1. every alert -> ``owl-bridge`` (webhook, bearer token from a file, resolved alerts too, at
   most ``BRIDGE_MAX_ALERTS`` a delivery); ``continue`` so that routing goes on;
2. ``Watchdog`` -> ``watchdog`` (an external dead man's switch, when configured), else nobody;
3. clients that are suspended, or no longer monitored on the render day (terminated, trial over):
   nobody (section 9: their notifications stop; the bridge still records);
4. ``critical`` of a client with ``support_24_7`` -> ``pager``, at any time;
   ``critical`` provider-internal (no ``client``) -> ``pager`` at any time too when some client
   has 24/7 support (a broken stack breaks their SLA), else in the provider's business hours;
5. per calendar (clients with their own opening hours first, the provider's calendar last, which
   also takes unknown clients and provider-internal alerts): ``critical`` -> ``pager``, ``major``
   -> ``phone-email``, ``minor`` -> ``ticket``, each *active* in ``business-hours[-x]`` and
   *muted* in ``public-holidays[-x]`` (owl.render.time_intervals). A notification held by these
   is sent at the first group flush once the route is active again, if the alert still fires.

A channel missing from ``provider.receivers`` routes to ``null``. Secrets stay in files: the
bridge's and webhooks' tokens (``credentials_file``) and the SMTP password
(``smtp_auth_password_file``). The on-call emails (pager, phone-email, ticket) are French, with a
link to the incident in the bridge's console, from the template file rendered beside
(owl.render.email_template); the watchdog's, which a dead man's switch reads, stay Alertmanager's.

Inhibition (it mutes every receiver, the bridge included: a consequence is not a second
incident; the muted alert is delivered if it still fires once its cause resolves):

- a ``critical`` client alert mutes the ``major`` and ``minor`` alerts of the same target
  (``client``, ``site``, ``server`` equal);
- ``SiteDown`` mutes the alerts of the CMS and shop areas (``alert_rules/cms.yml``,
  ``shop.yml``) of the same site, except security ones (``category="security"``);
- ``OwlExporterDown`` mutes the exporter's stale and failing probe alerts.
"""

from __future__ import annotations

import datetime as dt
import importlib.resources

import yaml

from alert_rules import WATCHDOG_ALERT
from owl.inventory import Client, Inventory, Receiver, Receivers, Smtp
from owl.render.email_template import TEMPLATE_REFERENCE, email_fields, render_email_template
from owl.render.profile import Profile, host_port
from owl.render.serialize import to_yaml
from owl.render.time_intervals import (CalendarGroup, HolidaySource, calendar_groups,
                                       public_holidays, time_intervals)

CONFIG_PATH = "alertmanager/alertmanager.yml"
BRIDGE_RECEIVER = "owl-bridge"
BRIDGE_ALERTS_PATH = "/api/v1/alerts"
NULL_RECEIVER = "null"
WATCHDOG_RECEIVER = "watchdog"
# severity -> (receiver name, field of provider.receivers), section 5a of the contract
SEVERITY_CHANNELS = {
    "critical": ("pager", "pager"),
    "major": ("phone-email", "phone_email"),
    "minor": ("ticket", "ticket"),
}
GROUP_BY = ["client", "site", "server"]
# How often on-call hears again of an alert that still fires.
REPEAT_INTERVALS = {"critical": "1h", "major": "4h", "minor": "24h"}
# Alert rule files whose alerts depend on the site answering: SiteDown mutes them.
SITE_DEPENDENT_AREAS = ("cms.yml", "shop.yml")
EXPORTER_PROBE_ALERTS = ("OwlProbeStale", "OwlProbeFailing", "OwlExporterSilent")
# The most alerts of one group sent to the bridge in one delivery: their body stays under the
# bridge's limit (sla_bridge.api.alerts.MAX_BODY_BYTES, 4 KiB an alert), which the bridge cannot
# import from here; tests/test_delivery_limits.py holds the two together. Alertmanager leaves the
# rest of a larger group out (truncatedAlerts) and the bridge fetches them from its API, rather
# than the whole group being refused as too large, which Alertmanager would not retry.
BRIDGE_MAX_ALERTS = 8_000


def render_alertmanager(inventory: Inventory, profile: Profile, today: dt.date,
                        holidays: HolidaySource = public_holidays) -> dict[str, str]:
    """alertmanager.yml (first), then the email template it names."""
    return {CONFIG_PATH: to_yaml(alertmanager_config(inventory, profile, today, holidays)),
            **render_email_template(inventory, notified_clients(inventory, today))}


def alertmanager_config(inventory: Inventory, profile: Profile, today: dt.date,
                        holidays: HolidaySource = public_holidays) -> dict:
    """The whole configuration; ``holidays`` for the years ``today.year`` and the next."""
    receivers = inventory.provider.receivers
    notified = notified_clients(inventory, today)
    groups = calendar_groups(inventory, notified)
    return {
        "global": smtp_settings(inventory.provider.smtp),
        "templates": [TEMPLATE_REFERENCE],
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": GROUP_BY,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": child_routes(inventory, today, groups),
        },
        "inhibit_rules": inhibit_rules(),
        "receivers": [bridge_receiver(profile), *on_call_receivers(receivers),
                      {"name": NULL_RECEIVER}],
        "time_intervals": time_intervals(groups, [today.year, today.year + 1], holidays),
    }


def smtp_settings(smtp: Smtp) -> dict:
    """How email leaves; the password stays in its file (``smtp_auth_password_file``)."""
    settings = {
        "smtp_smarthost": host_port(smtp.host, smtp.port),
        "smtp_from": smtp.sender,
        "smtp_require_tls": smtp.starttls,
    }
    if smtp.username:
        settings["smtp_auth_username"] = smtp.username
    if smtp.password_file:
        settings["smtp_auth_password_file"] = smtp.password_file
    return settings


# --- who is notified ------------------------------------------------------------------------

def notified_clients(inventory: Inventory, today: dt.date) -> list[Client]:
    """Clients whose on-call notifications go out: monitored on ``today`` and not suspended."""
    return [client for client in inventory.monitored_clients(today)
            if client.contract.status != "suspended"]


def silent_clients(inventory: Inventory, today: dt.date) -> list[str]:
    """Suspended clients and clients no longer monitored: the bridge hears of them, nobody else."""
    notified = {client.id for client in notified_clients(inventory, today)}
    return [client.id for client in inventory.clients if client.id not in notified]


def client_matcher(client_ids: list[str]) -> str:
    """``client=~"a|b"``: ids are ``[a-z0-9_-]``, nothing to escape."""
    return f'client=~"{"|".join(client_ids)}"'


# --- routes ---------------------------------------------------------------------------------

def child_routes(inventory: Inventory, today: dt.date, groups: list[CalendarGroup]) -> list[dict]:
    receivers = inventory.provider.receivers
    routes = [bridge_route(), watchdog_route(receivers)]
    silent = silent_clients(inventory, today)
    if silent:
        routes.append({"receiver": NULL_RECEIVER, "matchers": [client_matcher(silent)]})
    routes.extend(round_the_clock_routes(inventory, today, receivers))
    routes.extend(business_hours_route(group, receivers) for group in groups)
    return routes


def bridge_route() -> dict:
    """Matches every alert; the bridge hears quickly and is re-sent firing alerts hourly."""
    return {"receiver": BRIDGE_RECEIVER, "continue": True, "group_wait": "5s",
            "group_interval": "1m", "repeat_interval": "1h"}


def watchdog_route(receivers: Receivers) -> dict:
    """The always-firing Watchdog, repeated every minute to a dead man's switch."""
    return {"receiver": WATCHDOG_RECEIVER if receivers.watchdog else NULL_RECEIVER,
            "matchers": [f'alertname="{WATCHDOG_ALERT}"'],
            "group_wait": "0s", "group_interval": "1m", "repeat_interval": "1m"}


def round_the_clock_routes(inventory: Inventory, today: dt.date,
                           receivers: Receivers) -> list[dict]:
    """Critical alerts paged at any time: 24/7 clients', and the provider's own if any."""
    always = [client.id for client in notified_clients(inventory, today)
              if client.contract.support_24_7]
    if not always:
        return []
    pager = on_call_receiver_name("critical", receivers)
    return [
        {"receiver": pager, "matchers": ['severity="critical"', client_matcher(always)],
         "repeat_interval": REPEAT_INTERVALS["critical"]},
        {"receiver": pager, "matchers": ['severity="critical"', 'client=""'],
         "repeat_interval": REPEAT_INTERVALS["critical"]},
    ]


def business_hours_route(group: CalendarGroup, receivers: Receivers) -> dict:
    """The clients of one calendar (everyone else for the provider's): on-call by severity, in
    business hours only."""
    route = {"receiver": NULL_RECEIVER, "matchers": [f'severity=~"{"|".join(SEVERITY_CHANNELS)}"']}
    if not group.is_provider_calendar:
        route["matchers"].append(client_matcher(group.clients))
    route["routes"] = [severity_route(severity, receivers, group) for severity in SEVERITY_CHANNELS]
    return route


def severity_route(severity: str, receivers: Receivers, group: CalendarGroup) -> dict:
    return {"receiver": on_call_receiver_name(severity, receivers),
            "matchers": [f'severity="{severity}"'],
            "repeat_interval": REPEAT_INTERVALS[severity],
            "active_time_intervals": [group.business_hours],
            "mute_time_intervals": [group.public_holidays]}


def on_call_receiver_name(severity: str, receivers: Receivers) -> str:
    name, field = SEVERITY_CHANNELS[severity]
    return name if getattr(receivers, field) else NULL_RECEIVER


# --- inhibition -----------------------------------------------------------------------------

def inhibit_rules() -> list[dict]:
    return [
        {"source_matchers": ['severity="critical"', 'client=~".+"'],
         "target_matchers": ['severity=~"major|minor"'],
         "equal": ["client", "site", "server"]},
        {"source_matchers": ['alertname="SiteDown"'],
         "target_matchers": [f'alertname=~"{"|".join(site_dependent_alerts())}"',
                             'category!="security"'],
         "equal": ["client", "site"]},
        {"source_matchers": ['alertname="OwlExporterDown"'],
         "target_matchers": [f'alertname=~"{"|".join(EXPORTER_PROBE_ALERTS)}"']},
    ]


def site_dependent_alerts() -> list[str]:
    """The alert names of the CMS and shop rule files of the ``alert_rules`` package."""
    source = importlib.resources.files("alert_rules")
    names = []
    for area in SITE_DEPENDENT_AREAS:
        document = yaml.safe_load(source.joinpath(area).read_text(encoding="utf-8"))
        names.extend(rule["alert"] for group in document["groups"] for rule in group["rules"]
                     if "alert" in rule)
    return names


# --- receivers ------------------------------------------------------------------------------

def bridge_receiver(profile: Profile) -> dict:
    url = f"http://{profile.bridge}{BRIDGE_ALERTS_PATH}"
    return {"name": BRIDGE_RECEIVER,
            "webhook_configs": [webhook(url, profile.bridge_token_file, BRIDGE_MAX_ALERTS)]}


def on_call_receivers(receivers: Receivers) -> list[dict]:
    """One receiver per configured channel, in severity order, then the watchdog's."""
    configured = [on_call_receiver(name, getattr(receivers, field), email_fields())
                  for name, field in SEVERITY_CHANNELS.values() if getattr(receivers, field)]
    if receivers.watchdog:
        configured.append(on_call_receiver(WATCHDOG_RECEIVER, receivers.watchdog))
    return configured


def on_call_receiver(name: str, receiver: Receiver, email: dict | None = None) -> dict:
    """``email``: the subject, HTML and text of its emails, else Alertmanager's."""
    config = {"name": name}
    if receiver.email:
        config["email_configs"] = [{"to": receiver.email, "send_resolved": True, **(email or {})}]
    if receiver.webhook_url:
        config["webhook_configs"] = [webhook(receiver.webhook_url, receiver.webhook_token_file)]
    return config


def webhook(url: str, token_file: str | None, max_alerts: int = 0) -> dict:
    """A webhook sending groups (whole ones unless ``max_alerts``), resolved alerts too, with a
    bearer token from a file."""
    config = {"url": url, "send_resolved": True, "max_alerts": max_alerts}
    if token_file:
        config["http_config"] = {"authorization": {"credentials_file": token_file}}
    return config
