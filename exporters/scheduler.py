"""Running every (probe kind, target) pair on its own APScheduler 3 job.

Each job runs first as soon as it is added, then every ``kind.interval`` plus a random delay of up
to a tenth of the interval (at most a minute), so that targets added together drift apart. A job
never overlaps itself (``max_instances=1``); runs missed while the pool was busy collapse into one
(``coalesce``) and still run however late (``misfire_grace_time=None``). The probes, which wait on
the network, share a thread pool of one thread per job up to :data:`MAX_PROBE_THREADS`.

The set of targets is recomputed every ``refresh`` (a trial ends, a termination date passes): jobs
of targets that left are removed with their cached results, new targets get jobs.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Callable, Iterable

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from exporters.probe import ProbeKind, ResultCache, run_probe
from exporters.targets import Target

log = logging.getLogger(__name__)

MAX_PROBE_THREADS = 16
REFRESH_JOB = "refresh-targets"


def pool_size(job_count: int) -> int:
    """Threads for the probes: one per job, at least 2, at most :data:`MAX_PROBE_THREADS`."""
    return max(2, min(MAX_PROBE_THREADS, job_count))


def jitter_seconds(interval: dt.timedelta) -> float:
    return min(interval.total_seconds() / 10, 60.0)


class ProbeScheduler:
    """Keeps one job per applicable (probe kind, target) pair of ``targets()``."""

    def __init__(self, kinds: Iterable[ProbeKind], cache: ResultCache,
                 targets: Callable[[], list[Target]],
                 refresh: dt.timedelta = dt.timedelta(minutes=10)):
        self.kinds = tuple(kinds)
        self.cache = cache
        self._targets = targets
        self._refresh = refresh
        self._scheduler: BackgroundScheduler | None = None
        self._jobs: dict[str, str] = {}  # job id -> target key

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

    def refresh(self):
        """Bring the jobs in line with the current targets."""
        self._apply(self._wanted())

    def job_ids(self) -> list[str]:
        return sorted(self._jobs)

    def shutdown(self):
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)

    def _wanted(self) -> dict[str, tuple[ProbeKind, Target]]:
        return {f"{kind.name}:{target.key}": (kind, target)
                for target in self._targets() for kind in self.kinds if kind.applies_to(target)}

    def _apply(self, wanted: dict[str, tuple[ProbeKind, Target]]):
        for job_id in set(self._jobs) - set(wanted):
            self._scheduler.remove_job(job_id)
            self.cache.forget(self._jobs.pop(job_id))
            log.info("stopped probing %s", job_id)
        for job_id in sorted(set(wanted) - set(self._jobs)):
            kind, target = wanted[job_id]
            self._scheduler.add_job(
                run_probe, "interval", args=(kind, target, self.cache), id=job_id, name=job_id,
                seconds=kind.interval.total_seconds(), jitter=jitter_seconds(kind.interval),
                next_run_time=dt.datetime.now(dt.timezone.utc))
            self._jobs[job_id] = target.key
        log.info("probing %d (probe, target) pairs", len(self._jobs))
