"""Queries over every client stay valid past PostgreSQL's 65,535 bind parameters: the month's
ledgers select the month's rows, not an IN list of the inventory's clients (nor do the metrics'
counts of the month, sla_bridge/metrics.py, written the same way)."""

from __future__ import annotations

import dataclasses

from tests.support.bridge import alert, at

CLIENTS = 70_000  # more than PostgreSQL's 65,535 parameters in one statement


def with_many_more_clients(tb) -> None:
    """The bridge's terms grow by CLIENTS copies of globex's contract (tier 1, no incident)."""
    globex = tb.bridge.service.terms["globex"]
    tb.bridge.service.terms.update(
        {f"c{number}": dataclasses.replace(globex, client=f"c{number}")
         for number in range(CLIENTS)})


def test_every_client_s_ledger_of_the_month_comes_from_one_query_whatever_the_clients(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")))
    tb.clock.now = at("2025-03-07 14:00")  # past the 4-hour critical deadline
    with_many_more_clients(tb)
    ledgers = {ledger.client: ledger for ledger in tb.bridge.service.ledgers_of_month("2025-03")}
    assert len(ledgers) == CLIENTS + 2  # acme and globex; the tier-0 trial has no ledger
    assert [line.incident_id for line in ledgers["acme"].lines] == [1]
    assert not ledgers["c0"].lines

