"""What a CMS detector returns, and the form a reported version must have."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import parse_qs, urlsplit

from exporters.probes.fetcher import Fetcher
from exporters.probes.page import Page

# A version label value: digits and dots (a major alone, "10", when that is all a site shows), an
# optional pre-release or patch suffix. Anything else (content hashes, free text) is not reported,
# which keeps the label's values few and meaningful.
VERSION = re.compile(r"^\d+(?:\.\d+){0,3}(?:-[0-9A-Za-z.]{1,20})?$")
UNKNOWN = "unknown"
MAX_COMPONENTS = 30


@dataclass(frozen=True)
class Component:
    """A plugin, theme, module or extension seen on a site; ``version`` may be ``unknown``.
    ``ecosystem`` is the vulnerability database's (``wordpress-plugin``...)."""

    type: str
    name: str
    version: str
    ecosystem: str


@dataclass(frozen=True)
class CmsDetection:
    """A recognised CMS. ``method`` says how the version was found (or, for ``unknown``, how the
    CMS was recognised); ``confidence`` is ``high``, ``medium`` or ``low``."""

    cms: str
    version: str
    method: str
    confidence: str
    components: tuple[Component, ...] = field(default=(), compare=False)
    exact: bool = field(default=True, compare=False)  # False: a major or minor alone ("10")


# A detector looks at the home page, may fetch more pages, and returns what it recognised or None.
# It must recognise its CMS from the home page alone before fetching anything else, so that a
# site of another CMS costs no request.
Detector = Callable[[Page, Fetcher], "CmsDetection | None"]


def valid(version: str | None) -> str | None:
    return version if version and VERSION.match(version) else None


def query_versions(url: str, key: str) -> list[str]:
    return [v for v in parse_qs(urlsplit(url).query).get(key, []) if valid(v)]


def names_after(paths: list[str], marker: str) -> list[str]:
    """The path segment after ``marker`` in each path, in order of appearance, without repeats:
    ``/wp-content/plugins/woocommerce/x.js`` -> ``woocommerce``."""
    names: list[str] = []
    for path in paths:
        rest = path.split(marker, 1)[1] if marker in path else ""
        name = rest.split("/", 1)[0]
        if name and re.match(r"^[A-Za-z0-9_.-]{1,80}$", name) and name not in names:
            names.append(name)
    return names[:MAX_COMPONENTS]


def fetch_text(fetcher: Fetcher, url: str, limit: int = 64 * 1024) -> str | None:
    """The body of ``url`` if it answers 200 (its first ``limit`` bytes), else None."""
    answer = fetcher.get(url, max_bytes=limit)
    if answer.status != 200:
        return None
    return answer.body.decode("utf-8", errors="replace")
