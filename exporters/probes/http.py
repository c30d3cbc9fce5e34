"""HTTP requests for a probe run: one deadline for the whole run, a user agent, a size cap.

requests' own timeout bounds each connect and each socket read, not a whole answer: a site dribbling
a byte a second would never time out. :func:`send` gives each request what is left of the run's
:class:`Deadline` as its timeout and also checks the deadline between reads of the body, so a run
ends at the latest about one timeout after its deadline (a read started just before it may wait
that long; the run is reported as failed either way, see :func:`exporters.probe.run_probe`).
It reads bodies up to a size cap, keeping what was read (the markers probes look for are near
the top of a page). :class:`exporters.probes.fetcher.Fetcher` GETs pages with it;
:class:`exporters.probes.shop_http.ShopSession` sends the shop probe's API calls with it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from importlib.metadata import version
from typing import Mapping

import requests
import urllib3

from exporters.probe import ProbeError

USER_AGENT = f"owl-monitoring/{version('owl-monitoring')}"
MAX_BODY_BYTES = 2 * 1024 * 1024
MAX_REDIRECTS = 5
_CHUNK = 64 * 1024


class ProbeTimeout(ProbeError):
    """The run's deadline passed before an answer was complete."""


class Deadline:
    """``timeout`` seconds from creation (or from :meth:`renew`), for all the requests of a run."""

    def __init__(self, timeout: float):
        self.renew(timeout)

    def renew(self, timeout: float):
        self.timeout = timeout
        self._at = time.monotonic() + timeout

    def remaining(self, request: str) -> float:
        """Seconds left for ``request`` (``GET https://...``); raise :meth:`expired` if none."""
        remaining = self._at - time.monotonic()
        if remaining <= 0:
            raise self.expired(request)
        return remaining

    def expired(self, request: str) -> ProbeError:
        return ProbeTimeout(f"{request}: no complete answer within the {self.timeout}s timeout")


@dataclass(frozen=True)
class Fetched:
    """An answer: final URL (after redirects), status, headers and (possibly cut) body."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: bytes
    truncated: bool = False

    def text(self) -> str:
        """The body decoded with the charset of Content-Type, UTF-8 if none is given."""
        charset = "utf-8"
        for part in self.headers.get("Content-Type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                charset = value.strip('"')
        try:
            return self.body.decode(charset, errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")


def probe_session() -> requests.Session:
    """A session sending the exporter's user agent."""
    session = requests.Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


def send(session: requests.Session, deadline: Deadline, method: str, url: str, max_bytes: int,
         **options) -> Fetched:
    """Send one request (``options``: requests' ``json``, ``data``, ``allow_redirects``...) and
    read its body, up to ``max_bytes`` (``truncated``: cut there), within ``deadline``.

    Raise ``deadline.expired(...)`` when it passes, :class:`ProbeError` when the request fails.
    """
    request = f"{method} {url}"
    try:
        with session.request(method, url, timeout=deadline.remaining(request), stream=True,
                             **options) as response:
            body, truncated = _read(response, deadline, request, max_bytes)
            return Fetched(response.url, response.status_code, response.headers, body, truncated)
    except (requests.Timeout, urllib3.exceptions.TimeoutError):
        raise deadline.expired(request) from None
    except (requests.RequestException, urllib3.exceptions.HTTPError) as exc:
        # reading the body through response.raw raises urllib3's errors, not requests'
        raise ProbeError(f"{request}: {exc}") from None


def _read(response: requests.Response, deadline: Deadline, request: str,
          max_bytes: int) -> tuple[bytes, bool]:
    body = bytearray()
    # read1 returns what has arrived, so the deadline is checked however slow the site is
    while chunk := response.raw.read1(_CHUNK, decode_content=True):
        body += chunk
        if len(body) >= max_bytes:
            return bytes(body[:max_bytes]), True
        deadline.remaining(request)
    return bytes(body), False
