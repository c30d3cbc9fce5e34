"""What the ``cms`` probe found on each site."""

from __future__ import annotations

from typing import Iterable

from exporters.collectors import SITE, CacheCollector, Gauge


class CmsCollector(CacheCollector):
    """Series of the latest ``cms`` run on each site, present only if that run succeeded.

    - ``owl_cms_detected{client, site}``: 1 if a CMS was recognised, 0 if the site answered but no
      detector recognised it.
    - ``owl_cms_matches_inventory{client, site, declared}``: 1 if the CMS found is the one the
      inventory's ``cms`` names, 0 if another or none was found; absent for sites declared
      ``other`` (the inventory names no CMS to compare with).
    - ``owl_cms_info{client, site, cms, version, method, confidence} 1``: the CMS and version found
      (``unknown`` when the site hides it; a major alone, ``10``, when that is all it shows), how
      (``meta_generator``, ``feed_generator``, ``asset_ver``, ``changelog``, ``manifest``,
      ``magento_version``, ``markup``...) and how sure (``high``, ``medium``, ``low``).
    - ``owl_cms_core_update_available{client, site, cms}``: 1 if the catalogue knows a newer core
      release in the installed version's update line, else 0; absent when it cannot tell.
    - ``owl_cms_core_supported{client, site, cms}``: 1 if the installed branch still gets security
      fixes, else 0; absent when it cannot tell.
    - ``owl_cms_component_info{client, site, type, name, version} 1``: each plugin, theme, module
      or extension seen (``version`` may be ``unknown``).
    - ``owl_cms_component_update_available{client, site, type, name}``: 1/0 for the components
      whose latest version the catalogue knows.

    When the latest run failed (``owl_probe_success{probe="cms"} 0``), none of these is exported:
    the last known version is not carried over, so a rule never acts on a version nobody has seen
    recently. Rules that need to ride out a short failure can use ``last_over_time(...)``.
    """

    @staticmethod
    def families() -> tuple[Gauge, ...]:
        return (
            Gauge("owl_cms_detected", "Whether the latest CMS probe recognised a CMS.", SITE),
            Gauge("owl_cms_matches_inventory",
                  "Whether the CMS found is the one the inventory declares for the site.",
                  (*SITE, "declared")),
            Gauge("owl_cms_info", "CMS and version found by the latest CMS probe.",
                  (*SITE, "cms", "version", "method", "confidence")),
            Gauge("owl_cms_core_update_available",
                  "Whether the catalogue knows a newer core release of the installed line.",
                  (*SITE, "cms")),
            Gauge("owl_cms_core_supported",
                  "Whether the installed core branch still gets security fixes.", (*SITE, "cms")),
            Gauge("owl_cms_component_info", "Plugins, themes and modules seen on the site.",
                  (*SITE, "type", "name", "version")),
            Gauge("owl_cms_component_update_available",
                  "Whether the catalogue knows a newer version of the component.",
                  (*SITE, "type", "name")),
        )

    def collect(self) -> Iterable[Gauge]:
        detected, matches, info, update, supported, component, component_update = families = \
            self.families()
        for run in self.cache.runs("cms"):
            if not run.result.success:
                continue
            labels = run.target.labels()
            report = run.result.data
            found = report.detection
            detected.add(labels, 0 if found is None else 1)
            declared = run.target.site.cms
            if declared != "other":
                matches.add({**labels, "declared": declared},
                            int(found is not None and found.cms == declared))
            if found is None:
                continue
            info.add({**labels, "cms": found.cms, "version": found.version,
                      "method": found.method, "confidence": found.confidence}, 1)
            cms = {**labels, "cms": found.cms}
            if report.core is not None and report.core.update_available is not None:
                update.add(cms, int(report.core.update_available))
            if report.core is not None and report.core.supported is not None:
                supported.add(cms, int(report.core.supported))
            for item in found.components:
                component.add({**labels, "type": item.type, "name": item.name,
                               "version": item.version}, 1)
            for item, newer in report.component_updates:
                component_update.add({**labels, "type": item.type, "name": item.name}, int(newer))
        return families
