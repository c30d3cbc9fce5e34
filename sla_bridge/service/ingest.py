"""Alert batches into incidents: what each notice of a delivery did, inside the service's
transaction (new incidents, reopened or resolved ones, duplicates, the Watchdog's heartbeats)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from sla_bridge.engine import lifecycle
from sla_bridge.engine.alerts import AlertNotice
from sla_bridge.engine.ledger import month_of
from sla_bridge.engine.lifecycle import Action
from sla_bridge.engine.maintenance import MaintenanceWindow
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.service.incident_status import Terms, refresh
from sla_bridge.service.observer import Transitions
from sla_bridge.storage.queries import (
    NewIncident,
    insert_events,
    insert_incidents,
    latest_incidents,
    lock_fingerprints,
    maintenance_windows,
    new_positions,
)
from sla_bridge.storage.schema import Incident
from sla_bridge.timefmt import rfc3339

CREATED, UPDATED, DUPLICATE, HEARTBEAT = "created", "updated", "duplicate", "heartbeat"
_CREATING = (Action.CREATE, Action.CREATE_RESOLVED)
_REOPENING = (Action.REOPEN, Action.REOPEN_RESOLVED)
_RESOLVING = (Action.RESOLVE, Action.CREATE_RESOLVED, Action.REOPEN_RESOLVED)


@dataclass(frozen=True)
class Outcome:
    """What one notice did: created or updated an incident, or changed nothing."""

    dedup_key: str
    kind: str
    incident: Incident | None


@dataclass
class IngestResult:
    outcomes: list[Outcome] = field(default_factory=list)  # one per notice, in order

    def _count(self, kind: str) -> int:
        return sum(outcome.kind == kind for outcome in self.outcomes)

    @property
    def received(self) -> int:
        return len(self.outcomes)

    @property
    def created(self) -> int:
        return self._count(CREATED)

    @property
    def updated(self) -> int:
        return self._count(UPDATED)

    @property
    def duplicates(self) -> int:
        return self._count(DUPLICATE)

    @property
    def new_security_incidents(self) -> list[Incident]:
        return [o.incident for o in self.outcomes if o.kind == CREATED and o.incident.security]

    def split(self, sizes: list[int]) -> list[IngestResult]:
        """The results of consecutive runs of ``sizes`` notices, e.g. one per request."""
        parts, start = [], 0
        for size in sizes:
            parts.append(IngestResult(self.outcomes[start:start + size]))
            start += size
        return parts


def notice_payload(notice: AlertNotice) -> dict:
    """An alert as kept in the event history: what replay needs to process it again."""
    return {"fingerprint": notice.fingerprint, "status": notice.status,
            "labels": notice.labels, "annotations": notice.annotations,
            "startsAt": rfc3339(notice.starts_at), "endsAt": rfc3339(notice.ends_at)}


def store_notices(session: Session, notices: list[AlertNotice], terms: Terms,
                  clock: Callable[[], dt.datetime], changes: Transitions,
                  as_received: bool = False) -> IngestResult:
    """Store what is new in ``notices``; redeliveries change nothing.

    Storms come as many small requests, so this is the bridge's hot path: three reads, then
    new incidents and events inserted in bulk through the driver (not the ORM's unit of
    work); only incidents that already existed go through the session. With ``as_received``
    each notice is applied as of its own reception time rather than the clock's (a replay's
    batch spans hours of the history: each notice must see the time it saw live).
    """
    outcomes = [Outcome(n.dedup_key, DUPLICATE, None) for n in notices]
    lock_fingerprints(session, {n.fingerprint for n in notices})
    fresh = new_positions(session, notices)
    if not fresh:
        return IngestResult(outcomes)
    latest = latest_incidents(session, {notices[i].fingerprint for i in fresh})
    clients = {notices[i].client for i in fresh if notices[i].client}
    windows = maintenance_windows(session, clients, min(notices[i].clock_start for i in fresh))
    batch = _Batch(latest, windows, clock(), terms, changes, as_received)
    for i in fresh:
        outcomes[i] = batch.outcome(notices[i])
    insert_incidents(session, [outcomes[i].incident for i in fresh
                                if outcomes[i].kind == CREATED])
    session.flush()
    insert_events(session, [_alert_event(notices[i], outcomes[i].incident) for i in fresh])
    return IngestResult(outcomes)


@dataclass
class _Batch:
    """What the new notices of one transaction are applied to, one after the other."""

    latest: dict[str, Incident]  # the latest incident of each fingerprint, as the batch goes
    windows: list[MaintenanceWindow]
    now: dt.datetime
    terms: Terms
    changes: Transitions
    as_received: bool = False  # each notice as of its reception time, not ``now``

    def outcome(self, notice: AlertNotice) -> Outcome:
        """What ``notice`` did, the batch's latest incidents moved on by it."""
        if notice.heartbeat:  # kept in the history, but it is not an incident
            return Outcome(notice.dedup_key, HEARTBEAT, None)
        incident, action = self._apply(notice, self.latest.get(notice.fingerprint))
        kind = DUPLICATE if action is Action.DUPLICATE else (
            CREATED if action in _CREATING else UPDATED)
        if incident is not None:
            self.latest[notice.fingerprint] = incident
        return Outcome(notice.dedup_key, kind, incident)

    def _apply(self, notice: AlertNotice, latest: Incident | None):
        """The lifecycle's action for ``notice`` given its fingerprint's latest incident (or
        none), applied: the incident it leaves, and the action."""
        terms = self.terms.get(notice.client) if notice.client else None
        window = terms.reopen_window if terms else lifecycle.DEFAULT_REOPEN_WINDOW
        action = lifecycle.decide(notice, latest, window)
        if action is Action.DUPLICATE:
            return latest, action
        now = notice.received_at if self.as_received else self.now
        if action in _CREATING:
            incident = _new_incident(notice, terms, self.windows, now)
        else:
            incident = latest
        if action in _REOPENING:
            incident.last_starts_at = notice.starts_at
            incident.resolved_at = None
        if action in _RESOLVING:
            incident.resolved_at = lifecycle.resolution_time(notice, incident.started_at)
        refresh(incident, now, self.terms, self.changes)
        if action in _CREATING:
            self.changes.created.append(incident)
        return incident, action


def _new_incident(notice: AlertNotice, terms: ClientTerms | None,
                  windows: list[MaintenanceWindow], now: dt.datetime) -> NewIncident:
    started = notice.clock_start
    basis, window = lifecycle.sla_basis(notice, terms, windows)
    tz = terms.ledger_timezone if terms else None
    deadline = None
    if basis != lifecycle.NO_SLA:
        deadline = lifecycle.deadline_for(started, notice.severity, terms)
    return NewIncident(
        fingerprint=notice.fingerprint,
        client=notice.client,
        alertname=notice.alertname, severity=notice.severity or "none",
        target=notice.target, labels=notice.labels,
        summary=notice.annotations.get("summary", ""),
        description=notice.annotations.get("description", ""),
        security=notice.security, first_starts_at=notice.starts_at,
        last_starts_at=notice.starts_at, started_at=started,
        month=month_of(started, tz) if tz else started.strftime("%Y-%m"),
        deadline=deadline, sla_basis=basis, sla=basis,
        maintenance_id=window.id if window else None,
        created_at=now, updated_at=now, penalty_rate="0", state="open")


def _alert_event(notice: AlertNotice, incident: Incident | None) -> tuple:
    """An ``alert`` event's row, in the order of ``ALERT_EVENT_COLUMNS``."""
    return ("alert", notice.received_at, notice.client, None,
            incident.id if incident is not None else None, notice.dedup_key,
            notice_payload(notice))
