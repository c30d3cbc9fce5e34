"""Finding stored incidents: one by its id (for a client, only one of its own), a page of them by
client, state, SLA status and month, the console's list most urgent first, the latest of a
fingerprint; and what an incident's page shows beside its row: its timeline from the event
history, its annotations, and the clock its deadline runs on."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import Select, and_, case, select
from sqlalchemy.orm import Session

from owl.businesstime import BusinessCalendar
from sla_bridge.engine.lifecycle import TRACKED
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.service.errors import NotFound
from sla_bridge.storage.schema import Event, Incident, Notification

RESOLVED = "resolved"
# how far the holidays that moved a deadline are looked for: a response time is hours or days
_MAX_DAYS_TO_DEADLINE = 366


def stored_incident(session: Session, incident_id: int, client: str | None = None) -> Incident:
    """The incident; with ``client``, only one of that client's (else NotFound)."""
    incident = session.get(Incident, incident_id)
    if incident is None or (client is not None and incident.client != client):
        raise NotFound(f"no incident {incident_id}")
    return incident


def incidents_query(client: str | None, state: str | None, sla: str | None,
                    month: str | None) -> Select:
    """The incidents that match every filter given, newest first."""
    query = select(Incident).order_by(Incident.started_at.desc(), Incident.id.desc())
    return _filtered(query, client, month).where(
        *([Incident.state == state] if state is not None else []),
        *([Incident.sla == sla] if sla is not None else []))


def urgent_query(client: str | None, severity: str | None, states: tuple[str, ...] | None,
                 month: str | None) -> Select:
    """The incidents in one of ``states`` (None: any), most urgent first: unacknowledged
    before acknowledged before resolved; among the unresolved, nearest deadline first (so
    breached first), those without one last; then newest first."""
    unresolved = Incident.state != RESOLVED
    query = select(Incident).order_by(
        case((Incident.state == "open", 0), (unresolved, 1), else_=2),
        case((and_(unresolved, Incident.deadline.is_not(None)), 0), else_=1),
        case((unresolved, Incident.deadline), else_=None),
        Incident.started_at.desc(), Incident.id.desc())
    query = _filtered(query, client, month)
    if severity is not None:
        query = query.where(Incident.severity == severity)
    if states is not None:
        query = query.where(Incident.state.in_(states))
    return query


def _filtered(query: Select, client: str | None, month: str | None) -> Select:
    if client is not None:
        query = query.where(Incident.client == client)
    if month is not None:
        query = query.where(Incident.month == month)
    return query


def latest_of_fingerprint(session: Session, fingerprint: str,
                          client: str | None = None) -> Incident | None:
    """The newest incident of ``fingerprint`` (an unresolved one first); with ``client``, only
    one of that client's."""
    query = select(Incident).where(Incident.fingerprint == fingerprint).order_by(
        case((Incident.state == RESOLVED, 1), else_=0), Incident.started_at.desc(),
        Incident.id.desc()).limit(1)
    if client is not None:
        query = query.where(Incident.client == client)
    return session.scalars(query).first()


# --- an incident's page ------------------------------------------------------------------------

@dataclass(frozen=True)
class TimelineEntry:
    """Something that happened to an incident. ``kind``: fired, reopened, updated (the alert
    sent again with other details), resolved, ack, exclusion, exclusion_withdrawn,
    notification, deadline_passed."""

    at: dt.datetime
    kind: str
    actor: str | None = None
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class DeadlineClock:
    """The clock a response deadline runs on: the wall clock (24/7) or the client's business
    hours, with the public holidays that closed them between the clock's start and the
    deadline (and so moved it)."""

    wall_clock: bool
    response_time: dt.timedelta
    timezone: str | None = None
    country: str | None = None
    subdivision: str | None = None
    holidays: tuple[dt.date, ...] = ()


@dataclass(frozen=True)
class IncidentRecord:
    """An incident with what its page shows beside the row."""

    incident: Incident
    annotations: dict[str, str]
    timeline: list[TimelineEntry]
    clock: DeadlineClock | None


def incident_record(session: Session, incident: Incident, terms: ClientTerms | None,
                    now: dt.datetime) -> IncidentRecord:
    events = session.scalars(select(Event).where(Event.incident_id == incident.id)
                             .order_by(Event.at, Event.id)).all()
    notifications = session.scalars(select(Notification).where(
        Notification.incident_id == incident.id).order_by(Notification.id)).all()
    alerts = [event for event in events if event.kind == "alert"]
    annotations = dict(alerts[-1].payload.get("annotations") or {}) if alerts else {}
    timeline = _alert_entries(alerts) + [_action_entry(event) for event in events
                                         if event.kind != "alert"]
    timeline += [_notification_entry(row) for row in notifications]
    if _deadline_passed(incident, now):
        timeline.append(TimelineEntry(incident.deadline, "deadline_passed"))
    timeline.sort(key=lambda entry: entry.at)
    return IncidentRecord(incident, annotations, timeline, deadline_clock(incident, terms))


def _alert_entries(alerts: list[Event]) -> list[TimelineEntry]:
    entries, before = [], None
    for event in alerts:
        payload, status = event.payload, event.payload.get("status")
        if status == "resolved":
            kind, at = "resolved", payload.get("endsAt")
        else:
            kind = "fired" if before is None else "reopened" if before == "resolved" else "updated"
            at = payload.get("startsAt")
        entries.append(TimelineEntry(_time(at) or event.at, kind,
                                     detail={"received_at": event.at}))
        before = status
    return entries


def _action_entry(event: Event) -> TimelineEntry:
    after = (event.payload or {}).get("after") or {}
    return TimelineEntry(event.at, event.kind, event.actor,
                         {"reason": after.get("exclusion_reason"),
                          "note": after.get("exclusion_note")})


def _notification_entry(row: Notification) -> TimelineEntry:
    return TimelineEntry(row.sent_at or row.created_at, "notification",
                         detail={"subject": row.subject, "sent": row.sent_at is not None})


def _deadline_passed(incident: Incident, now: dt.datetime) -> bool:
    if incident.deadline is None or incident.sla_basis != TRACKED:
        return False
    answered = [t for t in (incident.acknowledged_at, incident.resolved_at) if t is not None]
    return min(answered, default=now) > incident.deadline


def _time(value: str | None) -> dt.datetime | None:
    if not value or value.startswith("0001-"):
        return None
    return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))


def deadline_clock(incident: Incident, terms: ClientTerms | None) -> DeadlineClock | None:
    """The clock of ``incident``'s deadline under its client's terms, or None without one."""
    if incident.deadline is None or terms is None \
            or incident.severity not in terms.response_times:
        return None
    clock = terms.clock_for(incident.severity)
    response_time = terms.response_times[incident.severity]
    if not isinstance(clock, BusinessCalendar):
        return DeadlineClock(True, response_time)
    return DeadlineClock(False, response_time, clock.timezone, clock.country, clock.subdivision,
                         _closing_holidays(clock, incident.started_at, incident.deadline))


def _closing_holidays(calendar: BusinessCalendar, start: dt.datetime,
                      deadline: dt.datetime) -> tuple[dt.date, ...]:
    """The public holidays from ``start`` to ``deadline`` that fell on an opening day."""
    day, last = start.astimezone(calendar.tz).date(), deadline.astimezone(calendar.tz).date()
    found = []
    for _ in range(_MAX_DAYS_TO_DEADLINE):
        if day > last:
            break
        if calendar.is_holiday(day) and calendar.weekly.get(day.weekday()):
            found.append(day)
        day += dt.timedelta(days=1)
    return tuple(found)
