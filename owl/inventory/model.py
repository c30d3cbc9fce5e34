"""The whole inventory: the provider and its clients, and what is derived from both."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from pydantic import Field

from owl.inventory.clients import Client
from owl.inventory.contract import Calendar
from owl.inventory.fields import StrictModel
from owl.inventory.provider import Provider


class Inventory(StrictModel):
    provider: Provider
    clients: list[Client] = Field(default_factory=list)

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.id == client_id), None)

    def calendar_for(self, client: Client) -> Calendar:
        return client.contract.calendar or self.provider.calendar

    def timezone_for(self, client: Client) -> str:
        return self.calendar_for(client).timezone or self.provider.timezone

    def today(self, now: dt.datetime) -> dt.date:
        """The date at ``now`` (aware) in the provider's timezone."""
        return now.astimezone(ZoneInfo(self.provider.timezone)).date()

    def monitored_clients(self, today: dt.date) -> list[Client]:
        """The clients monitored on ``today``, in inventory order."""
        return [c for c in self.clients if c.contract.unmonitored_reason(today) is None]

    def summary(self) -> str:
        sites = sum(len(c.sites) for c in self.clients)
        servers = sum(len(c.servers) for c in self.clients)
        return (f"{len(self.clients)} clients, {sites} sites, {servers} servers "
                f"({self.provider.name}, {self.provider.timezone})")
