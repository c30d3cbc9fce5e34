"""Recognising Joomla! and its version.

Recognised by its generator tag (``Joomla! - Open Source Content Management``) or its markup:
``/media/jui/`` and ``/media/system/js/`` assets (Joomla 3), the ``joomla-script-options`` JSON
and ``/media/templates/site/`` (Joomla 4 and 5). The version:

- ``manifest`` (``high``): ``<version>`` of ``administrator/manifests/files/joomla.xml``, the
  core's own manifest, readable on most installations.
- ``meta_generator`` (``medium``): old releases (1.5) wrote their version in the generator tag.
- else ``unknown`` (method ``markup``).

Extensions linked from the page (``/components/com_x/``, ``/modules/mod_x/``,
``/media/com_x/``...) are reported with version ``unknown``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree

from exporters.probes.detection import (UNKNOWN, CmsDetection, Component, fetch_text,
                                        names_after, valid)
from exporters.probes.fetcher import Fetcher
from exporters.probes.page import Page

_GENERATOR = re.compile(r"^Joomla!?\s*(\d+\.\d+(?:\.\d+)?)?", re.IGNORECASE)
_MARKERS = ("/media/jui/", "/media/system/js/", "joomla-script-options", "/media/templates/site/",
            "Joomla.optionsStorage")
_FOLDERS = ("/components/", "/modules/", "/media/")
_EXTENSION = re.compile(r"^(com|mod|plg|tpl)_[a-z0-9_]+$")


def detect_joomla(page: Page, fetcher: Fetcher) -> CmsDetection | None:
    generator = next((m for g in page.generators if (m := _GENERATOR.match(g))), None)
    if generator is None and not any(marker in page.html for marker in _MARKERS):
        return None
    if version := _manifest_version(page, fetcher):
        found = (version, "manifest", "high")
    elif generator and valid(generator.group(1)):
        found = (generator.group(1), "meta_generator", "medium")
    else:
        found = (UNKNOWN, "markup", "high" if generator else "medium")
    return CmsDetection("joomla", *found, components=tuple(_components(page)))


def _manifest_version(page: Page, fetcher: Fetcher) -> str | None:
    text = fetch_text(fetcher, page.under("administrator/manifests/files/joomla.xml"))
    if not text:
        return None
    try:
        manifest = ElementTree.fromstring(text)
    except ElementTree.ParseError:
        return None
    if manifest.tag != "extension":
        return None
    return valid((manifest.findtext("version") or "").strip())


def _components(page: Page) -> list[Component]:
    names: list[str] = []
    for folder in _FOLDERS:
        for name in names_after(page.asset_paths(folder), folder):
            if _EXTENSION.match(name) and name not in names:
                names.append(name)
    return [Component("extension", name, UNKNOWN, "joomla-extension") for name in names]
