"""Maintenance windows (contract section 5b) as Alertmanager silences, and the alerts they hide.

A window is announced by an operator for a client, for all its targets or some of them. It
becomes one silence per target kind (``client="X", site=~"a|b"`` and ``client="X",
server=~"c"``; ``client="X"`` alone for all targets), then one stored row and one
``maintenance_created`` event, in one transaction; the client is emailed. Nothing is half
written: if Alertmanager refuses a silence, the ones already made are expired and nothing is
stored; if the database refuses the row, the silences are expired. Cancelling expires the
silences, then records ``cancelled_at`` and a ``maintenance_cancelled`` event.

A window announced again is the window already announced, with no second silence nor email: the
same client, the same targets (as a set; all of them is not the list of all of them, which
leaves out targets added later), the same start and end, not cancelled. Its description may
differ (a retry typed again, a typo fixed): the first one stays, and the answer shows it. Its
``emergency`` may not: an emergency window and a planned one count differently for the SLA, so
the second is a :class:`ConflictingWindow`. Two identical announcements at once take turns under
a lock of the window (:mod:`sla_bridge.storage.named_locks`) held from the check to the commit,
across the calls to Alertmanager; the check is made again in the write transaction, for SQLite
files shared by two processes.

What Alertmanager (0.25, checked by ``tests/test_maintenance_sync.py``) does with the
alerts a silence hides, and what the bridge does about it:

- A silence applies to every route: a silenced alert reaches no receiver, the bridge's webhook
  included. Left alone, the bridge would never hear of an incident that starts inside a window,
  yet it must record it (``maintenance``, or SLA-tracked under an emergency window).
- ``GET /api/v2/alerts?silenced=true&active=false&inhibited=false`` lists the silenced alerts
  with the webhook's fingerprint, their labels, annotations, ``startsAt`` and, in
  ``status.silencedBy``, the silences that hide them. Its times have millisecond precision where
  the webhook's have Go's nanoseconds; the lifecycle takes a later copy of an open episode for
  the same incident either way.
- Once Prometheus resolves a silenced alert (``endsAt`` in the past), the alert disappears from
  every listing (API v2 alerts and alert groups, and the deprecated API v1): its ``endsAt`` cannot
  be read back. Its resolution is not delivered to the webhook either, not even after the silence
  ends: Alertmanager sends no resolution for an alert it never notified as firing, and an alert
  notified before the window loses its resolution in the group flush that runs under the silence.

So :class:`SilencedAlertSync`, every 30 seconds:

1. ingests, as firing, the alerts hidden by the bridge's own silences (idempotent: the event
   history's dedup keys make every later sync of the same alert a duplicate);
2. resolves the open incidents that a window hid at some point of their life and whose alert
   Alertmanager no longer holds. The real ``endsAt`` is lost: the resolution time recorded is when
   the bridge first found the alert gone, at most one sync interval late, and the event says it
   was inferred. The bridge waits ``settle`` (5 minutes) before recording it, which leaves time
   for a resolution the webhook does deliver, with its exact ``endsAt``, and for Prometheus to
   send its alerts again (it does every minute) to an Alertmanager that restarted and lost them.
   The timer lives in memory: a restarted bridge starts it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import not_, select
from sqlalchemy.orm import Session

from owl.inventory import Client, Inventory
from sla_bridge.alertmanager import Alertmanager, AlertmanagerError, Matcher, any_of
from sla_bridge.engine.alerts import AlertNotice, targets_of
from sla_bridge.engine.maintenance import notice_problem
from sla_bridge.notify import Notifier, maintenance_message
from sla_bridge.service import IngestResult, SlaService
from sla_bridge.storage import lock_classes, named_locks
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Incident, Maintenance
from sla_bridge.storage.windows import (
    in_progress,
    record_cancellation,
    record_window,
    window_of,
)
from sla_bridge.timefmt import rfc3339
from sla_bridge.webhook import PayloadError, parse_alert

log = logging.getLogger("owl.bridge.maintenance")

SETTLE = dt.timedelta(minutes=5)
INFERRED = "inferred: the alert ended while a maintenance silence hid it; this is when the " \
           "bridge found it gone from Alertmanager"
WINDOW_LOCKS = lock_classes.MAINTENANCE_WINDOWS  # identical announcements take turns under it


class InvalidWindow(ValueError):
    """The request names something that does not exist, or is not a window."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class NoticeRefused(ValueError):
    """The window breaks the 48-hour notice rule, or is already over."""


