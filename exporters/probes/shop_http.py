"""HTTP calls of one shop run: any method, JSON or form bodies, the shop's cookies, one deadline.

Like :class:`exporters.probes.http.Fetcher`, every call gets what is left of the run's deadline,
checked again between reads of the body, and bodies are cut at a size cap. Unlike it, redirects
are not followed (an API call answered by a redirect is a misconfigured URL, and a redirected POST
turns into a GET), and every URL is checked against the platform's order-placing endpoints before
it is sent: the probe refuses to call them, whatever a bug elsewhere might ask.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any, Mapping

import requests
import urllib3

from exporters.probe import ProbeError
from exporters.probes.http import USER_AGENT

MAX_BODY_BYTES = 2 * 1024 * 1024
_CHUNK = 64 * 1024


class OrderEndpointRefused(ProbeError):
    """The URL could place an order: never called."""


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
        self.timeout = timeout
        self.forbidden = forbidden
        self._deadline = time.monotonic() + timeout
        self._session = requests.Session()
        self._session.headers["User-Agent"] = USER_AGENT

    def renew(self, timeout: float):
        """A fresh deadline, for the cleanup after a run that used up its own."""
        self.timeout = timeout
        self._deadline = time.monotonic() + timeout

    def close(self):
        self._session.close()

    def call(self, method: str, url: str, *, json_body: Any = None,
             form: Mapping[str, str] | None = None,
             headers: Mapping[str, str] | None = None) -> Answer:
        """Send one request; raise ProbeError (or OrderEndpointRefused) when it cannot be done."""
        for pattern in self.forbidden:
            if pattern.search(url):
                raise OrderEndpointRefused(f"refusing {method} {url}: it could place an order")
        try:
            with self._session.request(method, url, json=json_body, data=form,
                                       headers=headers, timeout=self._remaining(method, url),
                                       allow_redirects=False, stream=True) as response:
                body = self._read(method, url, response)
                return Answer(method, url, response.status_code, response.headers, body)
        except (requests.Timeout, urllib3.exceptions.TimeoutError):
            raise self._timeout(method, url) from None
        except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
            raise ProbeError(f"{method} {url}: {exc}") from None

    def _read(self, method: str, url: str, response: requests.Response) -> bytes:
        body = bytearray()
        while chunk := response.raw.read1(_CHUNK, decode_content=True):
            body += chunk
            if len(body) > MAX_BODY_BYTES:
                raise ProbeError(f"{method} {url}: answer larger than {MAX_BODY_BYTES} bytes")
            self._remaining(method, url)
        return bytes(body)

    def _remaining(self, method: str, url: str) -> float:
        remaining = self._deadline - time.monotonic()
        if remaining <= 0:
            raise self._timeout(method, url)
        return remaining

    def _timeout(self, method: str, url: str) -> ProbeError:
        return ProbeError(f"{method} {url}: no complete answer within the {self.timeout:g}s "
                          "timeout")
