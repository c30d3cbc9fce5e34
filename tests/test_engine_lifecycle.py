"""The pure lifecycle: what each notice does, and each SLA status as a function of timestamps."""

import datetime as dt
from dataclasses import dataclass

import pytest

from sla_bridge.engine.alerts import AlertNotice
from sla_bridge.engine.lifecycle import Action, decide, sla_status, status_as_of

UTC = dt.timezone.utc
T0 = dt.datetime(2025, 3, 10, 9, 0, tzinfo=UTC)
M = dt.timedelta(minutes=1)
WINDOW = 30 * M


def t(minutes: int) -> dt.datetime:
    return T0 + minutes * M


@dataclass
class Seen:
    last_starts_at: dt.datetime
    resolved_at: dt.datetime | None = None


def notice(status: str, starts: int, ends: int | None = None) -> AlertNotice:
    return AlertNotice("fp", status, t(starts), t(ends) if ends is not None else None,
                       received_at=t(200))


@pytest.mark.parametrize("name, incoming, latest, expected", [
    ("a first firing creates an incident", notice("firing", 0), None, Action.CREATE),
    ("a resolved alert never seen firing creates a resolved incident",
     notice("resolved", 0, 10), None, Action.CREATE_RESOLVED),
    ("a redelivered firing is a duplicate", notice("firing", 0), Seen(t(0)), Action.DUPLICATE),
    ("a firing with a later start while still open is the same incident",
     notice("firing", 5), Seen(t(0)), Action.DUPLICATE),
    ("a resolution of the open episode resolves it", notice("resolved", 0, 10), Seen(t(0)),
     Action.RESOLVE),
    ("a redelivered resolution is a duplicate", notice("resolved", 0, 10), Seen(t(0), t(10)),
     Action.DUPLICATE),
    ("a late firing of an already resolved episode is a duplicate",
     notice("firing", 0), Seen(t(0), t(10)), Action.DUPLICATE),
    ("news of an earlier episode is a duplicate", notice("resolved", 0, 10),
     Seen(t(60), None), Action.DUPLICATE),
    ("a resolution starting earlier but ending after the open episode began resolves it: "
     "another Prometheus replica fired it an evaluation sooner", notice("resolved", -1, 10),
     Seen(t(0)), Action.RESOLVE),
    ("an earlier start ending exactly when the open episode began is an earlier episode",
     notice("resolved", -5, 0), Seen(t(0)), Action.DUPLICATE),
    ("a resolution starting earlier of an episode already resolved is a duplicate",
     notice("resolved", -1, 12), Seen(t(0), t(10)), Action.DUPLICATE),
    ("a refiring inside the reopen window reopens", notice("firing", 40), Seen(t(0), t(10)),
     Action.REOPEN),
    ("a refiring exactly at the end of the window reopens", notice("firing", 40),
     Seen(t(0), t(10)), Action.REOPEN),
    ("a refiring after the window is a new incident", notice("firing", 41),
     Seen(t(0), t(10)), Action.CREATE),
    ("an unseen episode inside the window reopens and resolves", notice("resolved", 20, 25),
     Seen(t(0), t(10)), Action.REOPEN_RESOLVED),
    ("an unseen episode after the window is a new resolved incident",
     notice("resolved", 100, 110), Seen(t(0), t(10)), Action.CREATE_RESOLVED),
])
def test_decide(name, incoming, latest, expected):
    assert decide(incoming, latest, WINDOW) is expected, name


def test_a_start_in_the_future_is_clamped_to_the_receipt_time():
    skewed = AlertNotice("fp", "firing", t(10), None, received_at=t(5))
    assert skewed.clock_start == t(5)
    historical = AlertNotice("fp", "firing", t(-5000), None, received_at=t(5))
    assert historical.clock_start == t(-5000)


DEADLINE = t(240)


