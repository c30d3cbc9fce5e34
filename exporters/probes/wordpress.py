"""Recognising WordPress, its version, plugins and themes.

WordPress is recognised by its generator tag or by paths under ``/wp-content/``, ``/wp-includes/``
or ``/wp-json/`` in the home page; nothing else is fetched for a site without them. The version
comes from the most reliable method present:

- ``meta_generator`` (confidence ``high``): ``<meta name="generator" content="WordPress 6.4.3">``
  in the home page, written by WordPress core.
- ``feed_generator`` (``medium``): ``<generator>https://wordpress.org/?v=6.4.3</generator>`` in
  the RSS feed at ``feed/`` under the home page; fetched only when the meta tag is absent (security
  plugins often remove it, less often the feed's).
- ``asset_ver`` (``low``): the ``?ver=`` of core assets under ``/wp-includes/`` linked from the
  home page. Bundled libraries (jQuery, ``js/dist/vendor``) carry their own version and are
  skipped; block scripts carry content hashes, which are not versions. The most frequent version
  wins. Caching plugins rewrite or strip these, hence the low confidence.
- ``readme_html`` (``low``): the ``Version 4.9.8`` line of the ``readme.html`` that WordPress
  installs (and rewrites on each update) at its root, when it is served; releases since 5.x no
  longer write the line. The file is recognised by two of its stable signs (:func:`is_readme`).
- otherwise the version is ``unknown`` (method ``markup``).

Plugins (``/wp-content/plugins/<slug>/``) and themes (``/wp-content/themes/<slug>/``) linked from
the home page are reported with their version: a generator tag they write (``WooCommerce 9.8.5``),
else the ``?ver=`` of their assets when it is not the core version (WordPress puts its own version
on assets enqueued without one), else the ``Stable tag`` of the plugin's ``readme.txt`` or the
``Version`` header of the theme's ``style.css`` (at most :data:`MAX_FETCHES` such files a run).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections import Counter
from urllib.parse import urljoin, urlsplit

from exporters.probes.detection import (UNKNOWN, CmsDetection, Component, fetch_text,
                                        names_after, query_versions, valid)
from exporters.probes.fetcher import Fetcher
from exporters.probes.page import Page

_META = re.compile(r"^WordPress\s+(\S+)$", re.IGNORECASE)
_FEED = re.compile(r"^https?://wordpress\.org/\?v=(\S+)$")
_BUNDLED = ("/wp-includes/js/jquery/", "/wp-includes/js/dist/vendor/")
_MARKERS = ("/wp-content/", "/wp-includes/", "/wp-json/")
_STABLE_TAG = re.compile(r"^\s*Stable tag:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
_README_VERSION = re.compile(r"<br\s*/?>\s*Version\s+(\d+(?:\.\d+){1,3})", re.IGNORECASE)
_TITLE = re.compile(r"<title[^>]*>([^<]*)</title>", re.IGNORECASE)
# What every WordPress readme.html since 2.x carries in some form: its markup varies between
# versions (title wording, logo, version line), so two of these signs are enough.
_README_SIGNS = ("wp-admin/images/wordpress-logo", "wp-admin/css/install.css",
                 "semantic personal publishing platform", "wp-config-sample.php",
                 "wp-admin/install.php")
_STYLE_VERSION = re.compile(r"^\s*\**\s*Version:\s*(\S+)", re.IGNORECASE | re.MULTILINE)
# generator tags written by plugins: name in the tag -> plugin slug
PLUGIN_GENERATORS = {"woocommerce": "woocommerce", "elementor": "elementor",
                     "site kit by google": "google-site-kit", "wpml ver:": "sitepress-multilingual-cms"}
MAX_FETCHES = 5


def detect_wordpress(page: Page, fetcher: Fetcher) -> CmsDetection | None:
    """WordPress with its version, by the first method that finds one; None otherwise."""
    meta = _meta_version(page)
    if meta is None and not _looks_like_wordpress(page):
        return None
    if meta:
        found = ("wordpress", meta, "meta_generator", "high")
    elif version := _feed_version(page, fetcher):
        found = ("wordpress", version, "feed_generator", "medium")
    elif version := _asset_version(page):
        found = ("wordpress", version, "asset_ver", "low")
    elif version := _readme_version(page, fetcher):
        found = ("wordpress", version, "readme_html", "low")
    else:
        found = ("wordpress", UNKNOWN, "markup", "medium")
    return CmsDetection(*found, components=tuple(components(page, fetcher, found[1])))


def _looks_like_wordpress(page: Page) -> bool:
    return any(marker in url for url in page.assets for marker in _MARKERS) or \
        any(generator.lower().startswith("wordpress") for generator in page.generators)


def _meta_version(page: Page) -> str | None:
    for content in page.generators:
        match = _META.match(content)
        if match and valid(match.group(1)):
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
    return valid(match.group(1)) if match else None


def _asset_version(page: Page) -> str | None:
    found = Counter()
    for url in page.assets:
        path = urlsplit(url).path
        if "/wp-includes/" not in path or any(lib in path for lib in _BUNDLED):
            continue
        found.update(query_versions(url, "ver"))
    return found.most_common(1)[0][0] if found else None


def is_readme(text: str) -> bool:
    """Whether ``text`` is WordPress's ``readme.html``, in any version's markup or language."""
    lowered = text.lower()
    title = _TITLE.search(lowered)
    titled = bool(title) and "wordpress" in title.group(1) and "readme" in title.group(1)
    return titled + sum(sign in lowered for sign in _README_SIGNS) >= 2


def _readme_version(page: Page, fetcher: Fetcher) -> str | None:
    text = fetch_text(fetcher, page.under("readme.html"), limit=8192)
    match = _README_VERSION.search(text) if text and is_readme(text) else None
    return valid(match.group(1)) if match else None


def components(page: Page, fetcher: Fetcher, core_version: str) -> list[Component]:
    budget = [MAX_FETCHES]
    generated = _generator_versions(page)
    found = []
    for kind, folder, ecosystem in (("plugin", "/wp-content/plugins/", "wordpress-plugin"),
                                    ("theme", "/wp-content/themes/", "wordpress-theme")):
        for name in names_after(page.asset_paths(folder), folder):
            version = generated.get(name) if kind == "plugin" else None
            version = version or _own_ver(page, folder + name + "/", core_version)
            if version is None and budget[0] > 0:
                budget[0] -= 1
                version = _from_file(page, fetcher, folder + name + "/", kind)
            found.append(Component(kind, name, version or UNKNOWN, ecosystem))
    return found


def _generator_versions(page: Page) -> dict[str, str]:
    versions = {}
    for content in page.generators:
        lowered = content.lower()
        for prefix, slug in PLUGIN_GENERATORS.items():
            if lowered.startswith(prefix):
                version = valid(content[len(prefix):].strip().split(";")[0].split()[0]
                                if content[len(prefix):].strip() else None)
                if version:
                    versions[slug] = version
    return versions


def _own_ver(page: Page, folder: str, core_version: str) -> str | None:
    found = Counter(version for url in page.assets if folder in urlsplit(url).path
                    for version in query_versions(url, "ver") if version != core_version)
    return found.most_common(1)[0][0] if found else None


def _from_file(page: Page, fetcher: Fetcher, folder: str, kind: str) -> str | None:
    asset = next(url for url in page.assets if folder in urlsplit(url).path)
    base = asset[:asset.index(folder) + len(folder)]
    name, pattern = ("readme.txt", _STABLE_TAG) if kind == "plugin" else ("style.css",
                                                                         _STYLE_VERSION)
    text = fetch_text(fetcher, base + name, limit=8192)
    match = pattern.search(text) if text else None
    return valid(match.group(1)) if match else None
