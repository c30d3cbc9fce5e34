"""GETs to the public sources the data files are refreshed from (CMS releases, advisories).

Any source that cannot be reached or answers an error raises :class:`RefreshError` with a short
reason ("cannot reach URL: connection refused (is there a network?)"): refreshes then write
nothing, so that a machine without a network keeps the files it has.
"""

from __future__ import annotations

from typing import Mapping

import requests

TIMEOUT = 20.0


class RefreshError(Exception):
    """An upstream could not be reached or gave an answer that cannot be read."""


def http_get(url: str, headers: Mapping[str, str] | None = None,
             timeout: float = TIMEOUT) -> requests.Response:
    """The 200 answer of ``url``; :class:`RefreshError` otherwise."""
    try:
        response = requests.get(url, timeout=timeout,
                                headers={"User-Agent": "owl-monitoring data refresh",
                                         **(headers or {})})
    except requests.RequestException as exc:
        raise RefreshError(f"cannot reach {url}: {_reason(exc)} (is there a network?)") from None
    if response.status_code != 200:
        raise RefreshError(f"{url} answered HTTP {response.status_code}")
    return response


def _reason(exc: requests.RequestException) -> str:
    text = str(exc)
    for marker in ("Failed to resolve", "Connection refused", "Network is unreachable",
                   "timed out", "Name or service not known"):
        if marker in text:
            return marker.lower()
    return type(exc).__name__
