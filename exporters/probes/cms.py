"""The ``cms`` probe: which CMS a site runs, and which version.

The home page is fetched and parsed once, then each detector of :data:`DETECTORS` looks at it in
turn (and may fetch more pages within the same deadline); the first that recognises its CMS wins.
A site whose home page cannot be fetched (network error, timeout, status other than 2xx) is a
failed run, and so is one where a further page times out or cannot be reached (a further page
answering with an error status only means that this method found nothing). A site that answers
but that no detector recognises is a successful run with no detection. Adding a CMS (Drupal,
Joomla, PrestaShop, Magento) is one detector module and one entry in :data:`DETECTORS`.
"""

from __future__ import annotations

import datetime as dt
from functools import partial

from exporters.probe import ProbeError, ProbeKind, ProbeResult
from exporters.probes.detection import CmsDetection, Detector
from exporters.probes.http import Fetcher
from exporters.probes.page import Page, parse_page
from exporters.probes.wordpress import detect_wordpress
from exporters.targets import Target

INTERVAL = dt.timedelta(minutes=15)
TIMEOUT = 10.0
DETECTORS: tuple[Detector, ...] = (detect_wordpress,)


def detect_cms(page: Page, fetcher: Fetcher,
               detectors: tuple[Detector, ...] = DETECTORS) -> CmsDetection | None:
    """The first detection of ``detectors``, or None."""
    for detector in detectors:
        found = detector(page, fetcher)
        if found is not None:
            return found
    return None


def run_cms_probe(target: Target, timeout: float = TIMEOUT) -> ProbeResult:
    """Fetch the site's home page and detect its CMS; data is a :class:`CmsDetection` or None."""
    with Fetcher(timeout) as fetcher:
        home = fetcher.get(target.site.url)
        if not 200 <= home.status < 300:
            raise ProbeError(f"GET {target.site.url}: HTTP {home.status}")
        return ProbeResult.ok(detect_cms(parse_page(home), fetcher))


def cms_probe(interval: dt.timedelta = INTERVAL, timeout: float = TIMEOUT) -> ProbeKind:
    return ProbeKind("cms", partial(run_cms_probe, timeout=timeout), interval, timeout)


def cms_kind(context) -> ProbeKind:
    """The ``cms`` kind on every site of every tier, on the inventory's schedule."""
    return cms_probe().scheduled(context.schedule("cms"))
