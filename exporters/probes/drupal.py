"""Recognising Drupal and its version.

Recognised by the ``X-Generator: Drupal 10 (https://www.drupal.org)`` header, the
``X-Drupal-Cache`` / ``X-Drupal-Dynamic-Cache`` headers, the generator tag of the same text, or
the markup Drupal writes (``drupal-settings-json``, ``Drupal.settings``, ``data-drupal-``,
``/core/misc/``, ``/sites/default/files/``). The version, by the first method that gives one:

- ``asset_ver`` (``medium``): core assets carry ``?v=<Drupal version>`` (``/core/misc/drupal.js
  ?v=10.2.3``); vendor libraries under ``/core/assets/vendor/`` carry their own and are skipped.
- ``changelog`` (``high``): the first line of ``core/CHANGELOG.txt`` (Drupal 8) or
  ``CHANGELOG.txt`` (Drupal 7), ``Drupal 7.98, 2023-06-07``.
- ``install_page`` (``medium``): ``core/install.php`` answers an installed site with a page whose
  core assets carry the same ``?v=``.
- ``x_generator`` / ``meta_generator``: the major version alone (``10``), confidence ``high``.
- else ``unknown`` (method ``markup``).

Contributed and custom modules and themes linked from the page (``/modules/contrib/<name>/``,
``/sites/all/modules/<name>/``, ``/themes/contrib/<name>/``...) are reported with version
``unknown``: Drupal does not show it.
"""

from __future__ import annotations

import re
from collections import Counter
from urllib.parse import urlsplit

from exporters.probes.detection import (UNKNOWN, CmsDetection, Component, fetch_text,
                                        names_after, query_versions, valid)
from exporters.probes.fetcher import Fetcher
from exporters.probes.page import Page

_GENERATOR = re.compile(r"^Drupal\s+(\d+)\b", re.IGNORECASE)
_CHANGELOG = re.compile(r"^\s*Drupal\s+(\d+\.\d+(?:\.\d+)?)\s*,", re.MULTILINE)
_ASSET_V = re.compile(r"""(?:src|href)=["'][^"']*/core/(?:misc|modules|themes)/[^"'?]*\?v=([^"'&]+)""")
_MARKERS = ("drupal-settings-json", "Drupal.settings", "data-drupal-", "/core/misc/",
            "/sites/default/files/", "/sites/all/")
_COMPONENT_FOLDERS = (("module", "/modules/contrib/"), ("module", "/modules/custom/"),
                      ("module", "/sites/all/modules/"), ("theme", "/themes/contrib/"),
                      ("theme", "/themes/custom/"), ("theme", "/sites/all/themes/"))


def detect_drupal(page: Page, fetcher: Fetcher) -> CmsDetection | None:
    major, major_method = _major(page)
    if major is None and not (page.header("X-Drupal-Cache") or
                              page.header("X-Drupal-Dynamic-Cache") or
                              any(marker in page.html for marker in _MARKERS)):
        return None
    found = None
    if version := _asset_version(page):
        found = (version, "asset_ver", "medium")
    elif version := _changelog_version(page, fetcher, major):
        found = (version, "changelog", "high")
    elif major != "7" and (version := _install_page_version(page, fetcher)):
        found = (version, "install_page", "medium")
    elif major:
        found = (major, major_method, "high")
    else:
        found = (UNKNOWN, "markup", "medium")
    return CmsDetection("drupal", *found, components=tuple(_components(page)),
                        exact=found[1] not in ("x_generator", "meta_generator"))


def _major(page: Page) -> tuple[str | None, str]:
    for text, method in ((page.header("X-Generator"), "x_generator"),
                         *((g, "meta_generator") for g in page.generators)):
        match = _GENERATOR.match(text or "")
        if match:
            return match.group(1), method
    return None, ""


def _asset_version(page: Page) -> str | None:
    found = Counter(version for url in page.assets
                    if "/core/" in (path := urlsplit(url).path)
                    and "/core/assets/vendor/" not in path
                    for version in query_versions(url, "v"))
    return found.most_common(1)[0][0] if found else None


def _changelog_version(page: Page, fetcher: Fetcher, major: str | None) -> str | None:
    candidates = {"7": ["CHANGELOG.txt"], None: ["core/CHANGELOG.txt", "CHANGELOG.txt"]}
    for relative in candidates.get(major, ["core/CHANGELOG.txt"]):
        text = fetch_text(fetcher, page.under(relative), limit=4096)
        match = _CHANGELOG.search(text) if text else None
        if match and valid(match.group(1)):
            return match.group(1)
    return None


def _install_page_version(page: Page, fetcher: Fetcher) -> str | None:
    text = fetch_text(fetcher, page.under("core/install.php"))
    found = Counter(v for v in _ASSET_V.findall(text or "") if valid(v))
    return found.most_common(1)[0][0] if found else None


def _components(page: Page) -> list[Component]:
    found, seen = [], set()
    for kind, folder in _COMPONENT_FOLDERS:
        for name in names_after(page.asset_paths(folder), folder):
            if (kind, name) not in seen:
                seen.add((kind, name))
                found.append(Component(kind, name, UNKNOWN, f"drupal-{kind}"))
    return found
