"""What the API (``sla_bridge.api``) and the pages (``sla_bridge.web``) share of a request: the
running bridge, and the reading of the ids a path carries."""

from __future__ import annotations

import re

from flask import current_app

MAX_ID = 2**63 - 1  # a 64-bit signed integer: the id columns of SQLite and PostgreSQL
DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: str.isdigit also accepts '²'


def bridge():
    """The :class:`sla_bridge.app.Bridge` of the running application."""
    return current_app.extensions["owl"]


def whole_number(raw: str, maximum: int = MAX_ID) -> int | None:
    """``raw`` as an integer of ASCII digits from 0 to ``maximum``; None if it is not one."""
    if not DIGITS.fullmatch(raw) or int(raw) > maximum:
        return None
    return int(raw)
