"""The event history as JSON lines, and its replay through the same service as the live bridge.

A dispute is settled by replaying: ``owl sla export-events`` writes every event (alerts received,
operators' actions, maintenance windows, contract changes) in the order they were recorded;
``owl sla replay`` feeds them, with their own timestamps, to a fresh :class:`SlaService` on a
scratch database and reports the incidents and ledgers it finds. Both paths run the same code:
the service for alerts, operators' actions and contracts, :mod:`sla_bridge.storage.windows` for
maintenance windows (the operators' API stores them through it too).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from owl.inventory import Inventory
from sla_bridge.contract_terms import terms_from_inventory
from sla_bridge.engine.alerts import AlertNotice
from sla_bridge.serialize import event_json
from sla_bridge.service import SlaService
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Event, Incident, Maintenance
from sla_bridge.storage.windows import record_cancellation, record_window
from sla_bridge.timefmt import rfc3339
from sla_bridge.webhook import parse_alert, parse_time

FORMAT = "owl-events/1"
ALERT_BATCH = 5000  # consecutive alert events stored in one transaction


class ReplayError(ValueError):
    """The events file cannot be replayed; the message names the line."""


class _BatchError(ReplayError):
    """A batch of alert events failed; the message names its lines."""


def export_events(db: Database, now: dt.datetime) -> Iterator[str]:
    """A header line, then one JSON line per event, oldest first."""
    yield json.dumps({"format": FORMAT, "exported_at": rfc3339(now)})
    with db.read() as session:
        for event in session.scalars(select(Event).order_by(Event.id)).yield_per(1000):
            yield json.dumps(event_json(event), sort_keys=True)


@dataclass
class ReplayClock:
    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now


class Replayer:
    """Applies recorded events, mapping the live ids of incidents and windows to its own.

    Consecutive alert events are stored together, up to :data:`ALERT_BATCH` in one transaction
    (each as of its own time, as it was live): the bridge's live deliveries are batches too, and
    a transaction per event made most of the replay's cost. Any other event, and :meth:`finish`,
    stores the alerts waiting first, so every event sees the history before it.
    """

    def __init__(self, service: SlaService, clock: ReplayClock):
        self.service = service
        self.clock = clock
        self.incident_ids: dict[int, int] = {}
        self.window_ids: dict[int, int] = {}
        self.alerts: list[tuple[int, int | None, AlertNotice]] = []  # line, live id, notice

    def apply(self, event: dict, number: int = 0) -> None:
        kind = event["kind"]
        if kind == "alert":
            self._queue_alert(event, number)
            return
        handler = getattr(self, f"_on_{kind}", None)
        if handler is None:
            raise ReplayError(f"unknown event kind {kind!r}")
        self.finish()
        self.clock.now = parse_time(event["at"], "at")
        handler(event)

    def finish(self) -> None:
        """Store the alert events still waiting."""
        if not self.alerts:
            return
        alerts, self.alerts = self.alerts, []
        self.clock.now = alerts[-1][2].received_at
        try:
            result = self.service.ingest([notice for _, _, notice in alerts], as_received=True)
        except (KeyError, TypeError, ValueError) as exc:
            raise _BatchError(f"{alerts[0][0]}-{alerts[-1][0]}: {exc}") from None
        for (_, live_id, _), outcome in zip(alerts, result.outcomes):
            if live_id is not None and outcome.incident is not None:
                self.incident_ids[live_id] = outcome.incident.id

    def _queue_alert(self, event: dict, number: int) -> None:
        at = parse_time(event["at"], "at")
        self.alerts.append((number, event["incident_id"], parse_alert(event["payload"], 0, at)))
        if len(self.alerts) >= ALERT_BATCH:
            self.finish()

    def _incident(self, event: dict) -> int:
        try:
            return self.incident_ids[event["incident_id"]]
        except KeyError:
            raise ReplayError(f"event {event['id']} acts on incident {event['incident_id']}, "
                              "which no earlier alert event created") from None

    def _on_ack(self, event: dict) -> None:
        self.service.acknowledge(self._incident(event), event["actor"])

    def _on_exclusion(self, event: dict) -> None:
        after = event["payload"]["after"]
        self.service.exclude(self._incident(event), after["exclusion_reason"],
                             after["exclusion_note"], event["actor"])

    def _on_exclusion_withdrawn(self, event: dict) -> None:
        self.service.withdraw_exclusion(self._incident(event), event["actor"])

    def _on_contract(self, event: dict) -> None:
        self.service.apply_contract(event["client"], event["payload"]["contract"])

    def _on_maintenance_created(self, event: dict) -> None:
        window = event["payload"]
        with self.service.db.write() as session:
            row = record_window(session, Maintenance(
                client=event["client"], targets=window.get("targets"),
                starts_at=parse_time(window["starts_at"], "starts_at"),
                ends_at=parse_time(window["ends_at"], "ends_at"),
                description=window.get("description", ""),
                emergency=bool(window.get("emergency")),
                announced_at=parse_time(window.get("announced_at", event["at"]), "announced_at"),
                announced_by=event["actor"] or ""))
            self.window_ids[window["id"]] = row.id

    def _on_maintenance_cancelled(self, event: dict) -> None:
        window_id = self.window_ids.get(event["payload"]["id"])
        if window_id is None:
            raise ReplayError(f"event {event['id']} cancels an unknown maintenance window")
        with self.service.db.write() as session:
            record_cancellation(session, session.get(Maintenance, window_id), self.clock.now,
                                event["actor"])


def read_events(lines: Iterable[str], source: str
                ) -> tuple[dt.datetime, Iterator[tuple[int, dict]]]:
    """The export time, and the events with their line numbers, read as they are consumed (an
    export of millions of events is never held in memory); errors name the line."""
    iterator = iter(enumerate(lines, start=1))
    try:
        _, first = next(iterator)
        header = json.loads(first)
    except (StopIteration, json.JSONDecodeError):
        raise ReplayError(f"{source}:1: expected the export header line") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        raise ReplayError(f"{source}:1: not an {FORMAT} export")
    return parse_time(header["exported_at"], "exported_at"), _events(iterator, source)


def _events(numbered_lines: Iterator[tuple[int, str]], source: str
            ) -> Iterator[tuple[int, dict]]:
    for number, line in numbered_lines:
        if not line.strip():
            continue
        try:
            event = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ReplayError(f"{source}:{number}: invalid JSON: {exc.msg}") from None
        if not isinstance(event, dict) or not {"kind", "at", "payload"} <= event.keys():
            raise ReplayError(f"{source}:{number}: an event needs kind, at and payload")
        yield number, event


@dataclass
class Replay:
    service: SlaService
    as_of: dt.datetime
    scratch: Path | None = None  # the folder replay() made for its database, removed on close

    def incidents(self, month: str | None = None) -> Iterator[Incident]:
        """Every incident replayed (of ``month``), newest first, read as consumed."""
        return self.service.each(month)

    def close(self) -> None:
        self.service.db.dispose()
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


def replay(inventory: Inventory, lines: Iterable[str], source: str = "<events>",
           workdir: Path | None = None) -> Replay:
    """Replay an export into a scratch SQLite database (in ``workdir``, else in a temporary
    folder that :meth:`Replay.close` removes); statuses as of the export time."""
    as_of, events = read_events(lines, source)
    scratch = None if workdir else Path(tempfile.mkdtemp(prefix="owl-replay-"))
    db = Database(f"sqlite:///{(workdir or scratch) / 'replay.db'}", scratch=True)
    clock = ReplayClock(as_of)
    result = Replay(SlaService(db, terms_from_inventory(inventory), clock), as_of, scratch)
    try:
        db.upgrade()
        replayer = Replayer(result.service, clock)
        for number, event in events:
            try:
                replayer.apply(event, number)
            except _BatchError as exc:
                raise ReplayError(f"{source}:{exc}") from None
            except (KeyError, TypeError, ValueError) as exc:
                raise ReplayError(f"{source}:{number}: {exc}") from None
        try:
            replayer.finish()
        except _BatchError as exc:
            raise ReplayError(f"{source}:{exc}") from None
        clock.now = as_of
        result.service.refresh_statuses()
    except BaseException:
        result.close()
        raise
    return result