class ConflictingWindow(ValueError):
    """An identical window is announced already, but not as the same kind (emergency or not)."""

    def __init__(self, window: Maintenance):
        kind = "an emergency" if window.emergency else "a planned"
        super().__init__(f"maintenance {window.id} covers the same targets and times as {kind} "
                         "window; cancel it first to announce it otherwise")
        self.window = window


class UnknownMaintenance(LookupError):
    pass


class WindowOver(ValueError):
    """A window that has ended cannot be cancelled."""


@dataclass(frozen=True)
class WindowRequest:
    client: str
    targets: tuple[str, ...] | None  # None: every target of the client
    starts_at: dt.datetime
    ends_at: dt.datetime
    description: str
    emergency: bool = False

    def same_window(self, window: Maintenance) -> bool:
        """Whether ``window`` is this one, announced already (its description aside)."""
        targets = None if window.targets is None else set(window.targets)
        return (window.client == self.client and window.cancelled_at is None
                and window.starts_at == self.starts_at and window.ends_at == self.ends_at
                and targets == (None if self.targets is None else set(self.targets)))


@dataclass(frozen=True)
class Announcement:
    window: Maintenance
    created: bool  # False: the window was announced already


# A step of the caller's, in the transaction that stores a new window (with its id).
InTransaction = Callable[[Session, Maintenance], None]


def targets_by_label(client: Client, targets: Iterable[str]) -> dict[str, list[str]]:
    """The window's targets under the alert label that names them: ``site`` or ``server``."""
    sites = {site.id for site in client.sites}
    servers = {server.id for server in client.servers}
    return {"site": [t for t in targets if t in sites],
            "server": [t for t in targets if t in servers]}


def silence_matchers(client: Client, targets: tuple[str, ...] | None) -> list[list[Matcher]]:
    """One silence for the whole client, or one per target kind."""
    owner = Matcher("client", client.id)
    if targets is None:
        return [[owner]]
    return [[owner, Matcher(label, any_of(ids), regex=True)]
            for label, ids in targets_by_label(client, targets).items() if ids]


