"""The inventory: who the clients are, what their contracts say, and what is monitored.

One YAML file is the single source of truth; everything else (Prometheus targets, alert routing,
SLA deadlines, dashboards) is derived from it. Loading validates the whole file and reports every
problem with the file, line and field, and what was expected.

The modules, by concern: :mod:`~owl.inventory.fields` (value types: money, rates, durations,
timezones), :mod:`~owl.inventory.contract`, :mod:`~owl.inventory.clients` (sites, servers),
:mod:`~owl.inventory.provider` (receivers, SMTP, stack, probes), :mod:`~owl.inventory.model` (the
whole file) and :mod:`~owl.inventory.loading` (YAML in, problems out). Import from here.
"""

from owl.inventory.clients import (SHOP_CMS, Backup, Checkout, Client, Contacts, Database, Server,
                                   Site)
from owl.inventory.contract import (BackupPolicy, Calendar, Contract, Holidays, PenaltyRates,
                                    ResponseTimes)
from owl.inventory.fields import format_duration, parse_duration
from owl.inventory.loading import InventoryError, load_inventory, parse_inventory
from owl.inventory.model import Inventory
from owl.inventory.provider import (DEFAULT_PROBE_INTERVALS, DEFAULT_TIMEZONE, PROBE_KINDS, Probes,
                                    ProbeSchedule, Provider, Receiver, Receivers, Reports,
                                    Smtp, Stack)

__all__ = [
    "DEFAULT_PROBE_INTERVALS", "DEFAULT_TIMEZONE", "PROBE_KINDS", "SHOP_CMS", "Backup",
    "BackupPolicy", "Calendar", "Checkout", "Client", "Contacts", "Contract", "Database", "Holidays",
    "Inventory", "InventoryError", "PenaltyRates", "Probes", "ProbeSchedule", "Provider",
    "Receiver", "Receivers", "Reports", "ResponseTimes", "Server", "Site", "Smtp", "Stack", "format_duration",
    "load_inventory", "parse_duration", "parse_inventory",
]
