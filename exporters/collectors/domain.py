"""What the ``domain`` probe found about each site's domain registration."""

from __future__ import annotations

from typing import Iterable

from exporters.collectors import SITE, CacheCollector, Gauge


class DomainCollector(CacheCollector):
    """Series of the latest successful ``domain`` run on each site.

    - ``owl_domain_expiry_timestamp_seconds{client, site, domain}``: when the registration of
      ``domain`` expires (Unix time), from the registry's RDAP answer. No series when the
      latest run failed (see ``owl_probe_success{probe="domain"}``) or when the registry
      publishes no expiry date.
    """

    @staticmethod
    def families() -> tuple[Gauge, ...]:
        return (Gauge("owl_domain_expiry_timestamp_seconds",
                      "When the registration of the site's domain expires, in Unix time (RDAP).",
                      (*SITE, "domain")),)

    def collect(self) -> Iterable[Gauge]:
        expiry, = families = self.families()
        for run in self.cache.runs("domain"):
            report = run.result.data
            if run.result.success and report is not None and report.expiry is not None:
                expiry.add({**run.target.labels(), "domain": report.domain}, report.expiry)
        return families
