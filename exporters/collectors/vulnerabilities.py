"""What the ``vulnerabilities`` probe found on each site (tier 2 and up)."""

from __future__ import annotations

from typing import Iterable

from exporters.collectors import SITE, CacheCollector, Gauge
from exporters.vulndb.model import SEVERITIES


class VulnerabilityCollector(CacheCollector):
    """Series of the latest ``vulnerabilities`` run on each site, present only if it succeeded.

    - ``owl_cms_vulnerabilities{client, site, severity}``: how many known advisories affect the
      core and components found, per severity (``critical``, ``high``, ``medium``, ``low``; 0s
      included). Absent without a vulnerability database.
    - ``owl_cms_vulnerability_info{client, site, component, id, severity, known_exploited} 1``: each
      matching advisory; ``component`` is ``core`` or the plugin/theme/module name,
      ``known_exploited`` is ``true`` or ``false``.
    - ``owl_site_exposed_file{client, site, path}``: 1 if the sensitive file answers with its own
      content, 0 if not, for each file checked (see :mod:`exporters.probes.exposure`).
    - ``owl_site_security_header_missing{client, site, header}``: 1 if the home page lacks the
      header, else 0 (see :mod:`exporters.probes.headers`).
    """

    @staticmethod
    def families() -> tuple[Gauge, ...]:
        return (
            Gauge("owl_cms_vulnerabilities",
                  "Known vulnerabilities affecting the CMS core and components found.",
                  (*SITE, "severity")),
            Gauge("owl_cms_vulnerability_info", "Each advisory affecting the site.",
                  (*SITE, "component", "id", "severity", "known_exploited")),
            Gauge("owl_site_exposed_file",
                  "Whether a sensitive file is served with its own content.", (*SITE, "path")),
            Gauge("owl_site_security_header_missing",
                  "Whether the home page lacks a security header.", (*SITE, "header")),
        )

    def collect(self) -> Iterable[Gauge]:
        counts, info, exposed, missing = families = self.families()
        for run in self.cache.runs("vulnerabilities"):
            if not run.result.success:
                continue
            labels = run.target.labels()
            report = run.result.data
            if report.matches is not None:
                per_severity = dict.fromkeys(SEVERITIES, 0)
                for match in report.matches:
                    advisory = match.vulnerability
                    per_severity[advisory.severity] += 1
                    info.add({**labels, "component": match.component, "id": advisory.id,
                              "severity": advisory.severity,
                              "known_exploited": str(advisory.known_exploited).lower()}, 1)
                for severity, count in per_severity.items():
                    counts.add({**labels, "severity": severity}, count)
            for path, is_exposed in report.exposed.items():
                exposed.add({**labels, "path": path}, int(is_exposed))
            for header, is_missing in report.missing_headers.items():
                missing.add({**labels, "header": header}, int(is_missing))
        return families
