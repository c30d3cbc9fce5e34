"""How an alert notice changes incidents, and which SLA status an incident has.

Statuses are functions of timestamps (clock start, deadline, acknowledgement, resolution) and of
``now``; news that arrives late corrects them. Every decision here is pure.
"""

from __future__ import annotations

import datetime as dt
import enum
from decimal import Decimal
from typing import Protocol

from sla_bridge.engine.alerts import SEVERITIES, AlertNotice
from sla_bridge.engine.maintenance import MaintenanceWindow, covering_window
from sla_bridge.engine.terms import ClientTerms

DEFAULT_REOPEN_WINDOW = dt.timedelta(minutes=30)

# SLA statuses (docs/sla-rules.md, sections 3 and 4): tracked incidents move through the first four.
PENDING, MET, BREACHED, WITHOUT_RESPONSE = "pending", "met", "breached", \
    "resolved_without_response"
NO_SLA, MAINTENANCE, EXCLUDED, SUSPENDED = "no_sla", "maintenance", "excluded", "suspended"
TRACKED = "tracked"  # basis of an incident whose status is computed from its timestamps
SLA_STATUSES = (PENDING, MET, BREACHED, WITHOUT_RESPONSE, NO_SLA, MAINTENANCE, EXCLUDED,
                SUSPENDED)
STATES = ("open", "acknowledged", "resolved")


class Action(enum.Enum):
    CREATE = "create"
    CREATE_RESOLVED = "create_resolved"
    RESOLVE = "resolve"
    REOPEN = "reopen"
    REOPEN_RESOLVED = "reopen_resolved"
    DUPLICATE = "duplicate"


class IncidentView(Protocol):
    """What the lifecycle needs to know of the latest incident of a fingerprint."""

    last_starts_at: dt.datetime
    resolved_at: dt.datetime | None


def decide(notice: AlertNotice, latest: IncidentView | None,
           reopen_window: dt.timedelta) -> Action:
    """What ``notice`` does, given the most recent incident with the same fingerprint."""
    if latest is None:
        return Action.CREATE if notice.status == "firing" else Action.CREATE_RESOLVED
    if notice.starts_at < latest.last_starts_at:
        if _resolves_from_another_replica(notice, latest):
            return Action.RESOLVE
        return Action.DUPLICATE  # news of an earlier episode, delivered late
    same_episode = notice.starts_at == latest.last_starts_at or latest.resolved_at is None
    if notice.status == "firing":
        if same_episode:
            return Action.DUPLICATE
        return Action.REOPEN if _within(notice, latest, reopen_window) else Action.CREATE
    if same_episode:
        return Action.RESOLVE if latest.resolved_at is None else Action.DUPLICATE
    # A whole episode we never saw firing: it happened all the same.
    return Action.REOPEN_RESOLVED if _within(notice, latest, reopen_window) \
        else Action.CREATE_RESOLVED


def _resolves_from_another_replica(notice: AlertNotice, latest: IncidentView) -> bool:
    """The resolution of the open episode, with an earlier start: Prometheus replicas each
    start an alert at the evaluation that fired it, and Alertmanager keeps the earliest start it
    has heard, which may be after it delivered the later one. An outage that ended after the
    open episode began is that episode; an earlier episode ended before it."""
    return (notice.status == "resolved" and latest.resolved_at is None
            and notice.ends_at is not None and notice.ends_at > latest.last_starts_at)


def _within(notice: AlertNotice, latest: IncidentView, window: dt.timedelta) -> bool:
    return notice.starts_at - latest.resolved_at <= window


def resolution_time(notice: AlertNotice, started_at: dt.datetime) -> dt.datetime:
    """The alert's ``endsAt`` (not when we heard of it), never before the clock start."""
    ends = notice.ends_at or notice.received_at
    return max(ends, started_at)


def sla_basis(notice: AlertNotice, terms: ClientTerms | None,
              windows: list[MaintenanceWindow]) -> tuple[str, MaintenanceWindow | None]:
    """Whether an incident counts for the SLA at all, decided once, at its clock start."""
    start = notice.clock_start
    if terms is None or notice.severity not in SEVERITIES or terms.tier == 0 \
            or terms.terminated_at(start):
        return NO_SLA, None
    if terms.suspended_at(start):
        return SUSPENDED, None
    window = covering_window(windows, notice.client, notice.targets, start)
    if window is not None:
        return MAINTENANCE, window
    return TRACKED, None


def deadline_for(started_at: dt.datetime, severity: str, terms: ClientTerms) -> dt.datetime:
    """Clock start plus the contract's response time, on the clock the severity runs on."""
    return terms.clock_for(severity).add(started_at, terms.response_times[severity])


def sla_status(basis: str, excluded: bool, deadline: dt.datetime | None,
               acknowledged_at: dt.datetime | None, resolved_at: dt.datetime | None,
               now: dt.datetime) -> str:
    """The SLA status, as a function of the incident's timestamps and of ``now``."""
    if basis != TRACKED:
        return basis
    if excluded:
        return EXCLUDED
    if acknowledged_at is not None and acknowledged_at <= deadline:
        return MET
    if resolved_at is not None and resolved_at <= deadline:
        return WITHOUT_RESPONSE
    if acknowledged_at is not None:  # but late
        return BREACHED
    return status_as_of(PENDING, deadline, now)


def status_as_of(status: str, deadline: dt.datetime | None, now: dt.datetime) -> str:
    """A status decided earlier, as of ``now``: pending past its deadline is breached (5a)."""
    if status == PENDING and now > deadline:
        return BREACHED
    return status


def state_of(acknowledged_at: dt.datetime | None, resolved_at: dt.datetime | None) -> str:
    if resolved_at is not None:
        return "resolved"
    return "acknowledged" if acknowledged_at is not None else "open"


def penalty_rate(status: str, severity: str, terms: ClientTerms | None) -> Decimal:
    """The rate of the monthly fee an incident costs (section 5c): a breach's, by severity."""
    if status != BREACHED or terms is None:
        return Decimal("0")
    return terms.penalty_rates[severity]
