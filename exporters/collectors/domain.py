"""What the ``domain`` probe found about each site's domain registration."""

from __future__ import annotations

from typing import Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporters.collectors import add, gauge
from exporters.probe import ResultCache


class DomainCollector(Collector):
    """Series of the latest successful ``domain`` run on each site.

    - ``owl_domain_expiry_timestamp_seconds{client, site, domain}``: when the registration of
      ``domain`` expires (Unix time), from the registry's RDAP answer. No series when the
      latest run failed (see ``owl_probe_success{probe="domain"}``) or when the registry
      publishes no expiry date.
    """

    def __init__(self, cache: ResultCache, context=None):
        self.cache = cache

    def collect(self) -> Iterable[Metric]:
        expiry = gauge("owl_domain_expiry_timestamp_seconds",
                       "When the registration of the site's domain expires, in Unix time (RDAP).")
        for run in self.cache.runs("domain"):
            report = run.result.data
            if run.result.success and report is not None and report.expiry is not None:
                add(expiry, {**run.target.labels(), "domain": report.domain}, report.expiry)
        yield expiry
