"""The value types of the inventory's fields, each validated where it is read.

Money and rates are exact decimals, never floats; durations are Prometheus-style (``4h``);
timezones are IANA names; secrets are files, never the secret itself.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from typing import Annotated
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")
# What a web address may hold written as is: it goes into YAML, templates and HTML attributes.
_WEB_ADDRESS_CHARACTERS = re.compile(r"^[A-Za-z0-9._~:/\[\]%-]+$")


def _money(value):
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{value!r} is a float, which is not exact: "
                         'write the amount as a quoted string such as "1200.00"')
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal amount such as \"1200.00\"") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"{value!r} must be a finite amount, zero or more")
        try:
            cents = amount.quantize(Decimal("0.01"))
        except InvalidOperation:  # more digits than decimal's precision, 28
            raise ValueError(f"{value!r} is too large an amount") from None
        if amount != cents:
            raise ValueError(f"{value!r} has more than two decimal places")
        return amount
    raise ValueError(f"expected a decimal amount as a quoted string, got {type(value).__name__}")


def _rate(value):
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{value!r} is a float, which is not exact: "
                         'write the rate as a quoted string such as "0.015"')
    if isinstance(value, (int, str, Decimal)):
        try:
            rate = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal rate such as \"0.015\"") from None
        if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
            raise ValueError(f"{value!r} must be a rate between 0 and 1 (\"0.03\" is 3 %)")
        return rate
    raise ValueError(f"expected a decimal rate as a quoted string, got {type(value).__name__}")


def parse_duration(value) -> dt.timedelta:
    """Prometheus-style duration: ``4h``, ``30m``, ``1d12h``, ``90s``."""
    if isinstance(value, dt.timedelta):
        return value
    if not isinstance(value, str) or not value or not (match := _DURATION.match(value)):
        raise ValueError(f"{value!r} is not a duration such as \"4h\", \"30m\" or \"2d\"")
    try:
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except (OverflowError, ValueError):  # timedelta's range; int's limit of 4300 digits
        raise ValueError(f"{value!r} is longer than a duration can be") from None


def format_duration(value: dt.timedelta) -> str:
    """The inverse of :func:`parse_duration`, in the form Prometheus and Alertmanager accept."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _timezone(value):
    if not isinstance(value, str):
        raise ValueError(f"expected an IANA timezone name such as \"Europe/Paris\", got {value!r}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known IANA timezone "
                         "(for example \"Europe/Paris\")") from None
    return value


def _web_address(value):
    """An http(s) URL without query or fragment, without its trailing slash."""
    example = '"https://owl.example.fr"'
    if not isinstance(value, str) or not value:
        raise ValueError(f"expected an http or https URL such as {example}")
    parts = urlsplit(value)
    if parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{value!r} is not an http or https URL such as {example}")
    if "?" in value or "#" in value:
        raise ValueError(f"{value!r} must have no query (?...) or fragment (#...)")
    if not _WEB_ADDRESS_CHARACTERS.match(value) or "@" in parts.netloc:
        raise ValueError(f"{value!r} may hold letters, digits and . _ ~ : / [ ] % - only "
                         "(no credentials, spaces or quotes; an IDN in its xn-- form)")
    try:
        parts.port  # urlsplit checks the port only when asked for it
    except ValueError:
        raise ValueError(f"{value!r} has an invalid port") from None
    if not parts.hostname:
        raise ValueError(f"{value!r} has no host")
    return f"{parts.scheme.lower()}://{parts.netloc}{parts.path.rstrip('/')}"


def _secret_file(value):
    if not isinstance(value, str) or not value:
        raise ValueError("expected the path of a file holding the secret")
    return value


Money = Annotated[Decimal, BeforeValidator(_money)]
Rate = Annotated[Decimal, BeforeValidator(_rate)]
Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]
TimezoneName = Annotated[str, BeforeValidator(_timezone)]
Identifier = Annotated[str, Field(pattern=_ID)]
SecretFile = Annotated[str, BeforeValidator(_secret_file)]
WebAddress = Annotated[str, BeforeValidator(_web_address)]


class StrictModel(BaseModel):
    """Every model of the inventory: unknown keys refused, no type coercion, immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
