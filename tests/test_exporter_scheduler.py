"""APScheduler jobs: one per (probe kind, target), run at once, kept in line with the targets."""

import datetime as dt
import threading

from exporters.app import Exporter
from exporters.probe import ProbeKind, ProbeResult
from exporters.scheduler import MAX_PROBE_THREADS, jitter_seconds, pool_size
from owl.inventory import parse_inventory
from tests.fixtures.sites.support import client, inventory_text
from tests.support.processes import wait_until


class Clock:
    def __init__(self, now: dt.datetime):
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now


def counting_kind(name: str, target_kind: str, runs: list) -> ProbeKind:
    lock = threading.Lock()

    def run(target):
        with lock:
            runs.append((name, target.key))
        return ProbeResult.ok()

    return ProbeKind(name, run, dt.timedelta(hours=1), timeout=5, target_kind=target_kind)


def test_each_probe_runs_at_once_on_the_targets_it_applies_to_and_stops_when_they_leave():
    inventory = parse_inventory(inventory_text(
        client("acme", {"www": "http://127.0.0.1:9/"}, ("web1",)),
        client("trial", {"www": "http://127.0.0.1:9/"}, tier=0, start=dt.date(2025, 6, 1))))
    clock = Clock(dt.datetime(2025, 6, 30, 12, tzinfo=dt.timezone.utc))
    runs = []
    exporter = Exporter(inventory, (counting_kind("sitewise", "site", runs),
                                    counting_kind("serverwise", "server", runs)), clock=clock)
    exporter.start()
    try:
        assert exporter.scheduler.job_ids() == ["serverwise:acme/web1", "sitewise:acme/www",
                                                "sitewise:trial/www"]
        wait_until(lambda: len(exporter.cache.runs()) == 3, timeout=5, interval=0.05,
                   message="first runs")
        assert sorted(runs) == [("serverwise", "acme/web1"), ("sitewise", "acme/www"),
                                ("sitewise", "trial/www")]

        clock.now += dt.timedelta(days=1)  # the trial is over
        exporter.scheduler.refresh()
        assert exporter.scheduler.job_ids() == ["serverwise:acme/web1", "sitewise:acme/www"]
        assert [run.target.key for run in exporter.cache.runs("sitewise")] == ["acme/www"]
    finally:
        exporter.stop()
    assert len(runs) == 3, "the hourly jobs ran once each, at start"


def test_pool_and_jitter_sizes():
    assert pool_size(0) == 2 and pool_size(7) == 7 and pool_size(10_000) == MAX_PROBE_THREADS
    assert jitter_seconds(dt.timedelta(seconds=30)) == 3
    assert jitter_seconds(dt.timedelta(hours=1)) == 60
