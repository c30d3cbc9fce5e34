"""Security headers a site's home page should send (the ``header`` label's fixed values).

- ``strict-transport-security``, ``content-security-policy``, ``x-content-type-options``,
  ``referrer-policy``: present with a non-empty value;
- ``x-frame-options``: present, or replaced by a ``frame-ancestors`` directive in
  Content-Security-Policy (what browsers now prefer).

The headers are read on the answer to the home page (after redirects, so on the HTTPS page of a
site that redirects there).
"""

from __future__ import annotations

from typing import Mapping

HEADERS = ("strict-transport-security", "content-security-policy", "x-content-type-options",
           "x-frame-options", "referrer-policy")


def missing_headers(headers: Mapping[str, str]) -> dict[str, bool]:
    """``{header: missing}`` for each of :data:`HEADERS`."""
    present = {name.lower(): value.strip() for name, value in headers.items()}
    missing = {name: not present.get(name) for name in HEADERS}
    if "frame-ancestors" in present.get("content-security-policy", "").lower():
        missing["x-frame-options"] = False
    return missing
