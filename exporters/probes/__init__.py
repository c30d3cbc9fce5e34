"""The probe catalogue. Each module holds one probe kind and what it needs."""

from __future__ import annotations

from exporters.probe import ProbeKind
from exporters.probes.cms import cms_probe


def default_probes() -> tuple[ProbeKind, ...]:
    """Every probe kind the exporter runs, with its default interval and timeout."""
    return (cms_probe(),)
