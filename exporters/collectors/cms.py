"""What the ``cms`` probe found on each site."""

from __future__ import annotations

from typing import Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporters.collectors import add, gauge
from exporters.probe import ResultCache


class CmsCollector(Collector):
    """Series of the latest ``cms`` run on each site, present only if that run succeeded.

    - ``owl_cms_detected{client, site}``: 1 if a CMS was recognised, 0 if the site answered but no
      detector recognised it.
    - ``owl_cms_info{client, site, cms, version, method, confidence} 1``: the CMS and version found,
      how (``meta_generator``, ``feed_generator``, ``asset_ver``) and how sure
      (``high``, ``medium``, ``low``).

    When the latest run failed (``owl_probe_success{probe="cms"} 0``), neither series is exported:
    the last known version is not carried over, so a rule on ``owl_cms_info`` never acts on a
    version nobody has seen recently. Rules that need to ride out a short failure can use
    ``last_over_time(owl_cms_info[...])``.
    """

    def __init__(self, cache: ResultCache, context=None):
        self.cache = cache

    def collect(self) -> Iterable[Metric]:
        detected = gauge("owl_cms_detected", "Whether the latest CMS probe recognised a CMS.")
        info = gauge("owl_cms_info", "CMS and version found by the latest CMS probe.")
        for run in self.cache.runs("cms"):
            if not run.result.success:
                continue
            labels = run.target.labels()
            found = run.result.data
            add(detected, labels, 0 if found is None else 1)
            if found is not None:
                add(info, {**labels, "cms": found.cms, "version": found.version,
                           "method": found.method, "confidence": found.confidence}, 1)
        yield from (detected, info)
