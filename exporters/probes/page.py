"""What CMS detectors read in an HTML page, found with the standard library's HTML parser."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Mapping
from urllib.parse import urljoin, urlsplit

from exporters.probes.http import Fetched


@dataclass(frozen=True)
class Page:
    """A fetched HTML page, reduced to what detectors use. URLs are absolute."""

    url: str
    headers: Mapping[str, str]
    generators: tuple[str, ...]  # content of each <meta name="generator">
    assets: tuple[str, ...]  # <script src> and <link href>
    html: str = ""  # the text, for markers such as inline scripts

    def header(self, name: str) -> str:
        return self.headers.get(name, "") if self.headers else ""

    def asset_paths(self, marker: str) -> list[str]:
        """The paths (no query) of assets whose path contains ``marker``."""
        return [path for path in (urlsplit(url).path for url in self.assets) if marker in path]

    def under(self, relative: str) -> str:
        """``relative`` resolved under the page's folder: the site's base for a home page."""
        parts = urlsplit(self.url)
        path = parts.path if parts.path.endswith("/") else parts.path.rsplit("/", 1)[0] + "/"
        return urljoin(f"{parts.scheme}://{parts.netloc}{path}", relative)


class _Collector(HTMLParser):
    def __init__(self, base_url: str):
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.generators: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in ("meta", "script", "link"):
            return
        attributes = {name: value or "" for name, value in attrs}
        if tag == "meta" and attributes.get("name", "").lower() == "generator":
            self.generators.append(attributes.get("content", "").strip())
        elif tag == "script" and attributes.get("src"):
            self.assets.append(urljoin(self.base_url, attributes["src"]))
        elif tag == "link" and attributes.get("href"):
            self.assets.append(urljoin(self.base_url, attributes["href"]))


def parse_page(fetched: Fetched) -> Page:
    text = fetched.text()
    collector = _Collector(fetched.url)
    collector.feed(text)
    collector.close()
    return Page(fetched.url, fetched.headers, tuple(collector.generators),
                tuple(collector.assets), text)
