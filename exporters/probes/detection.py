"""What a CMS detector returns, and the form a reported version must have."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from exporters.probes.http import Fetcher
from exporters.probes.page import Page

# A version label value: digits and dots, an optional pre-release suffix. Anything else (content
# hashes, free text) is not reported, which keeps the label's values few and meaningful.
VERSION = re.compile(r"^\d+(?:\.\d+){1,3}(?:-[0-9A-Za-z.]{1,20})?$")


@dataclass(frozen=True)
class CmsDetection:
    """A recognised CMS. ``method`` says how; ``confidence`` is ``high``, ``medium`` or ``low``."""

    cms: str
    version: str
    method: str
    confidence: str


# A detector looks at the home page, may fetch more pages, and returns what it recognised or None.
Detector = Callable[[Page, Fetcher], "CmsDetection | None"]
