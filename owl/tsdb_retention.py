"""How long Prometheus keeps its samples: ``provider.stack.retention`` of the inventory, given to
Prometheus as ``--storage.tsdb.retention.time`` by ``owl up`` and, through the rendered
``prometheus/flags``, by docker-compose.yml.

Prometheus' own default, 15 days, is too short for this stack: a month's availability
(alert_rules/availability.yml) reads the last 32 days, and the SLA dashboard reads any of the last
six calendar months whole, that is up to 7 months of 31 days back. Less than :data:`MINIMUM` would
show wrong figures for the older months, not missing ones. tests/test_retention.py checks that
:data:`MINIMUM` is the longest range the rules and the dashboards read.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated

from pydantic import BeforeValidator

MINIMUM = dt.timedelta(days=217)
# A year back, with the month before it: a monthly report can compare a month with the same month
# a year earlier.
DEFAULT = dt.timedelta(days=400)
# A Prometheus duration (model.ParseDuration): units from the largest to the smallest, each once.
_UNITS = {"y": dt.timedelta(days=365), "w": dt.timedelta(weeks=1), "d": dt.timedelta(days=1),
          "h": dt.timedelta(hours=1), "m": dt.timedelta(minutes=1),
          "s": dt.timedelta(seconds=1), "ms": dt.timedelta(milliseconds=1)}
_DURATION = re.compile("".join(rf"(?:(\d+){unit})?" for unit in _UNITS))


def parse_retention(value) -> dt.timedelta:
    """A Prometheus duration (``400d``, ``1y``, ``60w``) of at least :data:`MINIMUM`."""
    if isinstance(value, dt.timedelta):
        retention = value
    elif isinstance(value, str) and value and (match := _DURATION.fullmatch(value)):
        try:
            retention = sum((int(count) * _UNITS[unit]
                             for unit, count in zip(_UNITS, match.groups()) if count),
                            dt.timedelta())
        except (OverflowError, ValueError):  # timedelta's range; int's limit of 4300 digits
            raise ValueError(f"{value!r} is longer than a duration can be") from None
    else:
        raise ValueError(f"{value!r} is not a Prometheus duration such as \"400d\" or \"1y\"")
    if retention < MINIMUM:
        raise ValueError(f"{value!r} is shorter than {MINIMUM.days}d, how far back the "
                         "month-based rules and dashboards read (the SLA dashboard's six past "
                         "months, each whole)")
    return retention


Retention = Annotated[dt.timedelta, BeforeValidator(parse_retention)]