class MaintenanceService:
    def __init__(self, db: Database, alertmanager: Alertmanager, notifier: Notifier,
                 inventory: Inventory, clock: Callable[[], dt.datetime]):
        self.db = db
        self.alertmanager = alertmanager
        self.notifier = notifier
        self.inventory = inventory
        self.clock = clock

    def announce(self, request: WindowRequest, actor: str,
                 in_transaction: InTransaction | None = None) -> Announcement:
        """Announce a window now, or find it announced already; raise InvalidWindow,
        NoticeRefused, ConflictingWindow or AlertmanagerError."""
        now = self.clock()
        client = self._check(request, now)
        lock = f"{client.id}\n{rfc3339(request.starts_at)}\n{rfc3339(request.ends_at)}"
        with named_locks.held(self.db, WINDOW_LOCKS, lock):
            with self.db.read() as session:
                announced = self._announced(session, request)
            if announced is not None:
                return Announcement(announced, created=False)
            silence_ids = self._silence(client, request, actor)
            try:
                with self.db.write() as session:
                    announced = self._announced(session, request)
                    if announced is None:
                        window = self._record(session, client, request, actor, now,
                                              silence_ids, in_transaction)
                        notification = self._notification(session, window)
            except BaseException:
                self._expire_quietly(silence_ids)
                raise
            if announced is not None:  # by another process on the same SQLite file
                self._expire_quietly(silence_ids)
                return Announcement(announced, created=False)
        self.notifier.dispatch([notification])
        return Announcement(window, created=True)

    @staticmethod
    def _announced(session: Session, request: WindowRequest) -> Maintenance | None:
        """The same window, announced already; ConflictingWindow if not of the same kind."""
        rows = session.scalars(select(Maintenance).where(
            Maintenance.client == request.client, Maintenance.cancelled_at.is_(None),
            Maintenance.starts_at == request.starts_at, Maintenance.ends_at == request.ends_at
        ).order_by(Maintenance.id)).all()
        for window in rows:
            if request.same_window(window):
                if window.emergency != request.emergency:
                    raise ConflictingWindow(window)
                return window
        return None

    def _record(self, session: Session, client: Client, request: WindowRequest, actor: str,
                now: dt.datetime, silence_ids: list[str],
                in_transaction: InTransaction | None) -> Maintenance:
        window = record_window(session, Maintenance(
            client=client.id, targets=list(request.targets) if request.targets else None,
            starts_at=request.starts_at, ends_at=request.ends_at,
            description=request.description, emergency=request.emergency,
            announced_at=now, announced_by=actor, silence_ids=silence_ids))
        if in_transaction is not None:
            in_transaction(session, window)
        return window

    def _check(self, request: WindowRequest, now: dt.datetime) -> Client:
        client = self.inventory.client(request.client)
        if client is None:
            raise InvalidWindow("client", f"unknown client {request.client!r}")
        known = {site.id for site in client.sites} | {server.id for server in client.servers}
        for index, target in enumerate(request.targets or ()):
            if target not in known:
                raise InvalidWindow(f"targets[{index}]",
                                    f"{target!r} is not a site or server of {client.id}")
        if not request.description.strip():
            raise InvalidWindow("description", "a description of the work is required")
        if request.ends_at <= request.starts_at:
            raise InvalidWindow("ends_at", "the window must end after it starts")
        problem = notice_problem(request.starts_at, request.ends_at, now, request.emergency)
        if problem:
            raise NoticeRefused(problem)
        return client

    def _silence(self, client: Client, request: WindowRequest, actor: str) -> list[str]:
        created: list[str] = []
        try:
            for matchers in silence_matchers(client, request.targets):
                created.append(self.alertmanager.create_silence(
                    matchers, request.starts_at, request.ends_at, created_by=f"owl ({actor})",
                    comment=f"owl maintenance for {client.id}: {request.description}"))
        except AlertmanagerError:
            self._expire_quietly(created)
            raise
        return created

    def _expire_quietly(self, silence_ids: list[str]) -> None:
        for silence_id in silence_ids:
            try:
                self.alertmanager.expire_silence(silence_id)
            except AlertmanagerError as exc:
                log.error("silence %s was left in Alertmanager (expire it with amtool): %s",
                          silence_id, exc)

    def _notification(self, session, window: Maintenance):
        """The client's notice of the window or of its cancellation, in the caller's
        transaction."""
        return self.notifier.record(session, window.client, maintenance_message(
            self.inventory, window, cancelled=window.cancelled_at is not None))

    def cancel(self, maintenance_id: int, actor: str) -> Maintenance:
        """Expire the silences, then record the cancellation; cancelling twice changes nothing."""
        window = self.get(maintenance_id)
        if window.cancelled_at is not None:
            return window
        now = self.clock()
        if window.ends_at <= now:
            raise WindowOver(f"maintenance {maintenance_id} ended at {rfc3339(window.ends_at)}: "
                             "there is nothing left to cancel")
        for silence_id in window.silence_ids or []:
            self.alertmanager.expire_silence(silence_id)
        with self.db.write() as session:
            window = session.get(Maintenance, maintenance_id, with_for_update=True)
            if window.cancelled_at is not None:  # another request cancelled it meanwhile
                return window
            record_cancellation(session, window, now, actor)
            notification = self._notification(session, window)
        self.notifier.dispatch([notification])
        return window

    def get(self, maintenance_id: int) -> Maintenance:
        with self.db.read() as session:
            window = session.get(Maintenance, maintenance_id)
        if window is None:
            raise UnknownMaintenance(f"no maintenance window {maintenance_id}")
        return window

    def list(self, client: str | None = None, active: bool | None = None) -> list[Maintenance]:
        """Newest first; ``active``: in progress now (started, not ended, not cancelled)."""
        now = self.clock()
        query = select(Maintenance).order_by(Maintenance.starts_at.desc(),
                                             Maintenance.id.desc())
        if client is not None:
            query = query.where(Maintenance.client == client)
        if active is not None:
            running = in_progress(now)
            query = query.where(running if active else not_(running))
        with self.db.read() as session:
            return list(session.scalars(query).all())


