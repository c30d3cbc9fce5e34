"""A small client of Alertmanager's API v2: create and expire silences, list alerts.

Every call has a timeout, and every failure raises :class:`AlertmanagerError` naming the
Alertmanager, what was asked of it and why it failed: :class:`AlertmanagerRefused` when it
answered with an error or with something unreadable (asking again would get the same answer),
the base class when it could not be reached or timed out (asking later may work).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass

import requests

from sla_bridge.timefmt import rfc3339

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0


class AlertmanagerError(RuntimeError):
    """Alertmanager could not be reached, or refused the request."""


class AlertmanagerRefused(AlertmanagerError):
    """Alertmanager answered, with an error status or an answer the bridge cannot read."""


@dataclass(frozen=True)
class Matcher:
    """One label matcher of a silence: ``name="value"``, or ``name=~"regex"``."""

    name: str
    value: str
    regex: bool = False

    def to_json(self) -> dict:
        return {"name": self.name, "value": self.value, "isRegex": self.regex, "isEqual": True}


def any_of(values: Iterable[str]) -> str:
    """A regular expression matching exactly one of ``values`` (Alertmanager anchors it)."""
    return "|".join(re.escape(value) for value in values)


class Alertmanager:
    def __init__(self, url: str, timeout: float = READ_TIMEOUT):
        self.url = url.rstrip("/")
        self.timeout = (CONNECT_TIMEOUT, timeout)

    def create_silence(self, matchers: list[Matcher], starts_at: dt.datetime,
                       ends_at: dt.datetime, created_by: str, comment: str) -> str:
        """Create a silence and return its id."""
        body = {"matchers": [m.to_json() for m in matchers], "startsAt": rfc3339(starts_at),
                "endsAt": rfc3339(ends_at), "createdBy": created_by, "comment": comment}
        answer = self._json("POST", "/api/v2/silences", "create a silence", json=body)
        if not isinstance(answer, dict) or not isinstance(answer.get("silenceID"), str):
            raise AlertmanagerRefused(f"cannot create a silence: Alertmanager at {self.url} "
                                      "answered without a silence id")
        return answer["silenceID"]

    def expire_silence(self, silence_id: str) -> None:
        """Expire a silence now. Expiring one that is already expired or gone is not an error."""
        try:
            self._request("DELETE", f"/api/v2/silence/{silence_id}",
                          f"expire silence {silence_id}")
        except AlertmanagerError:
            # Alertmanager 0.25 answers 500 "silence not found" for an unknown id: ask again.
            silence = self.silence(silence_id)
            if silence is not None and silence["status"]["state"] != "expired":
                raise

    def silence(self, silence_id: str) -> dict | None:
        """One silence as Alertmanager describes it, or None if it does not know it."""
        return self._json("GET", f"/api/v2/silence/{silence_id}", f"read silence {silence_id}",
                          allow=(404,))

    def alerts(self, *, active: bool = True, silenced: bool = True,
               inhibited: bool = True) -> list[dict]:
        """The alerts Alertmanager holds that have not ended, filtered by their state."""
        params = {"active": _flag(active), "silenced": _flag(silenced),
                  "inhibited": _flag(inhibited)}
        return self._json("GET", "/api/v2/alerts", "list alerts", params=params)

    def _json(self, method: str, path: str, what: str, allow: tuple[int, ...] = (), **kwargs):
        """The decoded answer; None for an allowed error status."""
        response = self._request(method, path, what, allow, **kwargs)
        if not response.ok:
            return None
        try:
            return response.json()
        except ValueError:
            raise AlertmanagerRefused(f"cannot {what}: Alertmanager at {self.url} answered "
                                      "something that is not JSON") from None

    def _request(self, method: str, path: str, what: str, allow: tuple[int, ...] = (),
                 **kwargs) -> requests.Response:
        try:
            response = requests.request(method, self.url + path, timeout=self.timeout, **kwargs)
        except requests.RequestException as exc:
            raise AlertmanagerError(f"cannot {what}: Alertmanager at {self.url} is unreachable "
                                    f"({exc.__class__.__name__})") from None
        if not response.ok and response.status_code not in allow:
            raise AlertmanagerRefused(f"cannot {what}: Alertmanager at {self.url} refused it, "
                                      f"answering {response.status_code}: "
                                      f"{response.text.strip()[:300]}")
        return response


def _flag(value: bool) -> str:
    return "true" if value else "false"
