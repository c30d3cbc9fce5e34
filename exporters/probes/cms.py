"""The ``cms`` probe (every tier): which CMS a site runs, its version, its plugins and themes, and
what the catalogue says of them (update available, branch supported).

The home page is fetched and parsed once, then each detector of :data:`DETECTORS` looks at it in
turn (and may fetch more pages within the same deadline); the first that recognises its CMS wins.
A site whose home page cannot be fetched (network error, timeout, status other than 2xx) is a
failed run, and so is one where a further page times out or cannot be reached (a further page
answering with an error status only means that this method found nothing). A site that answers
but that no detector recognises is a successful run with no detection. Adding a CMS is one
detector module and one entry in :data:`DETECTORS`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from exporters.catalogue.model import Catalogue, CoreStatus
from exporters.probe import ProbeError, ProbeKind, ProbeResult
from exporters.probes.detection import CmsDetection, Component, Detector
from exporters.probes.drupal import detect_drupal
from exporters.probes.fetcher import FetchCache, Fetcher
from exporters.probes.http import Fetched
from exporters.probes.joomla import detect_joomla
from exporters.probes.magento import detect_magento
from exporters.probes.page import Page, parse_page
from exporters.probes.prestashop import detect_prestashop
from exporters.probes.wordpress import detect_wordpress
from exporters.targets import Target
from owl.inventory import DEFAULT_PROBE_INTERVALS

INTERVAL = DEFAULT_PROBE_INTERVALS["cms"]
TIMEOUT = 10.0
DETECTORS: tuple[Detector, ...] = (detect_wordpress, detect_drupal, detect_joomla,
                                   detect_prestashop, detect_magento)


@dataclass(frozen=True)
class CmsReport:
    """What the ``cms`` probe exports: the detection, and the catalogue's view of it."""

    detection: CmsDetection | None
    core: CoreStatus | None = None
    component_updates: tuple[tuple[Component, bool], ...] = ()


def detect_cms(page: Page, fetcher: Fetcher,
               detectors: tuple[Detector, ...] = DETECTORS) -> CmsDetection | None:
    """The first detection of ``detectors``, or None."""
    for detector in detectors:
        found = detector(page, fetcher)
        if found is not None:
            return found
    return None


def fetch_home(fetcher: Fetcher, target: Target) -> Fetched:
    home = fetcher.get(target.site.url)
    if not 200 <= home.status < 300:
        raise ProbeError(f"GET {target.site.url}: HTTP {home.status}")
    return home


def run_cms_probe(target: Target, timeout: float = TIMEOUT,
                  cache: FetchCache | None = None) -> ProbeResult:
    """Fetch the site's home page and detect its CMS; data is a :class:`CmsDetection` or None.
    ``cache``: answers shared with the site's other probes."""
    with Fetcher(timeout, cache=cache, kind="cms") as fetcher:
        return ProbeResult.ok(detect_cms(parse_page(fetch_home(fetcher, target)), fetcher))


def cms_report(detection: CmsDetection | None, catalogue: Catalogue, today: dt.date) -> CmsReport:
    if detection is None:
        return CmsReport(None)
    updates = tuple((component, update) for component in detection.components
                    if (update := catalogue.component_update(
                        component.ecosystem, component.name, component.version)) is not None)
    return CmsReport(detection, catalogue.core_status(detection.cms, detection.version, today),
                     updates)


def cms_probe(interval: dt.timedelta = INTERVAL, timeout: float = TIMEOUT,
              context=None) -> ProbeKind:
    """The ``cms`` kind; ``context`` (:class:`exporters.context.ProbeContext`) gives the
    catalogue (default: the shipped one)."""
    from exporters.context import ProbeContext

    context = context or ProbeContext()

    def run(target: Target) -> ProbeResult:
        result = run_cms_probe(target, timeout, context.fetches)
        return ProbeResult.ok(cms_report(result.data, context.catalogue.get(), context.today()))

    return ProbeKind("cms", run, interval, timeout)


def cms_kind(context) -> ProbeKind:
    """The ``cms`` kind on every site of every tier, on the inventory's schedule."""
    return cms_probe(context=context).scheduled(context.schedule("cms"))
