"""What the exporter's scheduler has to probe, whatever the probes found."""

from __future__ import annotations

from typing import Callable, Iterable, Mapping

from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector


class ScheduleCollector(Collector):
    """How many targets the exporter (its shard) probes with each kind.

    - ``owl_probe_targets{probe}``: targets scheduled for the kind now, 0 when none: what
      ``OwlExporterSilent`` expects runs from, per exporter instance.
    """

    def __init__(self, targets_per_kind: Callable[[], Mapping[str, int]]):
        self._targets_per_kind = targets_per_kind

    @staticmethod
    def family() -> GaugeMetricFamily:
        return GaugeMetricFamily("owl_probe_targets",
                                 "How many targets the exporter probes with the kind.",
                                 labels=["probe"])

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return [self.family()]

    def collect(self) -> Iterable[GaugeMetricFamily]:
        family = self.family()
        for kind, count in sorted(self._targets_per_kind().items()):
            family.add_metric([kind], count)
        return [family]
