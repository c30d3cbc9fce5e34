"""Who is told of the transitions the metrics count, and when: once the transaction that made
them has committed, so that a failed transaction counts nothing and its redelivery counts once."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sla_bridge.storage.schema import Incident


class Observer:
    """Told of the transitions the metrics count, once they are committed. The default ignores
    them (replay)."""

    def created(self, incident: Incident) -> None: ...

    def breached(self, incident: Incident) -> None: ...

    def acknowledged(self, incident: Incident) -> None: ...

    def heartbeat(self, at: dt.datetime) -> None:
        """The Watchdog was delivered (every delivery, redeliveries included)."""


@dataclass
class Transitions:
    """What a transaction did that the observer counts. Told only after the commit: a failed
    transaction counts nothing, so its redelivery counts once."""

    created: list[Incident] = field(default_factory=list)
    breached: list[Incident] = field(default_factory=list)
    acknowledged: list[Incident] = field(default_factory=list)

    def tell(self, observer: Observer) -> None:
        for incident in self.created:
            observer.created(incident)
        for incident in self.breached:
            observer.breached(incident)
        for incident in self.acknowledged:
            observer.acknowledged(incident)
