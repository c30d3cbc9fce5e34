"""Status of every probe kind on every target, whatever the probe."""

from __future__ import annotations

from typing import Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporters.collectors import add, gauge
from exporters.probe import ResultCache


class ProbeStatusCollector(Collector):
    """Generic series of the latest run of each probe kind on each target.

    - ``owl_probe_success{probe, client, site|server}``: 1 if the latest run succeeded, else 0
      (also 0 while a run is going past its timeout).
    - ``owl_probe_duration_seconds{probe, client, site|server}``: how long the latest run took.
    - ``owl_probe_last_run_timestamp_seconds{probe, client, site|server}``: when it started (Unix
      time).

    Targets not yet probed since the exporter started have no series.
    """

    def __init__(self, cache: ResultCache, context=None):
        self.cache = cache

    def collect(self) -> Iterable[Metric]:
        success = gauge("owl_probe_success", "Whether the latest run of the probe succeeded.")
        duration = gauge("owl_probe_duration_seconds", "How long the latest run of the probe took.")
        last_run = gauge("owl_probe_last_run_timestamp_seconds",
                         "When the latest run of the probe started, in Unix time.")
        for run in self.cache.runs():
            labels = {"probe": run.probe, **run.target.labels()}
            add(success, labels, 1 if run.result.success else 0)
            add(duration, labels, run.duration)
            add(last_run, labels, run.started_at)
        yield from (success, duration, last_run)
