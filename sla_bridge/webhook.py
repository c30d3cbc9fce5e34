"""Alertmanager's webhook payload (version 4), validated into :class:`AlertNotice` values.

Every problem names the field it is about, e.g. ``alerts[3].startsAt``. What Alertmanager accepts
the bridge stores: a value the database could not take is made storable here, at the edge, and
counted (:class:`Altered`), rather than refused, since Alertmanager does not retry a 4xx and the
alert would be lost:

- a NUL byte or a lone surrogate (JSON ``"\\ud800"``) in a label's or annotation's name or value,
  or in the fingerprint, becomes U+FFFD (PostgreSQL refuses both in text, SQLite's driver the
  second);
- a label value longer than the column it lands in (``COLUMN_LIMITS``) is cut, with a digest of
  the whole value at its end so that two long values stay two.

Times are refused (400) when they fall outside the years ``FIRST_YEAR`` to ``LAST_YEAR`` once in
UTC: no month or deadline can be computed for them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections import Counter
from itertools import chain
from dataclasses import dataclass, field

from sla_bridge.engine.alerts import AlertNotice

UTC = dt.timezone.utc
# Alertmanager writes Go's zero time for "no end" on firing alerts.
_ZERO_TIME_YEAR = 1
# Years whose months and times the engine computes in any timezone without leaving datetime's
# range (1..9999): a month's end is the next month's first day, a UTC time moves by a day at most.
# The API's months and times (sla_bridge.api.common) use the same.
FIRST_YEAR, LAST_YEAR = 1970, 9998
OUTSIDE_YEARS = f"the time must fall in the years {FIRST_YEAR} to {LAST_YEAR} once in UTC"
# The labels that land in a bounded column (sla_bridge.storage.schema: incidents.alertname,
# severity, target, client; events.client), by the length of that column.
COLUMN_LIMITS = {"alertname": 255, "severity": 32, "site": 128, "server": 128, "client": 64}
MAX_FINGERPRINT = 64
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # json.loads joins valid surrogate pairs
REPLACEMENT = "\ufffd"
DIGEST_CHARS = 8
# Reasons of owl_bridge_alert_values_altered_total.
REPLACED, TRUNCATED = "replaced", "truncated"


class PayloadError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass
class Delivery:
    """A webhook payload read: its alerts, and what Alertmanager says of the group."""

    notices: list[AlertNotice]
    altered: Counter = field(default_factory=Counter)  # reason -> values changed to be stored
    truncated: int = 0  # alerts of the group left out by the receiver's max_alerts
    group_labels: dict[str, str] = field(default_factory=dict)
    receiver: str | None = None


def parse_time(value, field: str) -> dt.datetime | None:
    """RFC 3339 with a timezone; Go's zero time means none.

    Raises ``OverflowError`` for a time that leaves datetime's range in UTC; see
    :func:`alert_time` for the check of the years.
    """
    if not isinstance(value, str):
        raise PayloadError(field, "expected an RFC 3339 timestamp string")
    text = value.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    # Go prints up to nine fractional digits; Python reads six.
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise PayloadError(field, f"{value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise PayloadError(field, f"{value!r} has no timezone")
    if parsed.year <= _ZERO_TIME_YEAR:
        return None
    return parsed.astimezone(UTC)


def alert_time(value, field: str) -> dt.datetime | None:
    """:func:`parse_time`, refusing times outside ``FIRST_YEAR`` to ``LAST_YEAR`` in UTC."""
    try:
        parsed = parse_time(value, field)
    except OverflowError:  # 9999-12-31T23:30:00-01:00 is in year 10000 in UTC
        raise PayloadError(field, OUTSIDE_YEARS) from None
    if parsed is not None and not FIRST_YEAR <= parsed.year <= LAST_YEAR:
        raise PayloadError(field, OUTSIDE_YEARS)
    return parsed


def storable(text: str, altered: Counter) -> str:
    """``text`` with the characters no database stores (NUL, lone surrogates) replaced."""
    cleaned, count = UNSTORABLE.subn(REPLACEMENT, text)
    if count:
        altered[REPLACED] += 1
    return cleaned


def bounded(text: str, limit: int, altered: Counter | None = None) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and a digest of all of it."""
    if len(text) <= limit:
        return text
    if altered is not None:
        altered[TRUNCATED] += 1
    digest = hashlib.sha256(text.encode()).hexdigest()[:DIGEST_CHARS]
    return f"{text[:limit - DIGEST_CHARS - 1]}~{digest}"


