"""Recognising WordPress and its version, most reliable method first.

- ``meta_generator`` (confidence ``high``): ``<meta name="generator" content="WordPress 6.4.3">``
  in the home page, written by WordPress core.
- ``feed_generator`` (``medium``): ``<generator>https://wordpress.org/?v=6.4.3</generator>`` in
  the RSS feed at ``feed/`` under the home page; fetched only when the meta tag is absent (security
  plugins often remove it, less often the feed's).
- ``asset_ver`` (``low``): the ``?ver=`` of core assets under ``/wp-includes/`` linked from the
  home page. Bundled libraries (jQuery, ``js/dist/vendor``) carry their own version and are
  skipped; block scripts carry content hashes, which are not versions. The most frequent version
  wins. Caching plugins rewrite or strip these, hence the low confidence.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from urllib.parse import parse_qs, urljoin, urlsplit

from exporters.probes.detection import VERSION, CmsDetection
from exporters.probes.http import Fetcher
from exporters.probes.page import Page

_META = re.compile(r"^WordPress\s+(\S+)$", re.IGNORECASE)
_FEED = re.compile(r"^https?://wordpress\.org/\?v=(\S+)$")
_BUNDLED = ("/wp-includes/js/jquery/", "/wp-includes/js/dist/vendor/")


def detect_wordpress(page: Page, fetcher: Fetcher) -> CmsDetection | None:
    """WordPress with its version, by the first method that finds one; None otherwise."""
    version = _meta_version(page)
    if version:
        return CmsDetection("wordpress", version, "meta_generator", "high")
    version = _feed_version(page, fetcher)
    if version:
        return CmsDetection("wordpress", version, "feed_generator", "medium")
    version = _asset_version(page)
    if version:
        return CmsDetection("wordpress", version, "asset_ver", "low")
    return None


def _valid(version: str) -> str | None:
    return version if VERSION.match(version) else None


def _meta_version(page: Page) -> str | None:
    for content in page.generators:
        match = _META.match(content)
        if match and _valid(match.group(1)):
            return match.group(1)
    return None


def feed_url(home_url: str) -> str:
    """``feed/`` under the home page: ``https://x/blog`` -> ``https://x/blog/feed/``."""
    parts = urlsplit(home_url)
    path = parts.path if parts.path.endswith("/") else parts.path + "/"
    return urljoin(f"{parts.scheme}://{parts.netloc}{path}", "feed/")


def _feed_version(page: Page, fetcher: Fetcher) -> str | None:
    answer = fetcher.get(feed_url(page.url))
    if answer.status != 200:
        return None
    try:
        generator = ElementTree.fromstring(answer.body).findtext("channel/generator")
    except ElementTree.ParseError:
        return None
    match = _FEED.match((generator or "").strip())
    return _valid(match.group(1)) if match else None


def _asset_version(page: Page) -> str | None:
    versions = Counter()
    for url in page.assets:
        parts = urlsplit(url)
        if "/wp-includes/" not in parts.path or any(lib in parts.path for lib in _BUNDLED):
            continue
        for version in parse_qs(parts.query).get("ver", []):
            if _valid(version):
                versions[version] += 1
    return versions.most_common(1)[0][0] if versions else None