class SilencedAlertSync:
    """The scheduled job that tells the bridge what its silences keep from the webhook."""

    def __init__(self, db: Database, service: SlaService, alertmanager: Alertmanager,
                 inventory: Inventory, clock: Callable[[], dt.datetime],
                 on_ingested: Callable[[IngestResult], None], settle: dt.timedelta = SETTLE):
        self.db = db
        self.service = service
        self.alertmanager = alertmanager
        self.inventory = inventory
        self.clock = clock
        self.on_ingested = on_ingested
        self.settle = settle
        self._missing_since: dict[int, dt.datetime] = {}

    def run(self) -> IngestResult | None:
        """As scheduled: an unreachable Alertmanager is logged, and tried again next time."""
        try:
            return self.sync()
        except AlertmanagerError as exc:
            log.warning("silenced alerts not synchronized: %s", exc)
            return None

    def sync(self) -> IngestResult:
        now = self.clock()
        notices = self._silenced(now) + self._resolved(now)
        if not notices:
            return IngestResult()
        result = self.service.ingest(notices)
        self.on_ingested(result)
        return result

    def _silenced(self, now: dt.datetime) -> list[AlertNotice]:
        """The alerts our silences hide now, as firing notices."""
        with self.db.read() as session:
            rows = session.scalars(select(Maintenance.silence_ids).where(
                Maintenance.cancelled_at.is_(None), Maintenance.ends_at > now)).all()
        ours = {silence_id for ids in rows for silence_id in ids or ()}
        if not ours:
            return []
        alerts = self.alertmanager.alerts(active=False, silenced=True, inhibited=False)
        return [notice for alert in alerts
                if ours & set(alert.get("status", {}).get("silencedBy") or ())
                and (notice := _firing(alert, now)) is not None]

    def _resolved(self, now: dt.datetime) -> list[AlertNotice]:
        """Open incidents a window hid and Alertmanager no longer holds, once settled."""
        hidden = self._hidden_open_incidents(now)
        if not hidden:
            self._missing_since.clear()
            return []
        held = {alert["fingerprint"] for alert in self.alertmanager.alerts()}
        self._missing_since = {incident.id: self._missing_since.get(incident.id, now)
                               for incident in hidden if incident.fingerprint not in held}
        return [_resolution(incident, self._missing_since[incident.id], now)
                for incident in hidden if incident.id in self._missing_since
                and now - self._missing_since[incident.id] >= self.settle]

    def _hidden_open_incidents(self, now: dt.datetime) -> list[Incident]:
        started = select(Maintenance.client).where(Maintenance.starts_at <= now)
        with self.db.read() as session:
            incidents = session.scalars(select(Incident).where(
                Incident.resolved_at.is_(None), Incident.client.in_(started))).all()
            if not incidents:
                return []
            windows = session.scalars(select(Maintenance).where(
                Maintenance.client.in_({incident.client for incident in incidents}),
                Maintenance.starts_at <= now,
                Maintenance.ends_at > min(incident.last_starts_at for incident in incidents)
            )).all()
        return [incident for incident in incidents
                if any(self._hid(window, incident) for window in windows)]

    def _hid(self, window: Maintenance, incident: Incident) -> bool:
        """Whether the window hid the incident's alert at some time since it (last) started."""
        view = window_of(window)
        # a client gone from the inventory is no longer followed
        return (self.inventory.client(window.client) is not None
                and view.end > incident.last_starts_at
                and view.takes_in(incident.labels.get("client"), targets_of(incident.labels)))


def _firing(alert: dict, now: dt.datetime) -> AlertNotice | None:
    """An alert of the API v2 as a firing notice; None (and a warning) if it is malformed."""
    as_delivered = {"status": "firing", "fingerprint": alert.get("fingerprint"),
                    "labels": alert.get("labels"), "annotations": alert.get("annotations", {}),
                    "startsAt": alert.get("startsAt")}
    try:
        return parse_alert(as_delivered, 0, now)
    except PayloadError as exc:
        log.warning("a silenced alert was skipped: %s", exc)
        return None


def _resolution(incident: Incident, gone_at: dt.datetime, now: dt.datetime) -> AlertNotice:
    return AlertNotice(fingerprint=incident.fingerprint, status="resolved",
                       starts_at=incident.last_starts_at, ends_at=gone_at, received_at=now,
                       labels=dict(incident.labels),
                       annotations={"summary": incident.summary,
                                    "description": incident.description,
                                    "owl_resolution": INFERRED})
