"""What the exporter probes: the sites and servers of the clients that are monitored today.

Which clients are monitored on a day is the contract's to say
(:meth:`owl.inventory.Contract.unmonitored_reason`), the same for Prometheus's targets.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from owl.inventory import Client, Inventory, Server, Site


@dataclass(frozen=True, eq=False)
class Target:
    """One site or one server of a client, as probes see it."""

    client: Client
    site: Site | None = None
    server: Server | None = None

    @property
    def kind(self) -> str:
        return "site" if self.site is not None else "server"

    @property
    def id(self) -> str:
        return (self.site or self.server).id

    @property
    def key(self) -> str:
        """``client/id``: unique in an inventory (site and server ids are unique per client)."""
        return f"{self.client.id}/{self.id}"

    @property
    def tier(self) -> int:
        return self.client.contract.tier

    def labels(self) -> dict[str, str]:
        """The labels every series about this target carries: ``client`` and ``site``/``server``."""
        return {"client": self.client.id, self.kind: self.id}


def monitored_targets(inventory: Inventory, today: dt.date) -> list[Target]:
    """Every site and server of the clients monitored on ``today``, in inventory order."""
    targets = []
    for client in inventory.monitored_clients(today):
        targets.extend(Target(client, site=site) for site in client.sites)
        targets.extend(Target(client, server=server) for server in client.servers)
    return targets
