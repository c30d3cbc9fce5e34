"""Recognising PrestaShop and its version.

Recognised by the generator tag ``PrestaShop`` (1.6), the ``var prestashop = {`` object of the
1.7+ front office, a ``PrestaShop-<hash>`` cookie or a ``Powered-By: PrestaShop`` header. The
version is rarely shown:

- ``metadata_json`` (``high``): ``app/metadata.json`` (PrestaShop 8 and later) ``{"version": ...}``,
  when the web server does not deny ``app/`` as PrestaShop's ``.htaccess`` does;
- else ``unknown`` (method ``markup``).

Modules linked from the page (``/modules/<name>/``) are reported with version ``unknown``.
"""

from __future__ import annotations

import json
import re

from exporters.probes.detection import (UNKNOWN, CmsDetection, Component, fetch_text,
                                        names_after, valid)
from exporters.probes.fetcher import Fetcher
from exporters.probes.page import Page

_PRESTASHOP_JS = re.compile(r"\bvar\s+prestashop\s*=\s*\{")


def detect_prestashop(page: Page, fetcher: Fetcher) -> CmsDetection | None:
    if not (any(g.lower().startswith("prestashop") for g in page.generators)
            or _PRESTASHOP_JS.search(page.html)
            or "PrestaShop-" in page.header("Set-Cookie")
            or "prestashop" in page.header("Powered-By").lower()):
        return None
    if version := _metadata_version(page, fetcher):
        found = (version, "metadata_json", "high")
    else:
        found = (UNKNOWN, "markup", "high")
    modules = names_after(page.asset_paths("/modules/"), "/modules/")
    return CmsDetection("prestashop", *found, components=tuple(
        Component("module", name, UNKNOWN, "prestashop-module") for name in modules))


def _metadata_version(page: Page, fetcher: Fetcher) -> str | None:
    text = fetch_text(fetcher, page.under("app/metadata.json"), limit=16384)
    try:
        version = json.loads(text).get("version") if text else None
    except (ValueError, AttributeError):
        return None
    return valid(str(version)) if version else None
