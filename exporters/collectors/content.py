"""What the ``content`` probe found on each site's home page, against its baseline."""

from __future__ import annotations

from typing import Iterable

from exporters.collectors import SITE, CacheCollector, Gauge
from exporters.probes.content_fingerprint import ASPECTS


class ContentCollector(CacheCollector):
    """Series of the latest ``content`` run on each site, present only if that run succeeded
    (the home page answered 200):

    - ``owl_content_similarity_ratio{client, site, aspect}``: how similar the page is to the
      baseline, from 0 (nothing in common) to 1 (the same), for ``aspect`` = ``title``, ``text``
      and ``structure``; 1 on each when this run's page became the baseline.
    - ``owl_content_changed{client, site}``: 1 when at least two aspects fell below their
      thresholds (the page was replaced), else 0.
    - ``owl_content_baseline_timestamp_seconds{client, site}``: when the baseline page was
      fetched, in Unix time (the first successful run, or the first after ``owl baseline accept``).

    A failed run (down, not 200, timeout) exports none of them: see
    ``owl_probe_success{probe="content"}``.
    """

    @staticmethod
    def families() -> tuple[Gauge, ...]:
        return (
            Gauge("owl_content_similarity_ratio",
                  "How similar the home page is to its baseline, per aspect (0 to 1).",
                  (*SITE, "aspect")),
            Gauge("owl_content_changed",
                  "Whether the home page was replaced: most aspects unlike the baseline.", SITE),
            Gauge("owl_content_baseline_timestamp_seconds",
                  "When the baseline of the home page was fetched, in Unix time.", SITE),
        )

    def collect(self) -> Iterable[Gauge]:
        similarity, changed, baseline = families = self.families()
        for run in self.cache.runs("content"):
            if not run.result.success:
                continue
            labels = run.target.labels()
            report = run.result.data
            for aspect in ASPECTS:
                similarity.add({**labels, "aspect": aspect},
                               report.comparison.similarity[aspect])
            changed.add(labels, int(report.comparison.changed))
            baseline.add(labels, report.baseline_time)
        return families
