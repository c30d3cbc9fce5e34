"""The age of the data files the probes read, so that a stale catalogue or database alerts."""

from __future__ import annotations

import logging
from typing import Iterable

from exporters.collectors import CacheCollector, Gauge

log = logging.getLogger(__name__)


class DataFilesCollector(CacheCollector):
    """Age of the local data files, from the date written inside them (not the file's mtime,
    which a copy changes):

    - ``owl_cms_catalogue_age_seconds``: since the CMS catalogue's ``date``.
    - ``owl_vulnerability_db_age_seconds``: since the vulnerability database's ``updated``;
      absent when no database is configured.
    - ``owl_vulnerability_db_configured``: 1 if the inventory names a vulnerability database
      (``provider.probes.vulnerability_db``), 0 if the scans have none to match against.

    - ``owl_data_file_refresh_success{file}``: 1 if the exporter's latest refresh of
      ``cms_catalogue`` or ``vulnerability_db`` from upstream wrote it, 0 if it failed (no
      network, an upstream down) and left it as it was; absent before the first refresh.
    - ``owl_data_file_refresh_timestamp_seconds{file}``: when that refresh was tried.

    A file that cannot be read has no series (and the probes that need it fail, saying why).
    """

    @staticmethod
    def families() -> tuple[Gauge, ...]:
        return (Gauge("owl_cms_catalogue_age_seconds", "Age of the CMS catalogue's data."),
                Gauge("owl_vulnerability_db_age_seconds",
                      "Age of the vulnerability database's data."),
                Gauge("owl_vulnerability_db_configured",
                      "Whether a vulnerability database is configured for the scans."),
                Gauge("owl_data_file_refresh_success",
                      "Whether the latest refresh of the data file from upstream wrote it.",
                      ("file",)),
                Gauge("owl_data_file_refresh_timestamp_seconds",
                      "When the latest refresh of the data file from upstream was tried.",
                      ("file",)))

    def collect(self) -> Iterable[Gauge]:
        now = self.context.clock()
        catalogue, database, configured, refreshed, refreshed_at = families = self.families()
        configured.add({}, int(self.context.vulndb is not None))
        for name, outcome in sorted(self.context.refreshes.items()):
            refreshed.add({"file": name}, int(outcome.success))
            refreshed_at.add({"file": name}, outcome.at.timestamp())
        for family, data_file, read in (
                (catalogue, self.context.catalogue, lambda value: value),
                (database, self.context.vulndb, lambda index: index.database)):
            if data_file is None:
                continue
            try:
                family.add({}, read(data_file.get()).age_seconds(now))
            except (OSError, ValueError) as exc:
                log.warning("%s: %s", data_file.path, exc)
        return families
