"""Group commit for webhook deliveries.

In a storm, Alertmanager's concurrent requests each carry a few alerts. Rather than one
transaction each, the requests waiting at the same moment are stored in one transaction. A request
thread that leads takes every pending delivery (oldest first, up to a limit), ingests them
together, wakes each request with its own share of the result, and hands the lead to the oldest
delivery still pending. The others sleep until woken, once. There is one leader at a time: the
oldest pending delivery is always the leader's own, and SQLite has one writer anyway. A request is still
answered only after its alerts are committed, and if the shared transaction fails every request
in it fails (503), so Alertmanager retries them all.
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


@dataclass(eq=False)
class _Delivery:
    notices: list[AlertNotice]
    leads: bool = False
    result: IngestResult | None = None
    error: BaseException | None = None
    woken: threading.Event = field(default_factory=threading.Event)


class IngestBatcher:
    def __init__(self, service: SlaService, max_alerts: int = MAX_ALERTS_PER_TRANSACTION):
        self.service = service
        self.max_alerts = max_alerts
        self._pending: deque[_Delivery] = deque()
        self._lock = threading.Lock()
        self._leading = False

    def ingest(self, notices: list[AlertNotice]) -> IngestResult:
        """Store ``notices``, possibly in one transaction with other requests' alerts."""
        delivery = _Delivery(notices)
        with self._lock:
            self._pending.append(delivery)
            if not self._leading:
                self._leading = delivery.leads = True
        if not delivery.leads:
            delivery.woken.wait()
        if delivery.leads:  # from the start, or handed over: ours is the oldest delivery
            self._lead()
        if delivery.error is not None:
            raise delivery.error
        return delivery.result

    def _lead(self) -> None:
        with self._lock:
            batch = self._take()
        self._store(batch)
        with self._lock:
            successor = self._pending[0] if self._pending else None
            if successor is not None:
                successor.leads = True
            else:
                self._leading = False
        for delivery in batch[1:]:
            delivery.woken.set()
        if successor is not None:
            successor.woken.set()

    def _take(self) -> list[_Delivery]:
        """The oldest pending deliveries, at least one, up to the alert limit."""
        batch = [self._pending.popleft()]
        count = len(batch[0].notices)
        while self._pending and count + len(self._pending[0].notices) <= self.max_alerts:
            batch.append(self._pending.popleft())
            count += len(batch[-1].notices)
        return batch

    def _store(self, batch: list[_Delivery]) -> None:
        try:
            result = self.service.ingest([n for d in batch for n in d.notices])
        except BaseException as exc:  # every request of the transaction shares its fate
            for delivery in batch:
                delivery.error = exc
            return
        for delivery, part in zip(batch, result.split([len(d.notices) for d in batch])):
            delivery.result = part
