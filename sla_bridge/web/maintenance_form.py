"""The form that plans a maintenance window: what the operator typed, kept to show it again, and
its reading into the :class:`~sla_bridge.maintenance.WindowRequest` the API's service takes.

Times are typed as ``datetime-local`` values in the client's timezone (that of its opening
hours) and converted to UTC with that zone's rules of the day typed, summer time included. A
time the clocks skip (02:30 on the last Sunday of March in Paris) is refused; one they pass
twice (02:30 on the last Sunday of October) is read as its first occurrence.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from flask import request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from owl.inventory import Client, Inventory
from sla_bridge.maintenance import WindowRequest
from sla_bridge.webhook import FIRST_YEAR, LAST_YEAR

UTC = dt.timezone.utc
TARGET_SEPARATOR = ":"  # a target's checkbox is "client:target": two clients may share an id
FIELD_LABELS = {"client": _l("Client"), "targets": _l("Targets"), "starts_at": _l("Start"),
                "ends_at": _l("End"), "description": _l("Description"),
                "emergency": _l("Emergency")}


class FormError(ValueError):
    """What is wrong with the form, and where: ``field`` is one of FIELD_LABELS, or None for
    the whole form; ``status`` is the page's HTTP status."""

    def __init__(self, field: str | None, message: str, status: int = 400):
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


@dataclass(frozen=True)
class PlanForm:
    client: str = ""
    targets: tuple[str, ...] = ()  # the ticked "client:target" values
    starts_at: str = ""  # as typed: YYYY-MM-DDTHH:MM in the client's timezone
    ends_at: str = ""
    description: str = ""
    emergency: bool = False

    @classmethod
    def from_request(cls) -> PlanForm:
        form = request.form
        return cls(client=form.get("client", "").strip(),
                   targets=tuple(dict.fromkeys(form.getlist("targets"))),
                   starts_at=form.get("starts_at", "").strip(),
                   ends_at=form.get("ends_at", "").strip(),
                   description=form.get("description", "").strip(),
                   emergency=form.get("emergency") == "y")

    def window_request(self, inventory: Inventory) -> WindowRequest:
        """The request the service checks; raise FormError for what it cannot read."""
        client = inventory.client(self.client)
        if client is None:
            raise FormError("client", _("Choose a client of the inventory."))
        timezone = inventory.timezone_for(client)
        return WindowRequest(client=client.id, targets=self._target_ids(client),
                             starts_at=local_time(self.starts_at, timezone, "starts_at"),
                             ends_at=local_time(self.ends_at, timezone, "ends_at"),
                             description=self.description, emergency=self.emergency)

    def _target_ids(self, client: Client) -> tuple[str, ...] | None:
        """The ticked targets of ``client``; None (every target) when none is ticked."""
        ids = []
        for value in self.targets:
            owner, _sep, target = value.partition(TARGET_SEPARATOR)
            if owner != client.id:
                raise FormError("targets", _(
                    "%(target)s is not a target of %(client)s: tick only the chosen client's.",
                    target=target or value, client=client.name))
            ids.append(target)
        return tuple(ids) or None


def target_value(client: Client, target_id: str) -> str:
    return f"{client.id}{TARGET_SEPARATOR}{target_id}"


def local_time(text: str, timezone: str, field: str) -> dt.datetime:
    """``text`` (a ``datetime-local`` value) as a wall time of ``timezone``, in UTC."""
    try:
        naive = dt.datetime.fromisoformat(text) if text else None
    except ValueError:
        naive = None
    if naive is None or naive.tzinfo is not None:
        raise FormError(field, _("Give a date and a time, such as 2025-03-31 22:00."))
    if not FIRST_YEAR <= naive.year <= LAST_YEAR:
        raise FormError(field, _("The year must be from %(first)s to %(last)s.",
                                 first=FIRST_YEAR, last=LAST_YEAR))
    zone = ZoneInfo(timezone)
    instant = naive.replace(tzinfo=zone).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != naive:
        raise FormError(field, _(
            "%(time)s does not exist in %(timezone)s: the clocks go forward at that hour. "
            "Choose a time before or after the change.",
            time=naive.strftime("%H:%M"), timezone=timezone))
    return instant

