"""The exporter's own refresh of its data files, as ``owl catalogue refresh`` and
``owl vulndb refresh`` do, every ``provider.probes.data_refresh`` (default a day; null: never).

The first refresh comes one interval after start (a start-up makes no call to the outside; the
``UpdateChecksBlind`` and ``VulnerabilityScanBlind`` alerts speak for files that are already old).
The CMS catalogue is written where ``provider.probes.cms_catalogue`` says, else over the shipped
one; the vulnerability database only when ``provider.probes.vulnerability_db`` names one. Without
a network, or when an upstream fails, a file is left as it is and the failure is logged and
exported (``owl_data_file_refresh_success 0``); the probes reload a file that changed on their
next run (:class:`exporters.context.DataFile`).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from exporters.upstream import RefreshError
from owl.files import write_atomically

log = logging.getLogger(__name__)
WORDFENCE_KEY_ENV = "OWL_WORDFENCE_API_KEY"


@dataclass(frozen=True)
class RefreshOutcome:
    """The latest refresh of one data file: when it was tried, and whether it was written."""

    at: dt.datetime
    success: bool
    message: str


def wordfence_key(key_file: str | None) -> str | None:
    """The Wordfence API key: the file's first line, else ``$OWL_WORDFENCE_API_KEY``."""
    if key_file:
        return Path(key_file).read_text(encoding="utf-8").strip() or None
    return os.environ.get(WORDFENCE_KEY_ENV) or None


def refreshed_catalogue(path: Path, now: dt.datetime,
                        upstreams: dict[str, str] | None = None) -> tuple[str, str]:
    from exporters.catalogue.model import dump_catalogue, load_catalogue
    from exporters.catalogue.refresh import refresh

    new = refresh(load_catalogue(path), now.date(), upstreams)
    return dump_catalogue(new), f"dated {new.date.isoformat()}"


def refreshed_database(path: Path, now: dt.datetime, probes) -> tuple[str, str]:
    from exporters.vulndb.model import dump_database, load_database
    from exporters.vulndb.refresh import FEEDS, refresh_database

    current = load_database(path) if path.exists() else None
    new, lines = refresh_database(current, now, {**FEEDS, **probes.vulnerability_feeds},
                                  wordfence_key(probes.wordfence_api_key_file))
    return dump_database(new), "; ".join(lines)


class DataRefresh:
    """Refreshes the data files of ``context`` (:class:`exporters.context.ProbeContext`) and
    records each outcome in ``context.refreshes``. ``catalogue_upstreams`` replaces the
    catalogue's upstream addresses (:data:`exporters.catalogue.refresh.UPSTREAMS`)."""

    def __init__(self, context, catalogue_upstreams: dict[str, str] | None = None):
        self.context = context
        self.catalogue_upstreams = catalogue_upstreams

    def files(self) -> dict[str, tuple[Path, Callable[[Path, dt.datetime], tuple[str, str]]]]:
        files = {"cms_catalogue": (
            Path(self.context.catalogue.path),
            lambda path, now: refreshed_catalogue(path, now, self.catalogue_upstreams))}
        if self.context.vulndb is not None:
            files["vulnerability_db"] = (
                Path(self.context.vulndb.path),
                lambda path, now: refreshed_database(path, now, self.context.probes))
        return files

    def run(self):
        for name, (path, rebuild) in self.files().items():
            now = self.context.clock()
            try:
                text, summary = rebuild(path, now)
                write_atomically(path, text)
            except (RefreshError, OSError, ValueError) as exc:
                log.warning("refresh of %s failed, %s left as it is: %s", name, path, exc)
                self.context.refreshes[name] = RefreshOutcome(now, False, str(exc))
                continue
            log.info("refreshed %s: %s (%s)", name, path, summary)
            self.context.refreshes[name] = RefreshOutcome(now, True, summary)
