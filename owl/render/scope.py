"""Which clients are monitored on a given day (contract sections 4 and 9).

- A terminated contract stops monitoring and alerting on its ``terminated_on`` day.
- A tier-0 trial ("Découverte") is monitored for one month from ``start``; ``contract.trial_end``
  is the first day it is not (a trial started on 1 June is monitored up to 30 June included).
  The exporters read contracts the same way (``exporters.targets.is_monitored``).
- A suspended contract stays monitored: monitoring data keeps flowing, only notifications stop
  (that routing belongs to Alertmanager, not to the targets).
"""

from __future__ import annotations

import datetime as dt

from owl.inventory import Client, Contract, Inventory


def unmonitored_reason(contract: Contract, today: dt.date) -> str | None:
    """Why a contract is not monitored on ``today``, or ``None`` when it is."""
    if contract.status == "terminated" and today >= contract.terminated_on:
        return f"terminated on {contract.terminated_on.isoformat()}"
    trial_end = contract.trial_end
    if trial_end is not None and today >= trial_end:
        return f"tier-0 trial over since {trial_end.isoformat()}"
    return None


def monitored_clients(inventory: Inventory, today: dt.date) -> list[Client]:
    """The clients whose targets Prometheus scrapes on ``today``, in inventory order."""
    return [client for client in inventory.clients
            if unmonitored_reason(client.contract, today) is None]
