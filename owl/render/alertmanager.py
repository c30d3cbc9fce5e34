"""``alertmanager/alertmanager.yml``: every alert to the SLA bridge, then on-call by severity.

Route tree, under a root that notifies nobody (receiver ``null``):

1. every alert -> ``owl-bridge``: webhook to the bridge's ``/api/v1/alerts`` with the bearer token
   read from a file, resolved alerts too, no batch limit; ``continue: true`` so routing goes on;
2. ``severity`` critical -> ``pager``, major -> ``phone-email``, minor -> ``ticket``, built from
   ``provider.receivers``; a channel that is not configured routes to ``null``;
3. anything else (the ``Watchdog``, severity ``none``) stays at the root: the bridge only.

Seams for what comes next: business-hours ``time_intervals`` (French holidays included) belong in
:func:`alertmanager_config` and are attached to on-call routes by :func:`severity_route`; routes
that keep suspended clients' alerts to the bridge only go in :func:`child_routes`, between the
bridge route and the severity routes.
"""

from __future__ import annotations

from owl.inventory import SEVERITIES, Inventory, Receiver, Receivers, Smtp
from owl.render.profile import Profile, host_port
from owl.render.serialize import to_yaml

CONFIG_PATH = "alertmanager/alertmanager.yml"
BRIDGE_RECEIVER = "owl-bridge"
BRIDGE_ALERTS_PATH = "/api/v1/alerts"
NULL_RECEIVER = "null"
# severity -> (receiver name, field of provider.receivers), section 5a of the contract
SEVERITY_CHANNELS = {
    "critical": ("pager", "pager"),
    "major": ("phone-email", "phone_email"),
    "minor": ("ticket", "ticket"),
}
GROUP_BY = ["client", "alertname", "site", "server"]
# How often on-call hears again of an alert that still fires.
REPEAT_INTERVALS = {"critical": "1h", "major": "4h", "minor": "24h"}


def render_alertmanager(inventory: Inventory, profile: Profile) -> dict[str, str]:
    return {CONFIG_PATH: to_yaml(alertmanager_config(inventory, profile))}


def alertmanager_config(inventory: Inventory, profile: Profile) -> dict:
    receivers = inventory.provider.receivers
    return {
        "global": smtp_settings(inventory.provider.smtp),
        "route": {
            "receiver": NULL_RECEIVER,
            "group_by": GROUP_BY,
            "group_wait": "30s",
            "group_interval": "5m",
            "repeat_interval": "4h",
            "routes": child_routes(receivers),
        },
        "inhibit_rules": inhibit_rules(),
        "receivers": [bridge_receiver(profile), *on_call_receivers(receivers),
                      {"name": NULL_RECEIVER}],
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


def child_routes(receivers: Receivers) -> list[dict]:
    return [bridge_route(), *(severity_route(severity, receivers) for severity in SEVERITIES)]


def bridge_route() -> dict:
    """Matches every alert; the bridge hears quickly and is re-sent firing alerts hourly."""
    return {"receiver": BRIDGE_RECEIVER, "continue": True, "group_wait": "5s",
            "group_interval": "1m", "repeat_interval": "1h"}


def severity_route(severity: str, receivers: Receivers) -> dict:
    return {"receiver": on_call_receiver_name(severity, receivers),
            "matchers": [f'severity="{severity}"'],
            "repeat_interval": REPEAT_INTERVALS[severity]}


def on_call_receiver_name(severity: str, receivers: Receivers) -> str:
    name, field = SEVERITY_CHANNELS[severity]
    return name if getattr(receivers, field) else NULL_RECEIVER


def inhibit_rules() -> list[dict]:
    """A server that does not answer also silences its node_exporter: one incident, not two."""
    return [{"source_matchers": ['alertname="ServerUnreachable"'],
             "target_matchers": ['alertname="TargetDown"'],
             "equal": ["client", "server"]}]


def bridge_receiver(profile: Profile) -> dict:
    url = f"http://{profile.bridge}{BRIDGE_ALERTS_PATH}"
    return {"name": BRIDGE_RECEIVER, "webhook_configs": [webhook(url, profile.bridge_token_file)]}


def on_call_receivers(receivers: Receivers) -> list[dict]:
    """One receiver per configured channel, in severity order."""
    return [on_call_receiver(name, getattr(receivers, field))
            for name, field in SEVERITY_CHANNELS.values() if getattr(receivers, field)]


def on_call_receiver(name: str, receiver: Receiver) -> dict:
    config = {"name": name}
    if receiver.email:
        config["email_configs"] = [{"to": receiver.email, "send_resolved": True}]
    if receiver.webhook_url:
        config["webhook_configs"] = [webhook(receiver.webhook_url, receiver.webhook_token_file)]
    return config


def webhook(url: str, token_file: str | None) -> dict:
    """A webhook sending whole groups, resolved alerts too, with a bearer token from a file."""
    config = {"url": url, "send_resolved": True, "max_alerts": 0}
    if token_file:
        config["http_config"] = {"authorization": {"credentials_file": token_file}}
    return config
