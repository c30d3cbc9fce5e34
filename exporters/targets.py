"""What the exporter probes: the sites and servers of the clients that are monitored today.

A client is monitored unless its contract is terminated (from ``terminated_on`` on) or it is a
tier-0 trial whose month is over (from ``contract.trial_end`` on: a trial started on 1 June is
monitored up to 30 June included). Suspended clients stay monitored: their data keeps flowing
(SLA rules, section 6).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

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


def is_monitored(client: Client, today: dt.date) -> bool:
    """Whether ``client`` is monitored on ``today`` (its contract's local date)."""
    contract = client.contract
    if contract.status == "terminated" and today >= contract.terminated_on:
        return False
    trial_end = contract.trial_end
    return trial_end is None or today < trial_end


def provider_today(inventory: Inventory, now: dt.datetime) -> dt.date:
    """The date at ``now`` (aware) in the provider's timezone."""
    return now.astimezone(ZoneInfo(inventory.provider.timezone)).date()


def monitored_targets(inventory: Inventory, today: dt.date) -> list[Target]:
    """Every site and server of the clients monitored on ``today``, in inventory order."""
    targets = []
    for client in inventory.clients:
        if not is_monitored(client, today):
            continue
        targets.extend(Target(client, site=site) for site in client.sites)
        targets.extend(Target(client, server=server) for server in client.servers)
    return targets
