"""Group commit for webhook deliveries.

In a storm, Alertmanager's concurrent requests each carry a few alerts. Rather than one
transaction each, the requests waiting at the same moment are stored in one transaction. A request
thread that leads stores its own delivery and the pending ones of other requests (oldest first, up
to a limit) together, wakes each request with its own share of the result, and hands the lead to
the oldest delivery still pending. The others sleep until woken, once.

How many lead at the same time is the database's: SQLite has one writer, so one leader;
PostgreSQL runs transactions side by side (the service's advisory locks serialize deliveries of
the same alert), so a few leaders keep it busy while one of them waits on a commit. A request is
still answered only after its alerts are committed. If a shared transaction fails, its leader
stores each of its deliveries again in a transaction of its own, so that one delivery the
database refuses (poison) fails alone and the others succeed; a database that is down fails them
all, each with its own error. The metrics count nothing of a failed transaction (the service
tells its observer only after the commit).
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field

from sla_bridge.engine.alerts import AlertNotice
from sla_bridge.service import IngestResult, SlaService

# Large enough to amortize a transaction, small enough that the last request of a batch does
# not wait long for everyone else's alerts (the p99 of a storm).
MAX_ALERTS_PER_TRANSACTION = 500
# Transactions in flight at once, by database (see the module's docstring).
LEADERS = {"sqlite": 1, "postgresql": 4}


@dataclass(eq=False)
class _Delivery:
    notices: list[AlertNotice]
    leads: bool = False
    result: IngestResult | None = None
    error: BaseException | None = None
    woken: threading.Event = field(default_factory=threading.Event)


class IngestBatcher:
    def __init__(self, service: SlaService, max_alerts: int = MAX_ALERTS_PER_TRANSACTION,
                 leaders: int | None = None):
        self.service = service
        self.max_alerts = max_alerts
        self._pending: deque[_Delivery] = deque()
        self._lock = threading.Lock()
        self._free_leads = leaders or LEADERS.get(service.db.dialect, 1)

    def ingest(self, notices: list[AlertNotice]) -> IngestResult:
        """Store ``notices``, possibly in one transaction with other requests' alerts."""
        delivery = _Delivery(notices)
        with self._lock:
            self._pending.append(delivery)
            if self._free_leads:
                self._free_leads -= 1
                delivery.leads = True
        if not delivery.leads:
            delivery.woken.wait()  # stored by a leader, or handed the lead
        if delivery.leads:
            self._lead(delivery)
        if delivery.error is not None:
            raise delivery.error
        return delivery.result

    def _lead(self, own: _Delivery) -> None:
        with self._lock:
            batch = self._take(own)
        self._store(batch)
        with self._lock:
            successor = next((d for d in self._pending if not d.leads), None)
            if successor is not None:
                successor.leads = True
            else:
                self._free_leads += 1
        for delivery in batch[1:]:
            delivery.woken.set()
        if successor is not None:
            successor.woken.set()

    def _take(self, own: _Delivery) -> list[_Delivery]:
        """``own`` and the oldest pending deliveries no other leader stores, up to the limit."""
        self._pending.remove(own)
        batch, count = [own], len(own.notices)
        for delivery in list(self._pending):
            if count + len(delivery.notices) > self.max_alerts:
                break
            if not delivery.leads:
                self._pending.remove(delivery)
                batch.append(delivery)
                count += len(delivery.notices)
        return batch

    def _store(self, batch: list[_Delivery]) -> None:
        try:
            result = self.service.ingest([n for d in batch for n in d.notices])
        except Exception as exc:
            if len(batch) == 1:
                batch[0].error = exc
            else:  # which delivery failed it is not known: each is tried again on its own
                for delivery in batch:
                    self._store([delivery])
            return
        for delivery, part in zip(batch, result.split([len(d.notices) for d in batch])):
            delivery.result = part