def _is_string_map(value) -> bool:
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items())


def _string_map(value, field: str, altered: Counter) -> dict[str, str]:
    if not _is_string_map(value):
        raise PayloadError(field, "expected an object of string values")
    if UNSTORABLE.search("".join(chain.from_iterable(value.items()))) is None:
        return dict(value)  # the usual case, one search instead of one per key and value
    return {storable(k, altered): storable(v, altered) for k, v in value.items()}


def _labels(value, field: str, altered: Counter) -> dict[str, str]:
    labels = _string_map(value, field, altered)
    for name, limit in COLUMN_LIMITS.items():
        if name in labels:
            labels[name] = bounded(labels[name], limit, altered)
    return labels


def fingerprint_of(labels: dict[str, str]) -> str:
    """For payloads without a fingerprint (imports): a stable digest of the label set."""
    canonical = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse_alert(alert, index: int, received_at: dt.datetime,
                altered: Counter | None = None) -> AlertNotice:
    """One alert of a payload; what had to change to be stored is counted in ``altered``."""
    altered = Counter() if altered is None else altered
    where = f"alerts[{index}]"
    if not isinstance(alert, dict):
        raise PayloadError(where, "expected an object")
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError(f"{where}.status", "expected 'firing' or 'resolved'")
    labels = _labels(alert.get("labels"), f"{where}.labels", altered)
    annotations = _string_map(alert.get("annotations", {}), f"{where}.annotations", altered)
    starts_at = alert_time(alert.get("startsAt"), f"{where}.startsAt")
    if starts_at is None:
        raise PayloadError(f"{where}.startsAt", "is required")
    # A firing alert's endsAt is only Prometheus' guess at when it will stop (the bridge ignores
    # it): an unreadable one must not make Alertmanager drop the whole group with a 400.
    ends_raw = alert.get("endsAt") if status == "resolved" else None
    ends_at = alert_time(ends_raw, f"{where}.endsAt") if ends_raw is not None else None
    fingerprint = alert.get("fingerprint") or fingerprint_of(labels)
    if not isinstance(fingerprint, str) or len(fingerprint) > MAX_FINGERPRINT:
        raise PayloadError(f"{where}.fingerprint", "expected a string of at most 64 characters")
    return AlertNotice(fingerprint=storable(fingerprint, altered), status=status,
                       starts_at=starts_at, ends_at=ends_at,
                       received_at=received_at, labels=labels, annotations=annotations)


def parse_delivery(payload, received_at: dt.datetime) -> Delivery:
    """A whole payload: its alerts, what was altered, and how many ``max_alerts`` left out."""
    if not isinstance(payload, dict):
        raise PayloadError("(body)", "expected a JSON object")
    version = payload.get("version")
    if version != "4":
        raise PayloadError("version", f"expected \"4\" (Alertmanager webhook), got {version!r}")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("alerts", "expected a list")
    truncated = payload.get("truncatedAlerts", 0)
    if isinstance(truncated, bool) or not isinstance(truncated, int) or truncated < 0:
        raise PayloadError("truncatedAlerts", "expected a whole number")
    altered = Counter()
    notices = [parse_alert(alert, index, received_at, altered)
               for index, alert in enumerate(alerts)]
    group_labels = (payload.get("groupLabels") or {}) if truncated else {}
    if not _is_string_map(group_labels):
        raise PayloadError("groupLabels", "expected an object of string values")
    receiver = payload.get("receiver")
    return Delivery(notices, altered, truncated, dict(group_labels),
                    receiver if isinstance(receiver, str) else None)


def parse_payload(payload, received_at: dt.datetime) -> list[AlertNotice]:
    return parse_delivery(payload, received_at).notices
