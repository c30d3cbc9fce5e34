"""Status of every probe kind on every target, whatever the probe."""

from __future__ import annotations

from typing import Iterable

from exporters.collectors import AnyTargetGauge, CacheCollector


class ProbeStatusCollector(CacheCollector):
    """Generic series of the latest run of each probe kind on each target.

    - ``owl_probe_success{probe, client, site|server}``: 1 if the latest run succeeded, else 0
      (also 0 while a run is going past its timeout).
    - ``owl_probe_duration_seconds{probe, client, site|server}``: how long the latest run took.
    - ``owl_probe_last_run_timestamp_seconds{probe, client, site|server}``: when it started (Unix
      time).
    - ``owl_probe_interval_seconds{probe, client, site|server}``: how often the kind runs on the
      target, at its client's tier (``provider.probes``): ``OwlProbeStale`` compares the age of
      the latest run with it, so that no rule per client is needed.

    Targets not yet probed since the exporter started have no series.
    """

    @staticmethod
    def families() -> tuple[AnyTargetGauge, ...]:
        return (
            AnyTargetGauge("owl_probe_success", "Whether the latest run of the probe succeeded."),
            AnyTargetGauge("owl_probe_duration_seconds",
                           "How long the latest run of the probe took."),
            AnyTargetGauge("owl_probe_last_run_timestamp_seconds",
                           "When the latest run of the probe started, in Unix time."),
            AnyTargetGauge("owl_probe_interval_seconds",
                           "How often the probe runs on the target, at its client's tier."),
        )

    def collect(self) -> Iterable[AnyTargetGauge]:
        success, duration, last_run, interval = families = self.families()
        for run in self.cache.runs():
            labels = {"probe": run.probe, **run.target.labels()}
            success.add(labels, 1 if run.result.success else 0)
            duration.add(labels, run.duration)
            last_run.add(labels, run.started_at)
            interval.add(labels, run.interval)
        return families
