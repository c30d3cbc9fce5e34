"""The exporter wired together: targets, scheduler, cache, a fresh registry and the WSGI app."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable, Iterable

from prometheus_client import CollectorRegistry, ProcessCollector, make_wsgi_app
from prometheus_client.registry import Collector

from exporters.collectors.schedule import ScheduleCollector
from exporters.context import ProbeContext
from exporters.kinds import collectors, probe_kinds
from exporters.probe import ProbeKind, ResultCache
from exporters.data_refresh import DataRefresh
from exporters.scheduler import ProbeScheduler
from exporters.sharding import Shard
from exporters.targets import Target, monitored_targets
from owl.clock import utc_now
from owl.inventory import Inventory


def build_registry(cache: ResultCache, context: ProbeContext | None = None,
                   extra: Iterable[Collector] = ()) -> CollectorRegistry:
    """A fresh registry (never the global one): the collectors of :mod:`exporters.kinds`,
    ``extra`` and process metrics."""
    registry = CollectorRegistry()
    for collector in [*collectors(cache, context or ProbeContext()), *extra]:
        registry.register(collector)
    ProcessCollector(registry=registry)
    return registry


def make_app(registry: CollectorRegistry):
    """WSGI app: ``/metrics`` (Prometheus exposition of ``registry``), ``/healthz``, else 404."""
    metrics = make_wsgi_app(registry)

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/metrics":
            return metrics(environ, start_response)
        if path == "/healthz":
            start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])
            return [b"ok\n"]
        start_response("404 Not Found", [("Content-Type", "text/plain; charset=utf-8")])
        return [b"not found: see /metrics and /healthz\n"]

    return app


class Exporter:
    """Probes the monitored targets of ``shard`` and serves what they found.

    ``kinds`` defaults to every kind of :mod:`exporters.kinds`, scheduled as the inventory says.
    ``storage_path``: the folder where probes keep results across restarts (None: memory only).
    Its data files are refreshed from upstream every ``provider.probes.data_refresh``
    (:mod:`exporters.data_refresh`).
    """

    def __init__(self, inventory: Inventory, kinds: Iterable[ProbeKind] | None = None,
                 shard: Shard = Shard(), clock: Callable[[], dt.datetime] = utc_now,
                 storage_path: Path | None = None):
        self.inventory = inventory
        self.shard = shard
        self.clock = clock
        self.context = ProbeContext(inventory.provider.probes, clock, storage_path)
        self.cache = ResultCache()
        kinds = probe_kinds(self.context) if kinds is None else kinds
        refresh = inventory.provider.probes.data_refresh
        self.scheduler = ProbeScheduler(
            kinds, self.cache, self.targets,
            tasks=[("refresh-data-files", DataRefresh(self.context).run, refresh)] if refresh
            else [])
        self.registry = build_registry(self.cache, self.context,
                                       [ScheduleCollector(self.scheduler.targets_per_kind)])
        self.app = make_app(self.registry)

    def targets(self) -> list[Target]:
        """The targets of this shard whose client is monitored today (provider's timezone)."""
        today = self.inventory.today(self.clock())
        return [target for target in monitored_targets(self.inventory, today)
                if self.shard.owns(target.key)]

    def start(self):
        self.scheduler.start()

    def stop(self):
        self.scheduler.shutdown()
