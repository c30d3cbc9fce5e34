"""Recognising Magento (2, and the end-of-life 1) and its version.

Magento 2 is recognised by ``X-Magento-*`` headers (``X-Magento-Cache-Debug``,
``X-Magento-Tags``), a ``X-Magento-Vary`` cookie, or its markup: ``text/x-magento-init``
scripts, ``data-mage-init`` attributes, ``/static/version<N>/frontend/`` assets. Magento 1 by
``/skin/frontend/`` assets, ``Mage.Cookies`` or ``/js/varien/``. The version:

- ``magento_version`` (``high``): Magento 2 answers ``/magento_version`` with
  ``Magento/2.4 (Community)``: the minor version only (``2.4``), unless it was disabled.
- ``release_notes`` (``high``, Magento 1): the first ``==== 1.9.4.5 ====`` of
  ``RELEASE_NOTES.txt``.
- else ``unknown`` (method ``markup``).

Modules named in Magento 2 static paths (``.../Vendor_Module/...``) are reported with version
``unknown``; Magento's own (``Magento_*``) are part of the core and left out.
"""

from __future__ import annotations

import re

from exporters.probes.detection import (MAX_COMPONENTS, UNKNOWN, CmsDetection, Component,
                                        fetch_text, valid)
from exporters.probes.fetcher import Fetcher
from exporters.probes.page import Page

_M2_MARKERS = ("text/x-magento-init", "data-mage-init", "/static/version")
_M1_MARKERS = ("/skin/frontend/", "Mage.Cookies", "/js/varien/")
_VERSION_ANSWER = re.compile(r"^Magento/(\d+\.\d+)\s*\((\w+)\)")
_RELEASE_NOTES = re.compile(r"^=+\s*(1\.\d+\.\d+(?:\.\d+)?)\s*=+", re.MULTILINE)
_MODULE = re.compile(r"/([A-Z][A-Za-z0-9]+_[A-Z][A-Za-z0-9]+)/")


def detect_magento(page: Page, fetcher: Fetcher) -> CmsDetection | None:
    headers = " ".join(name.lower() for name in page.headers) if page.headers else ""
    magento2 = ("x-magento-" in headers or "X-Magento-Vary" in page.header("Set-Cookie")
                or any(marker in page.html for marker in _M2_MARKERS))
    magento1 = not magento2 and any(marker in page.html for marker in _M1_MARKERS)
    if not (magento2 or magento1):
        return None
    version = _version_answer(page, fetcher) if magento2 else _release_notes(page, fetcher)
    if version:
        found = (version, "magento_version" if magento2 else "release_notes", "high")
    else:
        found = (UNKNOWN, "markup", "high")
    return CmsDetection("magento", *found, components=tuple(_modules(page)),
                        exact=found[1] != "magento_version")


def _version_answer(page: Page, fetcher: Fetcher) -> str | None:
    text = fetch_text(fetcher, page.under("magento_version"), limit=256)
    match = _VERSION_ANSWER.match(text.strip()) if text else None
    return valid(match.group(1)) if match else None


def _release_notes(page: Page, fetcher: Fetcher) -> str | None:
    text = fetch_text(fetcher, page.under("RELEASE_NOTES.txt"), limit=4096)
    match = _RELEASE_NOTES.search(text) if text else None
    return valid(match.group(1)) if match else None


def _modules(page: Page) -> list[Component]:
    names: list[str] = []
    for url in page.assets:
        for name in _MODULE.findall(url):
            if not name.startswith("Magento_") and name not in names:
                names.append(name)
    return [Component("module", name, UNKNOWN, "magento-module")
            for name in names[:MAX_COMPONENTS]]
