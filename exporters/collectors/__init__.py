"""Prometheus collectors: each reads the probe cache at scrape time and yields metric families.

Series about a target carry ``client`` and ``site`` (or ``server``) labels, from
:meth:`exporters.targets.Target.labels`: :data:`SITE` and :data:`SERVER` are their names.

Every collector is a :class:`CacheCollector`: it declares its families once, in ``families()``;
``describe()`` returns them without samples, so a registry checks their names when the collector
is registered, and ``collect()`` fills a fresh set of them.

Every family is a gauge, the ``_info`` ones too: as an InfoMetricFamily, ``owl_cms_info`` would
change its TYPE line in OpenMetrics (which Prometheus asks for first) to ``# TYPE owl_cms info``.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Iterable, Mapping, Sequence

from prometheus_client.metrics_core import GaugeMetricFamily
from prometheus_client.registry import Collector

from exporters.context import ProbeContext
from exporters.probe import ResultCache

SITE = ("client", "site")
SERVER = ("client", "server")


class Gauge(GaugeMetricFamily):
    """A gauge family whose series are added by label name: ``add({"client": c, "site": s}, 1)``.

    The names given must be the family's ``labels``, no more, no fewer.
    """

    def __init__(self, name: str, documentation: str, labels: Sequence[str] = ()):
        super().__init__(name, documentation, labels=labels)
        self.label_names = tuple(labels)
        self._label_set = frozenset(labels)

    def add(self, labels: Mapping[str, str], value: float):
        if labels.keys() != self._label_set:
            raise ValueError(f"{self.name}: labels {sorted(labels)}, "
                             f"expected {sorted(self.label_names)}")
        self.add_metric([labels[name] for name in self.label_names], value)


class AnyTargetGauge(GaugeMetricFamily):
    """A gauge family with series about sites and about servers: each series brings its own label
    names, ``site`` or ``server``.

    GaugeMetricFamily's ``add_metric`` takes one list of label names per family, and giving every
    series both names would add an empty ``server=""`` or ``site=""`` to each. So this family, and
    only this one, adds its samples with ``Metric.add_sample``, which client_python calls internal.
    """

    def add(self, labels: Mapping[str, str], value: float):
        self.add_sample(self.name, dict(labels), value)


class CacheCollector(Collector):
    """A collector of the latest results in ``cache`` (and of ``context``'s data files)."""

    def __init__(self, cache: ResultCache, context: ProbeContext):
        self.cache = cache
        self.context = context

    @staticmethod
    @abstractmethod
    def families() -> tuple[GaugeMetricFamily, ...]:
        """The families :meth:`collect` yields, without samples, in the same order."""

    def describe(self) -> Iterable[GaugeMetricFamily]:
        return self.families()
