"""HTTP calls of one shop run: any method, JSON or form bodies, the shop's cookies, one deadline.

Sent by :func:`exporters.probes.http.send`, as the GETs of :class:`exporters.probes.http.Fetcher`
are: every call gets what is left of the run's deadline, checked again between reads of the body,
and bodies are read up to the same size cap. Unlike a GET, an answer over the cap is an error, not
cut; redirects are not followed (an API call answered by a redirect is a misconfigured URL, and a
redirected POST turns into a GET), and every URL is checked against the platform's order-placing
endpoints before it is sent: the probe refuses to call them, whatever a bug elsewhere might ask.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, Mapping

from exporters.probe import ProbeError
from exporters.probes.http import MAX_BODY_BYTES, Deadline, probe_session, send


class OrderEndpointRefused(ProbeError):
    """The URL could place an order: never called."""


class _ShopDeadline(Deadline):
    # the shop's timeouts have always been plain ProbeErrors, the seconds shown as "20s"
    def expired(self, request: str) -> ProbeError:
        return ProbeError(f"{request}: no complete answer within the {self.timeout:g}s timeout")


@dataclass(frozen=True)
class Answer:
    method: str
    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError):
            raise ProbeError(f"{self.method} {self.url}: HTTP {self.status}, the answer is not "
                             "JSON") from None

    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


class ShopSession:
    """Calls sharing a deadline of ``timeout`` seconds from creation (or from :meth:`renew`)."""

    def __init__(self, timeout: float, forbidden: tuple[re.Pattern, ...] = ()):
        self.forbidden = forbidden
        self._deadline = _ShopDeadline(timeout)
        self._session = probe_session()

    def renew(self, timeout: float):
        """A fresh deadline, for the cleanup after a run that used up its own."""
        self._deadline.renew(timeout)

    def close(self):
        """Close the connections; the session can still call (on new ones), with its cookies:
        a cart left by a run is emptied with it later."""
        self._session.close()

    def call(self, method: str, url: str, *, json_body: Any = None,
             form: Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None) -> Answer:
        """Send one request; raise ProbeError (or OrderEndpointRefused) when it cannot be done."""
        for pattern in self.forbidden:
            if pattern.search(url):
                raise OrderEndpointRefused(f"refusing {method} {url}: it could place an order")
        # one byte over the cap tells an answer at the cap from a larger one
        answer = send(self._session, self._deadline, method, url, MAX_BODY_BYTES + 1,
                      json=json_body, data=form, headers=headers, allow_redirects=False)
        if answer.truncated:
            raise ProbeError(f"{method} {url}: answer larger than {MAX_BODY_BYTES} bytes")
        return Answer(method, url, answer.status, answer.headers, answer.body)
