"""The ``vulnerabilities`` probe (tier 2 and up): known vulnerabilities of what a site runs,
sensitive files it exposes, security headers it lacks.

A run fetches the home page (a failure there fails the run), detects the CMS, its plugins and
themes as the ``cms`` probe does (reading the pages that probe has just fetched, see
:mod:`exporters.probes.fetcher`), matches them against the local vulnerability database
(``provider.probes.vulnerability_db``; without one, no vulnerability series), then checks the
sensitive files of :mod:`exporters.probes.exposure` and the headers of
:mod:`exporters.probes.headers`. Versions that cannot be compared (``unknown``, a major alone)
match nothing: the probe never guesses.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from exporters.probe import ProbeKind, ProbeResult
from exporters.probes.cms import detect_cms, fetch_home
from exporters.probes.detection import CmsDetection
from exporters.probes.exposure import exposed_files
from exporters.probes.headers import missing_headers
from exporters.probes.fetcher import FetchCache, Fetcher
from exporters.probes.page import parse_page
from exporters.targets import Target
from exporters.vulndb.match import Index, Installed, Match
from owl.inventory import DEFAULT_PROBE_INTERVALS

INTERVAL = DEFAULT_PROBE_INTERVALS["vulnerabilities"]
TIMEOUT = 20.0
MIN_TIER = 2


@dataclass(frozen=True)
class VulnerabilityReport:
    detection: CmsDetection | None
    matches: tuple[Match, ...] | None  # None: no vulnerability database configured
    exposed: dict[str, bool]
    missing_headers: dict[str, bool]


def installed(detection: CmsDetection | None) -> list[Installed]:
    """What of ``detection`` can be matched: the core (when its version is exact) and the
    components with a version."""
    if detection is None:
        return []
    found = []
    if detection.exact:
        found.append(Installed("core", f"{detection.cms}-core", detection.cms, detection.version))
    found += [Installed(c.name, c.ecosystem, c.name, c.version) for c in detection.components]
    return found


def scan(target: Target, index: Index | None, timeout: float = TIMEOUT,
         cache: FetchCache | None = None) -> VulnerabilityReport:
    """``cache``: answers shared with the site's other probes (the ``cms`` probe's home page)."""
    with Fetcher(timeout, cache=cache, kind="vulnerabilities") as fetcher:
        home = fetch_home(fetcher, target)
        page = parse_page(home)
        detection = detect_cms(page, fetcher)
        matches = tuple(index.matches(installed(detection))) if index is not None else None
        exposed = exposed_files(page, fetcher, detection.cms if detection else None)
        return VulnerabilityReport(detection, matches, exposed, missing_headers(home.headers))


def vulnerability_probe(interval: dt.timedelta = INTERVAL, timeout: float = TIMEOUT,
                        context=None) -> ProbeKind:
    from exporters.context import ProbeContext

    context = context or ProbeContext()

    def run(target: Target) -> ProbeResult:
        index = context.vulndb.get() if context.vulndb is not None else None
        return ProbeResult.ok(scan(target, index, timeout, context.fetches))

    return ProbeKind("vulnerabilities", run, interval, timeout, min_tier=MIN_TIER)


def vulnerability_kind(context) -> ProbeKind:
    """The ``vulnerabilities`` kind on the sites of tier 2 and up, on the inventory's schedule."""
    return vulnerability_probe(context=context).scheduled(context.schedule("vulnerabilities"))
