"""Running every (probe kind, target) pair on its own APScheduler 3 job.

Each job runs first as soon as it is added, then on a grid of its ``kind.interval_for(target)``
(the interval of the target's tier) anchored where the target was first seen plus a phase of its
own (up to a tenth of the interval, at most a minute, from a hash of the target's key), so that
targets added together are spread apart, while the kinds of one target, whose intervals are
multiples of each other (6 h and 12 h), run together at the points they share and read each
other's pages (:mod:`exporters.probes.fetcher`). After a failed run the next one is brought
forward to ``kind.retry_for(target)`` from its end (a site that was down when the exporter started
is seen again within minutes, not hours); the next run after that is back on the grid. A job
never overlaps itself (``max_instances=1``); runs missed while the pool was busy collapse into one
(``coalesce``) and still run however late (``misfire_grace_time=None``). The probes, which wait on
the network, share a thread pool of one thread per job up to :data:`MAX_PROBE_THREADS`.

The set of targets is recomputed every ``refresh`` (a trial ends, a termination date passes): jobs
of targets that left are removed with their cached results, new targets get jobs.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import zlib
from typing import Callable, Iterable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from exporters.probe import ProbeKind, ResultCache, run_probe
from exporters.targets import Target
from owl.clock import utc_now

log = logging.getLogger(__name__)

MAX_PROBE_THREADS = 16
REFRESH_JOB = "refresh-targets"


def pool_size(job_count: int) -> int:
    """Threads for the probes: one per job, at least 2, at most :data:`MAX_PROBE_THREADS`."""
    return max(2, min(MAX_PROBE_THREADS, job_count))


def jitter_seconds(interval: dt.timedelta) -> float:
    """The largest phase of a target on a grid of ``interval``."""
    return min(interval.total_seconds() / 10, 60.0)


def phase(target_key: str, interval: dt.timedelta) -> dt.timedelta:
    """The target's own offset on a grid of ``interval``: the same for every interval of 10
    minutes and more, so that its kinds share their grid points."""
    fraction = zlib.crc32(target_key.encode()) / 2 ** 32
    return dt.timedelta(seconds=min(fraction * 60.0, jitter_seconds(interval)))


class GridTrigger(IntervalTrigger):
    """Fire times at ``start_date + n * interval`` (n >= 0): after a run moved off the grid (a
    retry), the next is the grid's next point, so the kinds of a target stay in step."""

    def get_next_fire_time(self, previous_fire_time, now):
        if previous_fire_time is None:
            return super().get_next_fire_time(previous_fire_time, now)
        elapsed = (previous_fire_time - self.start_date).total_seconds()
        return self.start_date + self.interval * max(0, math.floor(elapsed / self.interval_length) + 1)


class ProbeScheduler:
    """Keeps one job per applicable (probe kind, target) pair of ``targets()``."""

    def __init__(self, kinds: Iterable[ProbeKind], cache: ResultCache,
                 targets: Callable[[], list[Target]],
                 refresh: dt.timedelta = dt.timedelta(minutes=10),
                 tasks: Iterable[tuple[str, Callable[[], None], dt.timedelta]] = ()):
        self.kinds = tuple(kinds)
        self.cache = cache
        self._targets = targets
        self._refresh = refresh
        self._tasks = tuple(tasks)  # (job id, function, interval): first run one interval in
        self._scheduler: BackgroundScheduler | None = None
        self._jobs: dict[str, str] = {}  # job id -> target key
        self._anchors: dict[str, dt.datetime] = {}  # target key -> when it was first seen

    def start(self):
        """Schedule every job (each runs at once) and the periodic refresh of the targets."""
        wanted = self._wanted()
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(pool_size(len(wanted))),
                       "housekeeping": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
            timezone=dt.timezone.utc)
        self._scheduler.start()
        self._apply(wanted)
        self._scheduler.add_job(self.refresh, "interval", id=REFRESH_JOB, executor="housekeeping",
                                seconds=self._refresh.total_seconds())
        for job_id, function, interval in self._tasks:
            self._scheduler.add_job(function, "interval", id=job_id, executor="housekeeping",
                                    seconds=interval.total_seconds())

    def refresh(self):
        """Bring the jobs in line with the current targets."""
        self._apply(self._wanted())

    def job_ids(self) -> list[str]:
        return sorted(self._jobs)

    def targets_per_kind(self) -> dict[str, int]:
        """How many targets each kind probes now (0 for a kind with none)."""
        counts = dict.fromkeys((kind.name for kind in self.kinds), 0)
        for job_id in list(self._jobs):
            kind = job_id.split(":", 1)[0]
            counts[kind] = counts.get(kind, 0) + 1
        return counts

    def next_run(self, job_id: str) -> dt.datetime | None:
        job = self._scheduler.get_job(job_id) if self._scheduler else None
        return job.next_run_time if job else None

    def interval(self, job_id: str) -> dt.timedelta | None:
        job = self._scheduler.get_job(job_id) if self._scheduler else None
        return job.trigger.interval if job else None

    def shutdown(self):
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)

    def _run(self, job_id: str, kind: ProbeKind, target: Target):
        run = run_probe(kind, target, self.cache)
        if not run.result.success:
            self._retry_soon(job_id, kind.retry_for(target))

    def _retry_soon(self, job_id: str, delay: dt.timedelta):
        """Bring the job's next run forward to ``delay`` from now, if it is later than that.

        Safe from the job's own thread: the scheduler sets the next run time of a job it submits
        under the same lock as ``modify_job``, so this change comes after it, never before.
        """
        retry_at = utc_now() + delay
        try:
            job = self._scheduler.get_job(job_id)
            if job is not None and job.next_run_time is not None and job.next_run_time > retry_at:
                self._scheduler.modify_job(job_id, next_run_time=retry_at)
        except JobLookupError:
            pass  # the target left while the probe ran

    def _wanted(self) -> dict[str, tuple[ProbeKind, Target]]:
        return {f"{kind.name}:{target.key}": (kind, target)
                for target in self._targets() for kind in self.kinds if kind.applies_to(target)}

    def _apply(self, wanted: dict[str, tuple[ProbeKind, Target]]):
        for job_id in set(self._jobs) - set(wanted):
            self._scheduler.remove_job(job_id)
            self.cache.forget(self._jobs.pop(job_id))
            log.info("stopped probing %s", job_id)
        for key in set(self._anchors) - set(self._jobs.values()):
            del self._anchors[key]
        now = utc_now()
        for job_id in sorted(set(wanted) - set(self._jobs)):
            kind, target = wanted[job_id]
            interval = kind.interval_for(target)
            anchor = self._anchors.setdefault(target.key, now)
            trigger = GridTrigger(seconds=interval.total_seconds(),
                                  start_date=anchor + phase(target.key, interval) + interval)
            self._scheduler.add_job(self._run, trigger, args=(job_id, kind, target), id=job_id,
                                    name=job_id, next_run_time=now)
            self._jobs[job_id] = target.key
        log.info("probing %d (probe, target) pairs", len(self._jobs))
