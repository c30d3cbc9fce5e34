"""One alert as Alertmanager reports it, normalized for the engine."""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

# The always-firing heartbeat of alert_rules/stack.yml (alert_rules.WATCHDOG_ALERT, which the
# engine may not import; tests/test_severities.py holds the two equal).
WATCHDOG_ALERT = "Watchdog"
SEVERITIES = ("critical", "major", "minor")
# Severities outside the contract: none said (the Watchdog's "none", or no label), or one the
# contract does not know ("urgent"), which is provider-internal, without SLA: the incident keeps
# this bounded value and the label as sent stays in its labels.
NO_SEVERITY, UNKNOWN_SEVERITY = "none", "unknown"
TARGET_LABELS = ("site", "server")


def targets_of(labels: dict[str, str]) -> tuple[str, ...]:
    """Every monitored target an alert's labels name: a site, a server, or both."""
    return tuple(labels[name] for name in TARGET_LABELS if labels.get(name))


@dataclass(frozen=True)
class AlertNotice:
    """A firing or resolved alert instance, received at ``received_at`` (the bridge's clock)."""

    fingerprint: str
    status: str  # "firing" | "resolved"
    starts_at: dt.datetime
    ends_at: dt.datetime | None
    received_at: dt.datetime
    labels: dict[str, str] = field(default_factory=dict)
    annotations: dict[str, str] = field(default_factory=dict)

    @property
    def client(self) -> str | None:
        return self.labels.get("client") or None

    @property
    def severity(self) -> str:
        """A contract severity, ``""`` or ``NO_SEVERITY`` for none, else ``UNKNOWN_SEVERITY``."""
        sent = self.labels.get("severity", "").lower()
        return sent if sent in (*SEVERITIES, NO_SEVERITY, "") else UNKNOWN_SEVERITY

    @property
    def unknown_severity(self) -> bool:
        """A severity label the contract does not know (not a heartbeat's "none")."""
        return self.severity == UNKNOWN_SEVERITY

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def target(self) -> str | None:
        """The monitored site or server the alert is about, if it names one."""
        return next((self.labels[name] for name in TARGET_LABELS if self.labels.get(name)), None)

    @property
    def targets(self) -> tuple[str, ...]:
        return targets_of(self.labels)

    @property
    def security(self) -> bool:
        return self.labels.get("category") == "security"

    @property
    def heartbeat(self) -> bool:
        """The provider's always-firing Watchdog: news of the pipeline, not an incident."""
        return self.labels.get("alertname") == WATCHDOG_ALERT and self.client is None

    @property
    def clock_start(self) -> dt.datetime:
        """``startsAt``, unless it lies in the future (clock skew): then the receipt time."""
        return min(self.starts_at, self.received_at)

    @functools.cached_property
    def dedup_key(self) -> str:
        """Identical for every delivery of the same news about the same alert instance."""
        if self.status == "firing":
            return f"{self.fingerprint}|firing|{self.starts_at.isoformat()}"
        ends = self.ends_at.isoformat() if self.ends_at else ""
        return f"{self.fingerprint}|resolved|{self.starts_at.isoformat()}|{ends}"
