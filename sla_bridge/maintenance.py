"""Maintenance windows (contract section 5b) as Alertmanager silences, and the alerts they hide.

A window is announced by an operator for a client, for all its targets or some of them. It
becomes one silence per target kind (``client="X", site=~"a|b"`` and ``client="X",
server=~"c"``; ``client="X"`` alone for all targets), then one stored row and one
``maintenance_created`` event, in one transaction; the client is emailed. Nothing is half
written: if Alertmanager refuses a silence, the ones already made are expired and nothing is
stored; if the database refuses the row, the silences are expired. Cancelling expires the
silences, then records ``cancelled_at`` and a ``maintenance_cancelled`` event.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import and_, not_, select

from owl.inventory import Client, Inventory
from sla_bridge.alertmanager import Alertmanager, AlertmanagerError, Matcher, any_of
from sla_bridge.engine.maintenance import notice_problem
from sla_bridge.notify import Notifier, maintenance_message
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Event, Maintenance
from sla_bridge.timefmt import rfc3339

log = logging.getLogger("owl.bridge.maintenance")

class InvalidWindow(ValueError):
    """The request names something that does not exist, or is not a window."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


class NoticeRefused(ValueError):
    """The window breaks the 48-hour notice rule, or is already over."""


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


def window_payload(window: Maintenance) -> dict:
    """The window as the event history keeps it: enough for replay to recreate it."""
    return {"id": window.id, "targets": window.targets, "starts_at": rfc3339(window.starts_at),
            "ends_at": rfc3339(window.ends_at), "description": window.description,
            "emergency": window.emergency, "announced_at": rfc3339(window.announced_at),
            "announced_by": window.announced_by, "cancelled_at": rfc3339(window.cancelled_at),
            "cancelled_by": window.cancelled_by, "silence_ids": window.silence_ids}


class MaintenanceService:
    def __init__(self, db: Database, alertmanager: Alertmanager, notifier: Notifier,
                 inventory: Inventory, clock: Callable[[], dt.datetime]):
        self.db = db
        self.alertmanager = alertmanager
        self.notifier = notifier
        self.inventory = inventory
        self.clock = clock

    def create(self, request: WindowRequest, actor: str) -> Maintenance:
        """Announce a window now; raise InvalidWindow, NoticeRefused or AlertmanagerError."""
        now = self.clock()
        client = self._check(request, now)
        silence_ids = self._silence(client, request, actor)
        try:
            with self.db.write() as session:
                window = Maintenance(
                    client=client.id, targets=list(request.targets) if request.targets else None,
                    starts_at=request.starts_at, ends_at=request.ends_at,
                    description=request.description, emergency=request.emergency,
                    announced_at=now, announced_by=actor, silence_ids=silence_ids)
                session.add(window)
                session.flush()
                notification = self._record(session, window, "maintenance_created", now, actor)
        except BaseException:
            self._expire_quietly(silence_ids)
            raise
        self.notifier.dispatch([notification])
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

    def _record(self, session, window: Maintenance, kind: str, now: dt.datetime, actor: str):
        """The event and the client's notification, in the caller's transaction."""
        session.add(Event(kind=kind, at=now, client=window.client, actor=actor,
                          payload=window_payload(window)))
        return self.notifier.record(session, window.client, maintenance_message(
            self.inventory, window, cancelled=kind == "maintenance_cancelled"))

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
            window.cancelled_at, window.cancelled_by = now, actor
            notification = self._record(session, window, "maintenance_cancelled", now, actor)
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
        running = and_(Maintenance.starts_at <= now, Maintenance.ends_at > now,
                       Maintenance.cancelled_at.is_(None))
        if active is not None:
            query = query.where(running if active else not_(running))
        with self.db.read() as session:
            return list(session.scalars(query).all())
