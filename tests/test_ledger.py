"""The monthly penalty ledger: rates, one global cap, exact decimals rounded half up."""

import datetime as dt
from decimal import Decimal as D
from zoneinfo import ZoneInfo

import pytest

from sla_bridge.engine.ledger import MONTH, Breach, build_ledger, money, month_bounds, month_of

UTC = dt.timezone.utc
T = dt.datetime(2025, 3, 3, 10, tzinfo=UTC)
RATES = {"critical": D("0.03"), "major": D("0.015"), "minor": D("0.005")}


def breaches(*severities):
    return [Breach(i + 1, s, T + dt.timedelta(hours=i), T + dt.timedelta(hours=i + 4), RATES[s])
            for i, s in enumerate(severities)]


def test_the_worked_example_is_capped_at_five_percent_with_an_adjustment_line():
    ledger = build_ledger("acme", "2025-03", "EUR", D("1200.00"), D("0.05"),
                          breaches("critical", "major", "major", "minor"))
    assert [(line.kind, line.rate, line.amount) for line in ledger.lines] == [
        ("breach", D("0.03"), D("36.00")),
        ("breach", D("0.015"), D("18.00")),
        ("breach", D("0.015"), D("18.00")),
        ("breach", D("0.005"), D("6.00")),
        ("cap_adjustment", D("-0.015"), D("-18.00")),
    ]
    assert ledger.rate_total == D("0.065")
    assert ledger.applied_rate == D("0.05")
    assert ledger.total == D("60.00")
    assert sum(line.amount for line in ledger.lines) == ledger.total


def test_under_the_cap_there_is_no_adjustment():
    ledger = build_ledger("acme", "2025-03", "EUR", D("1200.00"), D("0.05"),
                          breaches("major", "minor"))
    assert [line.kind for line in ledger.lines] == ["breach", "breach"]
    assert ledger.total == D("24.00")


def test_a_month_without_breaches_owes_nothing():
    ledger = build_ledger("acme", "2025-03", "EUR", D("1200.00"), D("0.05"), [])
    assert ledger.lines == () and ledger.total == D("0.00")


def test_exactly_at_the_cap_there_is_no_adjustment():
    ledger = build_ledger("acme", "2025-03", "EUR", D("1000.00"), D("0.05"),
                          breaches("critical", "major", "minor"))
    assert ledger.applied_rate == D("0.05") and ledger.total == D("50.00")
    assert "cap_adjustment" not in [line.kind for line in ledger.lines]


@pytest.mark.parametrize("amount, rounded", [
    (D("0.005"), D("0.01")),
    (D("2.675"), D("2.68")),  # a float would round this down
    (D("5.00005"), D("5.00")),
    (D("4.99995"), D("5.00")),
])
def test_amounts_round_half_up_to_the_cent(amount, rounded):
    assert money(amount) == rounded


def test_lines_add_up_to_the_total_even_when_rounding_each_line_differs():
    # 333.33 × 1.5 % = 4.99995 → 5.00 a line; 2 lines 10.00 = round(9.9999): no difference
    ledger = build_ledger("acme", "2025-03", "EUR", D("333.33"), D("0.05"),
                          breaches("major", "major"))
    assert sum(line.amount for line in ledger.lines) == ledger.total == D("10.00")
    ledger = build_ledger("acme", "2025-03", "EUR", D("111.11"), D("1"),
                          breaches("minor", "minor", "minor"))
    # each line 0.55555 → 0.56; total 1.66665 → 1.67; lines sum 1.68: one cent back
    assert ledger.lines[-1].kind == "rounding_adjustment"
    assert ledger.lines[-1].amount == D("-0.01")
    assert sum(line.amount for line in ledger.lines) == ledger.total == D("1.67")


def test_an_incident_belongs_to_the_month_of_its_clock_start_in_the_provider_timezone():
    paris = ZoneInfo("Europe/Paris")
    assert month_of(dt.datetime(2025, 3, 31, 22, 30, tzinfo=UTC), paris) == "2025-04"
    assert month_of(dt.datetime(2025, 3, 31, 21, 30, tzinfo=UTC), paris) == "2025-03"
    start, end = month_bounds("2025-03", paris)
    assert start == dt.datetime(2025, 2, 28, 23, tzinfo=UTC)
    assert end == dt.datetime(2025, 3, 31, 22, tzinfo=UTC)  # DST began on 30 March
    assert month_bounds("2025-12", paris)[1] == dt.datetime(2025, 12, 31, 23, tzinfo=UTC)


@pytest.mark.parametrize("text, is_month", [
    ("2025-03", True), ("2025-12", True),
    ("2025-13", False), ("2025-00", False), ("2025-3", False), ("2025-03-01", False)])
def test_a_month_is_written_yyyy_mm_as_month_of_writes_it(text, is_month):
    assert bool(MONTH.match(text)) is is_month
    if is_month:
        assert month_of(month_bounds(text, UTC)[0], UTC) == text
