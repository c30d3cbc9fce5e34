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

    A file that cannot be read has no series (and the probes that need it fail, saying why).
    """

    @staticmethod
    def families() -> tuple[Gauge, ...]:
        return (Gauge("owl_cms_catalogue_age_seconds", "Age of the CMS catalogue's data."),
                Gauge("owl_vulnerability_db_age_seconds",
                      "Age of the vulnerability database's data."))

    def collect(self) -> Iterable[Gauge]:
        now = self.context.clock()
        catalogue, database = families = self.families()
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
