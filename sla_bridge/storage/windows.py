"""Maintenance windows as stored: the row and the event that records it, written together.

The operators' API (:class:`sla_bridge.maintenance.MaintenanceService`) and replay
(:mod:`sla_bridge.replay`) both announce and cancel windows through these functions, in their
own transactions.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import and_
from sqlalchemy.orm import Session

from sla_bridge.engine.maintenance import MaintenanceWindow
from sla_bridge.storage.schema import Event, Maintenance
from sla_bridge.timefmt import rfc3339


def window_of(row: Maintenance) -> MaintenanceWindow:
    return MaintenanceWindow(row.id, row.client, tuple(row.targets) if row.targets else None,
                             row.starts_at, row.ends_at, row.emergency, row.announced_at,
                             row.cancelled_at)


def in_progress(now: dt.datetime):
    """The SQL condition of the windows running at ``now``."""
    return and_(Maintenance.starts_at <= now, Maintenance.ends_at > now,
                Maintenance.cancelled_at.is_(None))


def window_payload(window: Maintenance) -> dict:
    """The window as the event history keeps it: enough for replay to recreate it."""
    return {"id": window.id, "targets": window.targets, "starts_at": rfc3339(window.starts_at),
            "ends_at": rfc3339(window.ends_at), "description": window.description,
            "emergency": window.emergency, "announced_at": rfc3339(window.announced_at),
            "announced_by": window.announced_by, "cancelled_at": rfc3339(window.cancelled_at),
            "cancelled_by": window.cancelled_by, "silence_ids": window.silence_ids}


def record_window(session: Session, window: Maintenance) -> Maintenance:
    """Store a new window and its ``maintenance_created`` event; the window gets its id."""
    session.add(window)
    session.flush()
    _record(session, window, "maintenance_created", window.announced_at, window.announced_by)
    return window


def record_cancellation(session: Session, window: Maintenance, at: dt.datetime,
                        actor: str) -> None:
    """Cancel a stored window ``at`` that time, with its ``maintenance_cancelled`` event."""
    window.cancelled_at, window.cancelled_by = at, actor
    _record(session, window, "maintenance_cancelled", at, actor)


def _record(session: Session, window: Maintenance, kind: str, at: dt.datetime,
            actor: str) -> None:
    session.add(Event(kind=kind, at=at, client=window.client, actor=actor,
                      payload=window_payload(window)))
