"""What probe kinds and collectors are built from: the inventory's probe settings and data files.

:class:`ProbeContext` holds ``provider.probes`` of the inventory (schedules per kind and tier, the
paths of the CMS catalogue and of the vulnerability database) and loads those files on demand,
again whenever they change on disk, so that ``owl catalogue refresh`` or ``owl vulndb import`` take
effect without restarting the exporter. ``storage_path`` is the exporter's own state folder
(``owl exporter --storage.path``), where probes keep results across restarts; None: memory only.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, TypeVar

from owl.clock import utc_now
from owl.inventory import Probes, ProbeSchedule

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass
class _Loaded(Generic[T]):
    stamp: tuple[int, int]
    value: T


class DataFile(Generic[T]):
    """A file parsed by ``load(path)``, parsed again when its modification time or size change.

    If a changed file cannot be parsed, the error is logged and raised to the caller (a probe run
    then fails): a broken file is not silently replaced by the previous one.
    """

    def __init__(self, path: str, load: Callable[[str], T]):
        self.path = path
        self._load = load
        self._lock = threading.Lock()
        self._loaded: _Loaded[T] | None = None

    def get(self) -> T:
        stat = os.stat(self.path)
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._loaded is None or self._loaded.stamp != stamp:
                self._loaded = _Loaded(stamp, self._load(self.path))
                log.info("loaded %s", self.path)
            return self._loaded.value


class ProbeContext:
    """The inventory's probe settings, its data files, the clock and the state folder."""

    def __init__(self, probes: Probes | None = None, clock: Callable[[], dt.datetime] = utc_now,
                 storage_path: Path | None = None):
        from exporters.catalogue.model import load_catalogue, shipped_catalogue_path
        from exporters.probes.fetcher import FetchCache
        from exporters.vulndb.match import Index
        from exporters.vulndb.model import load_database

        self.probes = probes or Probes()
        self.clock = clock
        self.storage_path = storage_path
        self.catalogue = DataFile(self.probes.cms_catalogue or str(shipped_catalogue_path()),
                                  load_catalogue)
        # the database indexed once per version of the file, not once per probe run
        self.vulndb = (DataFile(self.probes.vulnerability_db,
                                lambda path: Index(load_database(path)))
                       if self.probes.vulnerability_db else None)
        self.fetches = FetchCache()  # pages fetched by one probe, read by the site's others
        self.refreshes: dict = {}  # data file -> its latest exporters.data_refresh.RefreshOutcome

    def today(self) -> dt.date:
        return self.clock().date()

    def schedule(self, kind: str) -> ProbeSchedule:
        """The schedule of probe ``kind`` (``cms``, ``vulnerabilities``, ``shop``...)."""
        return getattr(self.probes, kind)
