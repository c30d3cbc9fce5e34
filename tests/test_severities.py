"""The severities are stated once, in the engine (``sla_bridge.engine.alerts.SEVERITIES``).

The engine imports nothing of the project outside itself, and ``owl`` imports nothing of
``sla_bridge``: the inventory's per-severity sections and the alert routing's per-severity tables
cannot import the list, so these tests hold them to it.
"""

from __future__ import annotations

from alert_rules import WATCHDOG_ALERT
from owl.inventory import PenaltyRates, ResponseTimes
from owl.render.alertmanager import REPEAT_INTERVALS, SEVERITY_CHANNELS
from sla_bridge.engine import alerts
from sla_bridge.engine.alerts import SEVERITIES


def test_the_contract_gives_a_response_time_and_a_penalty_rate_for_each_severity_in_order():
    assert tuple(ResponseTimes.model_fields) == SEVERITIES
    assert tuple(PenaltyRates.model_fields) == SEVERITIES


def test_alertmanager_routes_each_severity_to_a_channel_with_a_repeat_interval():
    assert tuple(SEVERITY_CHANNELS) == SEVERITIES
    assert tuple(REPEAT_INTERVALS) == SEVERITIES


def test_the_engine_knows_the_watchdog_by_the_name_the_rules_give_it():
    assert alerts.WATCHDOG_ALERT == WATCHDOG_ALERT
