"""What CMS detectors read in an HTML page, found with the standard library's HTML parser."""

from __future__ import annotations

from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Mapping
from urllib.parse import urljoin

from exporters.probes.http import Fetched


@dataclass(frozen=True)
class Page:
    """A fetched HTML page, reduced to what detectors use. URLs are absolute."""

    url: str
    headers: Mapping[str, str]
    generators: tuple[str, ...]  # content of each <meta name="generator">
    assets: tuple[str, ...]  # <script src> and <link href>


class _Collector(HTMLParser):
    def __init__(self, base_url: str):
        super().__init__(convert_charrefs=True)
        self.base_url = base_url
        self.generators: list[str] = []
        self.assets: list[str] = []

    def handle_starttag(self, tag, attrs):
        attributes = {name: value or "" for name, value in attrs}
        if tag == "meta" and attributes.get("name", "").lower() == "generator":
            self.generators.append(attributes.get("content", "").strip())
        elif tag == "script" and attributes.get("src"):
            self.assets.append(urljoin(self.base_url, attributes["src"]))
        elif tag == "link" and attributes.get("href"):
            self.assets.append(urljoin(self.base_url, attributes["href"]))


def parse_page(fetched: Fetched) -> Page:
    collector = _Collector(fetched.url)
    collector.feed(fetched.text())
    collector.close()
    return Page(fetched.url, fetched.headers, tuple(collector.generators),
                tuple(collector.assets))
