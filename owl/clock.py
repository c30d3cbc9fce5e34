"""The real clock. Whatever decides by the time takes a ``clock`` (or ``now``) argument, so that
tests can give another; this is its default."""

from __future__ import annotations

import datetime as dt


def utc_now() -> dt.datetime:
    """Now, as an aware datetime in UTC."""
    return dt.datetime.now(dt.timezone.utc)
