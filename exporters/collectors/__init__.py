"""Prometheus collectors: each reads the probe cache at scrape time and yields metric families.

Series about a target carry ``client`` and ``site`` (or ``server``) labels, from
:meth:`exporters.targets.Target.labels`.
"""

from __future__ import annotations

from prometheus_client.metrics_core import Metric


def gauge(name: str, documentation: str) -> Metric:
    """An empty gauge family. No fixed label names: a sample has ``site`` or ``server``."""
    return Metric(name, documentation, "gauge")


def add(metric: Metric, labels: dict[str, str], value: float):
    metric.add_sample(metric.name, labels, value)
