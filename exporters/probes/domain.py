"""The ``domain`` probe: when the registration of each site's domain expires, from RDAP.

The domain is :attr:`owl.inventory.Site.registered_domain` (the site's ``domain``, else its URL's
host without ``www.``); sites whose host is an IP address or has no dot are not probed. The probe
asks ``GET {provider.probes.rdap_server}domain/{domain}`` (RFC 9082), following redirects: the
default, ``https://rdap.org/``, redirects to the registry's own RDAP server. In the answer (RFC
9083), the ``eventDate`` of the ``events`` entry whose ``eventAction`` is ``expiration`` is the
expiry (the latest one, if several).

An answer without an expiration event is a successful run with no expiry series: some registries
(DENIC for ``.de``, for one) do not publish it. A 404 (no such domain at the registry), a 429
(rate limited), any other error status, an answer that is not RDAP JSON, a malformed date or no
answer in time are failed runs. Sites sharing a domain share one query: a successful answer is
reused for :data:`REUSE_SECONDS`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Callable

from exporters.probe import ProbeError, ProbeKind, ProbeResult
from exporters.probes.fetcher import Fetcher
from exporters.targets import Target
from owl.inventory import DEFAULT_PROBE_INTERVALS

INTERVAL = DEFAULT_PROBE_INTERVALS["domain"]
TIMEOUT = 15.0
MAX_BYTES = 1024 * 1024
REUSE_SECONDS = 3600.0
_DOMAIN = re.compile(r"^(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+"
                     r"(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")


@dataclass(frozen=True)
class DomainReport:
    domain: str
    expiry: float | None  # Unix time; None when the registry publishes none


def rdap_domain(target: Target) -> str | None:
    """The domain to ask RDAP about (IDNA, lower case), or None if the site has none."""
    try:
        domain = target.site.registered_domain.rstrip(".").encode("idna").decode("ascii")
    except UnicodeError:
        return None
    return domain.lower() if _DOMAIN.match(domain.lower()) else None


def has_domain(target: Target) -> bool:
    return rdap_domain(target) is not None


def rdap_url(server: str, domain: str) -> str:
    return f"{server if server.endswith('/') else server + '/'}domain/{domain}"


def expiry_of(document, url: str) -> float | None:
    """The latest ``expiration`` event of an RDAP domain object, in Unix time, or None."""
    if not isinstance(document, dict):
        raise ProbeError(f"RDAP {url}: the answer is not a JSON object")
    events = document.get("events", [])
    if not isinstance(events, list):
        raise ProbeError(f"RDAP {url}: events is not a list")
    expiries = []
    for index, event in enumerate(events):
        if not isinstance(event, dict) or event.get("eventAction") != "expiration":
            continue
        expiries.append(_instant(event.get("eventDate"), f"RDAP {url}: events[{index}]"))
    return max(expiries, default=None)


def _instant(value, where: str) -> float:
    try:
        when = dt.datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise ProbeError(f"{where}.eventDate: {value!r} is not an RFC 3339 time with Z or an "
                         "offset")
    return when.timestamp()


class DomainProbe:
    """Runs of the ``domain`` probe against one RDAP server, reusing recent answers."""

    def __init__(self, server: str, timeout: float = TIMEOUT, reuse: float = REUSE_SECONDS,
                 monotonic: Callable[[], float] = time.monotonic):
        self.server = server
        self.timeout = timeout
        self.reuse = reuse
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[float, float | None]] = {}

    def __call__(self, target: Target) -> ProbeResult:
        domain = rdap_domain(target)
        if domain is None:
            raise ProbeError(f"{target.site.registered_domain!r} is not a registered domain")
        with self._lock:
            answered = self._answers.get(domain)
        if answered and self._monotonic() - answered[0] < self.reuse:
            return ProbeResult.ok(DomainReport(domain, answered[1]))
        expiry = self.query(domain)
        with self._lock:
            self._answers[domain] = (self._monotonic(), expiry)
        return ProbeResult.ok(DomainReport(domain, expiry))

    def query(self, domain: str) -> float | None:
        url = rdap_url(self.server, domain)
        with Fetcher(self.timeout, max_bytes=MAX_BYTES) as fetcher:
            answer = fetcher.get(url)
        if answer.status == 404:
            raise ProbeError(f"RDAP {url}: HTTP 404, the registry does not know {domain}")
        if answer.status == 429:
            raise ProbeError(f"RDAP {url}: HTTP 429, rate limited by the RDAP server")
        if answer.status != 200:
            raise ProbeError(f"RDAP {url}: HTTP {answer.status}")
        if answer.truncated:
            raise ProbeError(f"RDAP {url}: answer larger than {MAX_BYTES} bytes")
        try:
            document = json.loads(answer.body)
        except (ValueError, UnicodeDecodeError):
            raise ProbeError(f"RDAP {url}: the answer is not JSON") from None
        return expiry_of(document, url)


def domain_probe(server: str, interval: dt.timedelta = INTERVAL,
                 timeout: float = TIMEOUT) -> ProbeKind:
    return ProbeKind("domain", DomainProbe(server, timeout), interval, timeout + 1,
                     wants=has_domain)


def domain_kind(context) -> ProbeKind:
    """The ``domain`` kind on every site with a registered domain, on the inventory's schedule,
    asking the inventory's ``rdap_server``."""
    return domain_probe(context.probes.rdap_server).scheduled(context.schedule("domain"))
