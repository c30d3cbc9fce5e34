"""The probes' GETs, and the answers they share so that a page is fetched once a cycle.

A :class:`Fetcher` GETs pages for one probe run, all within one deadline, through a
:class:`FetchCache`: its own (a page asked twice in a run is fetched once), or the exporter's.

The ``cms`` and ``vulnerabilities`` probes of a site both read its home page, and the files that
detection and the exposure checks look at (Drupal 7's ``CHANGELOG.txt``, WordPress's
``readme.html``). The scheduler runs the kinds of a site at the same moments (see
:mod:`exporters.scheduler`), and :class:`FetchCache` keeps each complete answer for ``ttl``
seconds: the second probe reads what the first fetched, while the next run of a kind that read
an answer fetches it anew (a site that broke since is seen broken). Two probes asking for the same URL at once
make one request; the second waits for it within its own deadline. A failed request is not kept
(the next probe tries again), and an answer cut at a smaller size than a probe asks for is fetched
again. Answers are bounded by their total body size (oldest dropped first), so the cache costs at
most ``max_bytes`` of memory whatever the inventory's size.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Callable

from cachetools import TTLCache

from exporters.probes.http import (MAX_BODY_BYTES, MAX_REDIRECTS, Deadline, Fetched,
                                   probe_session, send)

TTL_SECONDS = 600.0
MAX_BYTES = 64 * 1024 * 1024


@dataclass
class _Kept:
    """An answer and the run of each probe kind that read it (a kind's next run fetches anew)."""

    answer: Fetched
    readers: dict[str, object]

    def serves(self, max_bytes: int, reader: tuple[str, object]) -> bool:
        kind, run = reader
        if self.readers.setdefault(kind, run) is not run:
            return False
        return not self.answer.truncated or len(self.answer.body) >= max_bytes


def _cut(answer: Fetched, max_bytes: int) -> Fetched:
    if len(answer.body) <= max_bytes:
        return answer
    return replace(answer, body=answer.body[:max_bytes], truncated=True)


class FetchCache:
    """Complete GET answers by URL, for ``ttl`` seconds, at most ``max_bytes`` of bodies."""

    def __init__(self, ttl: float = TTL_SECONDS, max_bytes: int = MAX_BYTES,
                 monotonic: Callable[[], float] = time.monotonic):
        self._answers: TTLCache = TTLCache(max_bytes, ttl, timer=monotonic,
                                           getsizeof=lambda kept: len(kept.answer.body) + 1)
        self._lock = threading.Lock()
        self._pending: dict[str, threading.Event] = {}

    def get(self, url: str, max_bytes: int, fetch: Callable[[], Fetched], deadline: Deadline,
            reader: tuple[str, object] = ("", None)) -> Fetched:
        """The kept answer of ``url`` if it holds ``max_bytes`` and ``reader`` (probe kind, run)
        may read it, else ``fetch()``'s, kept."""
        while True:
            with self._lock:
                kept = self._answers.get(url)
                if kept is not None and kept.serves(max_bytes, reader):
                    return _cut(kept.answer, max_bytes)
                pending = self._pending.get(url)
                if pending is None:
                    self._pending[url] = threading.Event()
                    break
            # another probe is fetching it: use its answer, or fetch after it if it failed
            if not pending.wait(deadline.remaining(f"GET {url}")):
                raise deadline.expired(f"GET {url}")
        try:
            answer = fetch()
            self._keep(url, _Kept(answer, {reader[0]: reader[1]}))
            return answer
        finally:
            with self._lock:
                self._pending.pop(url).set()

    def _keep(self, url: str, kept: _Kept):
        with self._lock:
            try:
                self._answers[url] = kept
            except ValueError:  # a body larger than the whole cache is simply not kept
                pass

class Fetcher:
    """GETs of one run of probe ``kind`` sharing one deadline of ``timeout`` seconds from
    creation, their answers kept in ``cache`` (default: one of its own). A context manager."""

    def __init__(self, timeout: float, max_bytes: int = MAX_BODY_BYTES,
                 cache: FetchCache | None = None, kind: str = ""):
        self.timeout = timeout
        self.max_bytes = max_bytes
        self._deadline = Deadline(timeout)
        self._cache = cache if cache is not None else FetchCache()
        self._reader = (kind, object())
        self._session = probe_session()
        self._session.max_redirects = MAX_REDIRECTS

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc_info):
        self._session.close()

    def get(self, url: str, max_bytes: int | None = None) -> Fetched:
        """GET ``url`` (its body cut at ``max_bytes``, default the fetcher's); raise
        :class:`exporters.probes.http.ProbeTimeout` or :class:`exporters.probe.ProbeError`."""
        limit = max_bytes or self.max_bytes
        return self._cache.get(
            url, limit, lambda: send(self._session, self._deadline, "GET", url, limit),
            self._deadline, self._reader)