@pytest.mark.parametrize("name, basis, excluded, ack, resolved, now, expected", [
    ("unacknowledged before the deadline is pending", "tracked", False, None, None, t(100),
     "pending"),
    ("acknowledged before the deadline is met", "tracked", False, t(30), None, t(300), "met"),
    ("acknowledged exactly at the deadline is met", "tracked", False, t(240), None, t(300),
     "met"),
    ("unacknowledged exactly at the deadline is still pending", "tracked", False, None, None,
     t(240), "pending"),
    ("unacknowledged past the deadline is breached", "tracked", False, None, None, t(241),
     "breached"),
    ("acknowledged after the deadline is breached", "tracked", False, t(250), None, t(250),
     "breached"),
    ("resolved before the deadline without response", "tracked", False, None, t(100), t(500),
     "resolved_without_response"),
    ("a late resolution whose end is before the deadline corrects a breach", "tracked", False,
     None, t(200), t(900), "resolved_without_response"),
    ("resolved after the deadline without response stays breached", "tracked", False, None,
     t(300), t(900), "breached"),
    ("acknowledged in time and resolved is met", "tracked", False, t(10), t(20), t(900), "met"),
    ("an excluded incident is excluded", "tracked", True, None, None, t(900), "excluded"),
    ("a provider-internal incident has no SLA", "no_sla", False, None, None, t(900), "no_sla"),
    ("an incident in a planned window is maintenance", "maintenance", False, None, None,
     t(900), "maintenance"),
    ("an incident while suspended is suspended", "suspended", True, None, None, t(900),
     "suspended"),
])
def test_sla_status(name, basis, excluded, ack, resolved, now, expected):
    deadline = DEADLINE if basis != "no_sla" else None
    assert sla_status(basis, excluded, deadline, ack, resolved, now) == expected, name


@pytest.mark.parametrize("name, status, now, expected", [
    ("a pending incident is still pending at its deadline", "pending", t(240), "pending"),
    ("a pending incident past its deadline is breached", "pending", t(241), "breached"),
    ("a met incident stays met past its deadline", "met", t(900), "met"),
    ("an incident without response stays so past its deadline", "resolved_without_response",
     t(900), "resolved_without_response"),
    ("an excluded incident stays excluded past its deadline", "excluded", t(900), "excluded"),
])
def test_a_status_decided_earlier_as_of_a_later_time(name, status, now, expected):
    assert status_as_of(status, DEADLINE, now) == expected, name


def test_an_incident_without_a_deadline_keeps_its_status():
    assert status_as_of("no_sla", None, t(900)) == "no_sla"


def window(targets, emergency=False, announced=-72 * 60, start=0, end=120, cancelled=None):
    from sla_bridge.engine.maintenance import MaintenanceWindow

    return MaintenanceWindow(1, "acme", targets, t(start), t(end), emergency, t(announced),
                             t(cancelled) if cancelled is not None else None)


@pytest.mark.parametrize("name, w, labels, at, covered", [
    ("a planned window on all targets covers any of them", window(None),
     {"site": "shop"}, 10, True),
    ("a window on a server covers an alert naming that server and a site", window(("web1",)),
     {"site": "shop", "server": "web1"}, 10, True),
    ("a window on another target does not cover", window(("web2",)), {"site": "shop"}, 10,
     False),
    ("an emergency window never covers", window(None, emergency=True), {"site": "shop"}, 10,
     False),
    ("a window announced 47 h ahead does not cover", window(None, announced=-47 * 60),
     {"site": "shop"}, 10, False),
    ("a window announced exactly 48 h ahead covers", window(None, announced=-48 * 60),
     {"site": "shop"}, 10, True),
    ("the start of a window is inside it", window(None), {"site": "shop"}, 0, True),
    ("the end of a window is outside it", window(None), {"site": "shop"}, 120, False),
    ("a cancelled window ends when cancelled", window(None, cancelled=30), {"site": "shop"},
     30, False),
])
def test_maintenance_coverage(name, w, labels, at, covered):
    notice = AlertNotice("fp", "firing", t(at), None, t(at), {"client": "acme", **labels})
    assert w.covers("acme", notice.targets, t(at)) is covered, name


@pytest.mark.parametrize("name, w, client, targets, taken_in", [
    ("a window on all targets takes in any of its client's", window(None), "acme", ("shop",),
     True),
    ("a window on all targets takes in an alert naming none", window(None), "acme", (), True),
    ("a window takes in an alert naming one of its targets", window(("web1",)), "acme",
     ("shop", "web1"), True),
    ("a window on other targets does not take in the alert", window(("web1",)), "acme",
     ("shop",), False),
    ("a window on some targets does not take in an alert naming none", window(("web1",)),
     "acme", (), False),
    ("a window never takes in another client's targets", window(None), "globex", ("shop",),
     False),
    ("an emergency window takes in its targets all the same", window(None, emergency=True),
     "acme", ("shop",), True),
])
def test_which_targets_a_window_takes_in_whether_planned_or_not(name, w, client, targets,
                                                                 taken_in):
    assert w.takes_in(client, targets) is taken_in, name


def test_a_cancelled_window_ends_when_it_was_cancelled():
    assert window(None, end=120, cancelled=30).end == t(30)
    assert window(None, end=120).end == t(120)
