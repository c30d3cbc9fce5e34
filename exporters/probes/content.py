"""The ``content`` probe (every tier): does the home page still look like the site's own?

SiteDefaced (blackbox_exporter) sees a defacement only when the defacer signs it ("hacked by").
This probe compares the home page, after redirects, with a baseline: its fingerprint
(:mod:`exporters.probes.content_fingerprint`: title, visible text, structure) taken at the
first successful run. Each run exports the similarity of the page to the baseline per aspect, and
``changed`` when at least two of the three aspects fall below their :data:`THRESHOLDS`: a page
whose text, layout and title were all replaced (a defacement, a domain taken over or parked, a
hosting provider's placeholder, a redesign nobody told us of). A blog's new post, the day's date,
a rotating banner, a cart count or a nonce change the text a little and nothing else.

A home page that does not answer 200 is a failed run that compares nothing and keeps the
baseline (a site that is down is SiteDown's). After a legitimate redesign, ``owl baseline accept
CLIENT/SITE`` (:mod:`exporters.content_command`) asks that the next successful run's page become
the baseline (:mod:`exporters.probes.content_state`). Baselines live in the exporter's memory and,
with ``--storage.path``, in its files, so that a restart keeps them; without it, a restarted
exporter takes the page it first sees as the baseline.

Every tier, as SiteDefaced: a page that is no longer the client's site is an incident of the
"main resources" (the site as its visitors see it), during a tier 0 trial too, and the probe
costs one parse of a page the ``cms`` probe fetches anyway when their runs coincide (its
15-minute interval divides the cms probe's 6 hours; :mod:`exporters.probes.fetcher`).
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Callable

from exporters.probe import ProbeError, ProbeKind, ProbeResult
from exporters.probes.content_fingerprint import Fingerprint, fingerprint, similarity
from exporters.probes.content_state import Baseline, Comparison, ContentStore, SiteContent
from exporters.probes.fetcher import FetchCache, Fetcher
from exporters.targets import Target
from owl.inventory import DEFAULT_PROBE_INTERVALS

INTERVAL = DEFAULT_PROBE_INTERVALS["content"]
TIMEOUT = 10.0
# below these, an aspect changed; measured on tests/fixtures/content: a week of a blog's life
# keeps title and structure at 1 and text at about 0.7, a replaced page is under 0.4 on all three
THRESHOLDS = {"title": 0.5, "text": 0.3, "structure": 0.5}
CHANGED_ASPECTS = 2


@dataclass(frozen=True)
class ContentReport:
    """What a run found: the baseline's time, and the page against it (all 1 when this run's
    page became the baseline)."""

    baseline_time: float
    comparison: Comparison


def is_changed(similarities: dict[str, float]) -> bool:
    below = [aspect for aspect, threshold in THRESHOLDS.items()
             if similarities[aspect] < threshold]
    return len(below) >= CHANGED_ASPECTS


class ContentProbe:
    """Runs of the ``content`` probe, with the baselines per site in memory and in ``store``."""

    def __init__(self, timeout: float = TIMEOUT, fetches: FetchCache | None = None,
                 clock: Callable[[], float] = time.time, store: ContentStore | None = None):
        self.timeout = timeout
        self.fetches = fetches
        self._clock = clock
        self._store = store
        self._lock = threading.Lock()
        self._sites: dict[str, SiteContent | None] = {}

    def __call__(self, target: Target) -> ProbeResult:
        fetched_at = self._clock()
        url, page = self.fetch(target)
        content = self._compared(target.key, fetched_at, url, page)
        return ProbeResult.ok(ContentReport(content.baseline.time, content.last))

    def fetch(self, target: Target) -> tuple[str, Fingerprint]:
        """The home page's final URL and fingerprint; ProbeError unless it answers 200."""
        with Fetcher(self.timeout, cache=self.fetches, kind="content") as fetcher:
            home = fetcher.get(target.site.url)
        if home.status != 200:
            raise ProbeError(f"GET {target.site.url}: HTTP {home.status}, nothing compared")
        return home.url, fingerprint(home.text())

    def _compared(self, key: str, fetched_at: float, url: str, page: Fingerprint) -> SiteContent:
        current = self._known(key)
        if current is None or self._accepted_since(key, current.baseline):
            content = SiteContent(Baseline(fetched_at, url, page),
                                  Comparison(fetched_at, similarity(page, page), False))
        else:
            similarities = similarity(current.baseline.fingerprint, page)
            content = SiteContent(current.baseline, Comparison(fetched_at, similarities,
                                                               is_changed(similarities)))
        with self._lock:
            self._sites[key] = content
        if self._store is not None:
            self._store.save(key, content)
        return content

    def _known(self, key: str) -> SiteContent | None:
        """The site's baseline, from memory, or from the store at its first run."""
        with self._lock:
            if key in self._sites:
                return self._sites[key]
        return self._store.load(key) if self._store is not None else None

    def _accepted_since(self, key: str, baseline: Baseline) -> bool:
        accepted = self._store.accepted_at(key) if self._store is not None else None
        return accepted is not None and accepted > baseline.time


def content_probe(interval: dt.timedelta = INTERVAL, timeout: float = TIMEOUT,
                  fetches: FetchCache | None = None, clock: Callable[[], float] = time.time,
                  store: ContentStore | None = None) -> ProbeKind:
    return ProbeKind("content", ContentProbe(timeout, fetches, clock, store), interval, timeout)


def content_kind(context) -> ProbeKind:
    """The ``content`` kind on every site of every tier, on the inventory's schedule, reading the
    pages the site's other probes fetched, its baselines kept in the exporter's storage folder
    if any."""
    store = ContentStore(context.storage_path) if context.storage_path else None
    return content_probe(fetches=context.fetches, clock=lambda: context.clock().timestamp(),
                         store=store).scheduled(context.schedule("content"))
