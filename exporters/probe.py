"""Probe kinds, their results, and the cache of latest runs that the collectors read.

A probe kind is a name, a ``run(target) -> ProbeResult`` function, a timeout and a schedule: an
interval, refined per contract tier, and a shorter retry delay after a failure (a site may come up
after the exporter). It applies to sites or to servers, from a minimum tier up, and optionally only
to the targets a predicate accepts (sites with a checkout, servers with backups). Each run is
recorded with its start time and duration. A run that raises, or that takes longer than its
kind's timeout (whether it finishes late or is still running), is a failure: the cache never keeps
serving an older success in its place.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

from exporters.targets import Target

log = logging.getLogger(__name__)


class ProbeError(Exception):
    """An expected failure (site down, unexpected answer): logged without a traceback."""


@dataclass(frozen=True)
class ProbeResult:
    """What one run found. ``data`` is probe-specific and read by that probe's collector."""

    success: bool
    data: Any = None
    error: str = ""

    @classmethod
    def ok(cls, data: Any = None) -> ProbeResult:
        return cls(True, data)

    @classmethod
    def failed(cls, error: str) -> ProbeResult:
        return cls(False, None, error)


RETRY = dt.timedelta(minutes=5)


@dataclass(frozen=True, eq=False)
class ProbeKind:
    """A kind of probe and when it runs.

    ``interval`` is the default period; ``by_tier`` overrides it for the tiers it names. After a
    failed run the next one comes ``retry`` later, or after the interval if that is shorter.
    The kind probes targets of ``target_kind`` of clients of tier ``min_tier`` and up, for which
    ``wants(target)`` (if given) is true.
    """

    name: str
    run: Callable[[Target], ProbeResult]
    interval: dt.timedelta
    timeout: float
    target_kind: str = "site"
    by_tier: Mapping[int, dt.timedelta] = field(default_factory=dict)
    retry: dt.timedelta = RETRY
    min_tier: int = 0
    wants: Callable[[Target], bool] | None = None

    def applies_to(self, target: Target) -> bool:
        return (target.kind == self.target_kind and target.tier >= self.min_tier
                and (self.wants is None or self.wants(target)))

    def interval_for(self, target: Target) -> dt.timedelta:
        return self.by_tier.get(target.tier, self.interval)

    def interval_seconds(self, target: Target) -> float:
        return self.interval_for(target).total_seconds()

    def retry_for(self, target: Target) -> dt.timedelta:
        """The delay before the next run after a failure."""
        return min(self.retry, self.interval_for(target))

    def scheduled(self, schedule) -> ProbeKind:
        """This kind with the interval and per-tier intervals of an inventory
        :class:`owl.inventory.ProbeSchedule`."""
        return replace(self, interval=schedule.interval, by_tier=dict(schedule.by_tier))


@dataclass(frozen=True)
class ProbeRun:
    """The latest run of one probe kind against one target."""

    probe: str
    target: Target
    result: ProbeResult
    started_at: float
    duration: float
    interval: float  # seconds between the kind's runs on the target, at its tier


@dataclass(frozen=True)
class _InFlight:
    kind: ProbeKind
    target: Target
    started_at: float
    started_monotonic: float


class ResultCache:
    """Latest run per (probe kind, target), shared by the scheduler's threads and the collectors."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic):
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._runs: dict[tuple[str, str], ProbeRun] = {}
        self._in_flight: dict[tuple[str, str], _InFlight] = {}

    def begin(self, kind: ProbeKind, target: Target, started_at: float, started_monotonic: float):
        with self._lock:
            self._in_flight[(kind.name, target.key)] = _InFlight(kind, target, started_at,
                                                                  started_monotonic)

    def finish(self, run: ProbeRun):
        with self._lock:
            key = (run.probe, run.target.key)
            self._in_flight.pop(key, None)
            self._runs[key] = run

    def forget(self, target_key: str):
        """Drop every run of a target that is no longer probed (client ended, inventory changed)."""
        with self._lock:
            for store in (self._runs, self._in_flight):
                for key in [key for key in store if key[1] == target_key]:
                    del store[key]

    def runs(self, probe: str | None = None) -> list[ProbeRun]:
        """Latest runs (of ``probe`` only, if given), ordered by probe and target.

        A run still going past its kind's timeout replaces the previous result with a failure.
        """
        now = self._monotonic()
        with self._lock:
            latest = dict(self._runs)
            for key, flight in self._in_flight.items():
                elapsed = now - flight.started_monotonic
                if elapsed > flight.kind.timeout:
                    latest[key] = ProbeRun(key[0], flight.target, ProbeResult.failed(
                        f"still running after {elapsed:.1f}s (timeout {flight.kind.timeout}s)"),
                        flight.started_at, elapsed, flight.kind.interval_seconds(flight.target))
        return [latest[key] for key in sorted(latest) if probe is None or key[0] == probe]


def run_probe(kind: ProbeKind, target: Target, cache: ResultCache,
              wall: Callable[[], float] = time.time,
              monotonic: Callable[[], float] = time.monotonic) -> ProbeRun:
    """Run ``kind`` against ``target`` once, record the run in ``cache`` and return it."""
    started_at, start = wall(), monotonic()
    cache.begin(kind, target, started_at, start)
    result = _guarded(kind, target)
    duration = monotonic() - start
    if result.success and duration > kind.timeout:
        result = ProbeResult.failed(f"took {duration:.1f}s, over its {kind.timeout}s timeout")
    if not result.success:
        log.info("probe %s on %s failed: %s", kind.name, target.key, result.error)
    run = ProbeRun(kind.name, target, result, started_at, duration, kind.interval_seconds(target))
    cache.finish(run)
    return run


def _guarded(kind: ProbeKind, target: Target) -> ProbeResult:
    try:
        return kind.run(target)
    except ProbeError as exc:
        return ProbeResult.failed(str(exc))
    except Exception as exc:  # a probe bug must not kill the scheduler thread nor look like success
        log.exception("probe %s on %s raised", kind.name, target.key)
        return ProbeResult.failed(f"{type(exc).__name__}: {exc}")
