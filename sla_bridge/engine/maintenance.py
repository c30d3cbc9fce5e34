"""Maintenance windows and the 48-hour notice rule (contract section 5b)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

NOTICE = dt.timedelta(hours=48)


@dataclass(frozen=True)
class MaintenanceWindow:
    id: int
    client: str
    targets: tuple[str, ...] | None  # None: every target of the client
    starts_at: dt.datetime
    ends_at: dt.datetime
    emergency: bool
    announced_at: dt.datetime
    cancelled_at: dt.datetime | None = None

    @property
    def planned(self) -> bool:
        """Announced with the contract's notice: only such windows take incidents off the SLA."""
        return not self.emergency and self.starts_at - self.announced_at >= NOTICE

    @property
    def end(self) -> dt.datetime:
        """When the window ends: at its planned end, or when it was cancelled."""
        return min(self.ends_at, self.cancelled_at) if self.cancelled_at else self.ends_at

    def active_at(self, at: dt.datetime) -> bool:
        return self.starts_at <= at < self.end

    def takes_in(self, client: str | None, targets: tuple[str, ...]) -> bool:
        """Whether the window is for ``client`` and one of ``targets`` (site or server ids);
        a window that names no target takes in all of the client's."""
        return client == self.client and (
            self.targets is None or any(t in self.targets for t in targets))

    def covers(self, client: str | None, targets: tuple[str, ...], at: dt.datetime) -> bool:
        """Whether an incident of ``client`` about ``targets`` starting ``at`` falls in this
        planned window, and so out of the SLA."""
        return self.planned and self.active_at(at) and self.takes_in(client, targets)


def notice_problem(starts_at: dt.datetime, ends_at: dt.datetime, announced_at: dt.datetime,
                   emergency: bool) -> str | None:
    """Why a window cannot be accepted as announced, or None."""
    if ends_at <= starts_at:
        return "end must be after start"
    if ends_at <= announced_at:
        return "the window is already over"
    if not emergency and starts_at - announced_at < NOTICE:
        return ("a maintenance window must be announced at least 48 hours before it starts "
                "(section 5b); mark it emergency to silence notifications without "
                "removing incidents from the SLA")
    return None


def covering_window(windows: list[MaintenanceWindow], client: str | None,
                    targets: tuple[str, ...], at: dt.datetime) -> MaintenanceWindow | None:
    return next((w for w in windows if w.covers(client, targets, at)), None)
