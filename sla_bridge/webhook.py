"""Alertmanager's webhook payload (version 4), validated into :class:`AlertNotice` values.

Every problem names the field it is about, e.g. ``alerts[3].startsAt``.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from sla_bridge.engine.alerts import AlertNotice

UTC = dt.timezone.utc
# Alertmanager writes Go's zero time for "no end" on firing alerts.
_ZERO_TIME_YEAR = 1


class PayloadError(ValueError):
    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"{field}: {message}")


def parse_time(value, field: str) -> dt.datetime | None:
    """RFC 3339 with a timezone; Go's zero time means none."""
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


def _string_map(value, field: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise PayloadError(field, "expected an object of string values")
    return dict(value)


def fingerprint_of(labels: dict[str, str]) -> str:
    """For payloads without a fingerprint (imports): a stable digest of the label set."""
    canonical = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def parse_alert(alert, index: int, received_at: dt.datetime) -> AlertNotice:
    where = f"alerts[{index}]"
    if not isinstance(alert, dict):
        raise PayloadError(where, "expected an object")
    status = alert.get("status")
    if status not in ("firing", "resolved"):
        raise PayloadError(f"{where}.status", "expected 'firing' or 'resolved'")
    labels = _string_map(alert.get("labels"), f"{where}.labels")
    annotations = _string_map(alert.get("annotations", {}), f"{where}.annotations")
    starts_at = parse_time(alert.get("startsAt"), f"{where}.startsAt")
    if starts_at is None:
        raise PayloadError(f"{where}.startsAt", "is required")
    ends_raw = alert.get("endsAt")
    ends_at = parse_time(ends_raw, f"{where}.endsAt") if ends_raw is not None else None
    fingerprint = alert.get("fingerprint") or fingerprint_of(labels)
    if not isinstance(fingerprint, str) or len(fingerprint) > 64:
        raise PayloadError(f"{where}.fingerprint", "expected a string of at most 64 characters")
    return AlertNotice(fingerprint=fingerprint, status=status, starts_at=starts_at,
                       ends_at=ends_at if status == "resolved" else None,
                       received_at=received_at, labels=labels, annotations=annotations)


def parse_payload(payload, received_at: dt.datetime) -> list[AlertNotice]:
    if not isinstance(payload, dict):
        raise PayloadError("(body)", "expected a JSON object")
    version = payload.get("version")
    if version != "4":
        raise PayloadError("version", f"expected \"4\" (Alertmanager webhook), got {version!r}")
    alerts = payload.get("alerts")
    if not isinstance(alerts, list):
        raise PayloadError("alerts", "expected a list")
    return [parse_alert(alert, index, received_at) for index, alert in enumerate(alerts)]
