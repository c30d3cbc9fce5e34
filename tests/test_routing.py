"""Alertmanager routing as rendered from the inventory, checked with the real ``amtool``.

``amtool config routes test`` says which receivers an alert reaches, and ``--tree`` which route
took it: the round-the-clock pager route, a business-hours route (active in business hours, muted
on public holidays), or the bridge-only route of suspended and ended contracts. Time intervals
themselves are not evaluated by amtool: tests/test_routing_live.py runs a real Alertmanager.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from owl.inventory import parse_inventory
from owl.render.alertmanager import render_alertmanager
from owl.render.profile import build_profile
from owl.render.time_intervals import (calendar_groups, holiday_dates, opening_hours,
                                       public_holidays, weekday_runs)
from tests.test_render import check

TODAY = dt.date(2025, 7, 15)
INVENTORY = """
provider:
  name: OWL SYSTEMS
  receivers:
    pager: {webhook_url: "https://sms-gateway.example/alert", webhook_token_file: /run/secrets/pager}
    phone_email: {email: astreinte@owl-systems.example}
    ticket: {email: support@owl-systems.example}
clients:
  - {id: allday, name: All Day, contract: {tier: 3, monthly_fee: "900.00", support_24_7: true,
     quote: Q1, start: 2025-01-01}}
  - {id: office, name: Office, contract: {tier: 2, monthly_fee: "500.00", quote: Q2,
     start: 2025-01-01}}
  - {id: allday-suspended, name: All Day Suspended, contract: {tier: 3, monthly_fee: "900.00",
     support_24_7: true, quote: Q3, start: 2025-01-01, status: suspended,
     suspended_since: 2025-07-01}}
  - {id: office-suspended, name: Office Suspended, contract: {tier: 1, monthly_fee: "300.00",
     quote: Q4, start: 2025-01-01, status: suspended, suspended_since: 2025-07-01}}
  - {id: lapsed, name: Lapsed Trial, contract: {tier: 0, monthly_fee: "0.00", quote: Q5,
     start: 2025-05-10, status: trial}}
  - {id: gone, name: Gone, contract: {tier: 1, monthly_fee: "300.00", quote: Q6,
     start: 2024-01-01, status: terminated, terminated_on: 2025-06-30}}
  - {id: atelier, name: Atelier, contract: {tier: 1, monthly_fee: "300.00", quote: Q7,
     start: 2025-01-01, calendar: {hours: {tue-sat: "10:00-19:00"},
                                   holidays: {subdivision: "57"}}}}
"""
CHANNELS = {"critical": "pager", "major": "phone-email", "minor": "ticket"}


@pytest.fixture(scope="module")
def config_file(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("routing")
    inventory = parse_inventory(INVENTORY)
    profile = build_profile("local", inventory.provider.stack, out, out / "token")
    for relative, text in render_alertmanager(inventory, profile, TODAY).items():
        (out / relative).parent.mkdir(parents=True, exist_ok=True)
        (out / relative).write_text(text, encoding="utf-8")
    return out / "alertmanager" / "alertmanager.yml"


def route(config_file: Path, **labels: str) -> tuple[str, str]:
    """(receivers, how): how = "any time", "business hours" or "bridge only"."""
    output = check("amtool", "config", "routes", "test", f"--config.file={config_file}",
                   "--tree", *(f"{name}={value}" for name, value in labels.items()))
    tree, receivers = output.split("\n\n\n")
    leaf = tree.splitlines()[-1]
    if leaf.endswith("receiver: null") or leaf.endswith("receiver: owl-bridge"):
        how = "bridge only"
    elif 'severity=~"critical|major|minor"' in tree:
        how = "business hours"
    else:
        how = "any time"
    return receivers.splitlines()[0], how


CASES = [
    (severity, client, expected)
    for severity in ("critical", "major", "minor")
    for client, expected in (
        ("allday", ("owl-bridge,pager", "any time") if severity == "critical"
         else (f"owl-bridge,{CHANNELS[severity]}", "business hours")),
        ("office", (f"owl-bridge,{CHANNELS[severity]}", "business hours")),
        ("allday-suspended", ("owl-bridge,null", "bridge only")),
        ("office-suspended", ("owl-bridge,null", "bridge only")),
    )
]


def sentence(severity: str, client: str, expected: tuple[str, str]) -> str:
    who = {"allday": "a 24/7 client", "office": "a business-hours client",
           "allday-suspended": "a suspended 24/7 client",
           "office-suspended": "a suspended business-hours client"}[client]
    receivers, how = expected
    return f"a {severity} alert of {who} reaches {receivers.replace(',', ' and ')} {how}"


@pytest.mark.parametrize("severity, client, expected", CASES,
                         ids=[sentence(*case) for case in CASES])
def test_each_severity_for_24_7_or_not_suspended_or_not(config_file, severity, client, expected):
    assert route(config_file, alertname="SiteDown", client=client, site="www",
                 severity=severity) == expected


@pytest.mark.parametrize("labels, expected", [
    ({"client": "lapsed", "severity": "critical"}, ("owl-bridge,null", "bridge only")),
    ({"client": "gone", "severity": "major"}, ("owl-bridge,null", "bridge only")),
    ({"client": "atelier", "severity": "critical"}, ("owl-bridge,pager", "business hours")),
    ({"client": "unknown", "severity": "critical"}, ("owl-bridge,pager", "business hours")),
    ({"severity": "critical"}, ("owl-bridge,pager", "any time")),
    ({"severity": "minor"}, ("owl-bridge,ticket", "business hours")),
    ({"alertname": "Watchdog", "severity": "none"}, ("owl-bridge,null", "bridge only")),
    ({"client": "office", "severity": "none"}, ("owl-bridge", "bridge only")),
], ids=[
    "an ended trial's alert reaches only the bridge",
    "a terminated client's alert reaches only the bridge",
    "a client with its own calendar is paged in its own business hours",
    "an unknown client's critical alert is paged in the provider's business hours",
    "a provider-internal critical alert pages at any time when some client has 24/7 support",
    "a provider-internal minor alert is a ticket in business hours",
    "the Watchdog reaches the bridge, and nobody else without a dead man's switch",
    "an alert without a known severity reaches only the bridge",
])
def test_other_alerts(config_file, labels, expected):
    assert route(config_file, **{"alertname": "X", **labels}) == expected


def test_without_24_7_clients_provider_internal_criticals_wait_for_business_hours(tmp_path):
    text = INVENTORY.replace("support_24_7: true", "support_24_7: false")
    inventory = parse_inventory(text)
    profile = build_profile("local", inventory.provider.stack, tmp_path, tmp_path / "token")
    config = tmp_path / "alertmanager.yml"
    config.write_text(next(iter(render_alertmanager(inventory, profile, TODAY).values())))
    assert route(config, alertname="OwlBridgeDown", severity="critical") == \
        ("owl-bridge,pager", "business hours")


def test_the_watchdog_goes_to_the_dead_mans_switch_every_minute(tmp_path):
    text = INVENTORY.replace("    ticket:", "    watchdog: {webhook_url: \"https://hc.example/p\"}\n"
                             "    ticket:")
    inventory = parse_inventory(text)
    profile = build_profile("local", inventory.provider.stack, tmp_path, tmp_path / "token")
    config = tmp_path / "alertmanager.yml"
    config.write_text(next(iter(render_alertmanager(inventory, profile, TODAY).values())))
    assert route(config, alertname="Watchdog", severity="none") == \
        ("owl-bridge,watchdog", "any time")
    watchdog = yaml.safe_load(config.read_text())["route"]["routes"][1]
    assert (watchdog["receiver"], watchdog["repeat_interval"]) == ("watchdog", "1m")


# --- the shape of the tree and its time intervals --------------------------------------------

def on_call_routes(config: dict) -> list[dict]:
    return [child for top in config["route"]["routes"] for child in [top, *top.get("routes", [])]
            if child["receiver"] in CHANNELS.values()]


def test_only_the_round_the_clock_routes_page_outside_business_hours_and_on_holidays(config_file):
    config = yaml.safe_load(config_file.read_text())
    intervals = {interval["name"] for interval in config["time_intervals"]}
    assert intervals == {"business-hours", "public-holidays", "business-hours-atelier",
                         "public-holidays-atelier"}
    round_the_clock = []
    for child in on_call_routes(config):
        if "active_time_intervals" not in child:
            round_the_clock.append(child["matchers"])
            continue
        [active], [muted] = child["active_time_intervals"], child["mute_time_intervals"]
        assert active.replace("business-hours", "public-holidays") == muted
        assert {active, muted} <= intervals
    assert round_the_clock == [['severity="critical"', 'client=~"allday"'],
                               ['severity="critical"', 'client=""']]


def test_business_hours_are_weekdays_and_times_in_the_calendar_s_timezone(config_file):
    intervals = {interval["name"]: interval["time_intervals"]
                 for interval in yaml.safe_load(config_file.read_text())["time_intervals"]}
    assert intervals["business-hours"] == [
        {"weekdays": ["monday:friday"], "times": [{"start_time": "09:00", "end_time": "18:00"}],
         "location": "Europe/Paris"}]
    assert intervals["business-hours-atelier"] == [
        {"weekdays": ["tuesday:saturday"], "times": [{"start_time": "10:00", "end_time": "19:00"}],
         "location": "Europe/Paris"}]


def test_public_holidays_of_this_year_and_the_next_are_explicit_dates(config_file):
    intervals = {interval["name"]: interval["time_intervals"]
                 for interval in yaml.safe_load(config_file.read_text())["time_intervals"]}
    days = [(entry["years"], entry["months"], entry["days_of_month"], entry["location"])
            for entry in intervals["public-holidays"]]
    assert len(days) == 22  # 11 public holidays a year in France
    assert days[0] == (["2025"], ["january"], ["1"], "Europe/Paris")
    assert (["2025"], ["july"], ["14"], "Europe/Paris") in days
    assert (["2026"], ["may"], ["14"], "Europe/Paris") in days  # Ascension Day 2026
    assert days[-1] == (["2026"], ["december"], ["25"], "Europe/Paris")
    # Moselle adds Good Friday and St Stephen's Day
    moselle = [(entry["months"], entry["days_of_month"])
               for entry in intervals["public-holidays-atelier"] if entry["years"] == ["2025"]]
    assert (["april"], ["18"]) in moselle and (["december"], ["26"]) in moselle
    assert len(moselle) == 13


@pytest.mark.parametrize("hours, expected", [
    ({"mon-fri": "09:00-18:00"},
     [(["monday:friday"], [("09:00", "18:00")])]),
    ({"mon-fri": "09:00-12:00,14:00-18:00", "sat": "09:00-12:00"},
     [(["monday:friday"], [("09:00", "12:00"), ("14:00", "18:00")]),
      (["saturday"], [("09:00", "12:00")])]),
    ({"mon,wed,fri": "08:00-24:00", "sun": "08:00-24:00"},
     [(["sunday:monday", "wednesday", "friday"], [("08:00", "24:00")])]),
    ({"mon-sun": "00:00-24:00"},
     [(["sunday:saturday"], [("00:00", "24:00")])]),
    ({"fri-sun": "10:00-16:00"},
     [(["sunday", "friday:saturday"], [("10:00", "16:00")])]),
], ids=["weekdays nine to six", "a lunch break and Saturday mornings",
        "days apart that share their hours, until midnight", "always open",
        "a weekend that wraps around Alertmanager's Sunday-first week"])
def test_opening_hours_become_weekday_ranges_and_times_alertmanager_accepts(hours, expected,
                                                                           tmp_path):
    entries = opening_hours(hours, "Europe/Paris")
    assert [(entry["weekdays"], [(t["start_time"], t["end_time"]) for t in entry["times"]])
            for entry in entries] == expected
    assert {entry["location"] for entry in entries} == {"Europe/Paris"}
    config = tmp_path / "alertmanager.yml"
    config.write_text(yaml.safe_dump({
        "route": {"receiver": "null", "routes": [{"receiver": "null",
                                                   "active_time_intervals": ["open"]}]},
        "receivers": [{"name": "null"}],
        "time_intervals": [{"name": "open", "time_intervals": entries}]}))
    check("amtool", "check-config", str(config))


def test_weekday_runs_join_consecutive_days_in_a_week_that_starts_on_sunday():
    assert weekday_runs([0, 1, 2, 4, 5, 6]) == ["sunday:wednesday", "friday:saturday"]


def test_holiday_dates_are_whole_local_days():
    assert holiday_dates([dt.date(2026, 5, 14), dt.date(2025, 12, 25)], "Europe/Paris") == [
        {"years": ["2025"], "months": ["december"], "days_of_month": ["25"],
         "location": "Europe/Paris"},
        {"years": ["2026"], "months": ["may"], "days_of_month": ["14"],
         "location": "Europe/Paris"}]


def test_public_holidays_come_from_the_holidays_library():
    assert dt.date(2025, 7, 14) in public_holidays("FR", None, [2025])
    assert dt.date(2025, 12, 26) not in public_holidays("FR", None, [2025])
    assert dt.date(2025, 12, 26) in public_holidays("FR", "57", [2025])


def test_clients_share_a_calendar_group_when_their_calendars_match():
    inventory = parse_inventory(INVENTORY)
    groups = calendar_groups(inventory, inventory.clients)
    assert [(group.suffix, group.clients) for group in groups] == [
        ("-atelier", ["atelier"]),
        ("", ["allday", "office", "allday-suspended", "office-suspended", "lapsed", "gone"])]


def test_inhibition_rules(config_file):
    rules = yaml.safe_load(config_file.read_text())["inhibit_rules"]
    critical, site_down, exporter_down = rules
    assert critical == {"source_matchers": ['severity="critical"', 'client=~".+"'],
                        "target_matchers": ['severity=~"major|minor"'],
                        "equal": ["client", "site", "server"]}
    assert site_down["source_matchers"] == ['alertname="SiteDown"']
    names = site_down["target_matchers"][0].removeprefix('alertname=~"').removesuffix('"')
    assert {"CmsVulnerable", "CmsKnownExploitedVulnerability", "ShopCheckoutBroken",
            "ShopPaymentProviderDown", "SiteExposedSensitiveFile"} <= set(names.split("|"))
    assert "SiteSlow" not in names.split("|") and "DomainExpiring" not in names.split("|")
    assert site_down["target_matchers"][1] == 'category!="security"'
    assert site_down["equal"] == ["client", "site"]
    assert exporter_down["source_matchers"] == ['alertname="OwlExporterDown"']


def test_secrets_stay_in_files(config_file):
    config = yaml.safe_load(config_file.read_text())
    pager = next(r for r in config["receivers"] if r["name"] == "pager")
    assert pager["webhook_configs"][0]["http_config"] == {
        "authorization": {"credentials_file": "/run/secrets/pager"}}
    assert "credentials:" not in config_file.read_text()
