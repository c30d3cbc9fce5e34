"""APScheduler jobs: one per (probe kind, target), run at once, kept in line with the targets."""

import datetime as dt
import threading

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from exporters.app import Exporter
from exporters.probe import ProbeKind, ProbeResult
from exporters.scheduler import MAX_PROBE_THREADS, jitter_seconds, pool_size
from owl.inventory import ProbeSchedule, parse_inventory
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


def flaky_kind(failures: int, runs: list, **schedule) -> ProbeKind:
    """Fails its first ``failures`` runs, then succeeds."""
    def run(target):
        runs.append(target.key)
        if len(runs) <= failures:
            return ProbeResult.failed("site not up yet")
        return ProbeResult.ok()

    return ProbeKind("flaky", run, timeout=5, **schedule)


def test_a_failed_run_is_retried_after_the_retry_delay_then_the_interval_resumes():
    inventory = parse_inventory(inventory_text(client("acme", {"www": "http://127.0.0.1:9/"})))
    runs = []
    exporter = Exporter(inventory, (flaky_kind(2, runs, interval=dt.timedelta(hours=6),
                                               retry=dt.timedelta(seconds=0.3)),))
    exporter.start()
    try:
        wait_until(lambda: len(runs) == 3, timeout=5, interval=0.05, message="two retries")
        wait_until(lambda: exporter.cache.runs()[0].result.success, timeout=5, interval=0.05,
                   message="the third run recorded")
        next_run = exporter.scheduler.next_run("flaky:acme/www")
        assert next_run - dt.datetime.now(dt.timezone.utc) > dt.timedelta(hours=5), \
            "after a success the six-hour interval applies again"
    finally:
        exporter.stop()
    assert len(runs) == 3


def test_the_retry_delay_is_never_longer_than_the_interval():
    kind = ProbeKind("k", lambda target: ProbeResult.ok(), dt.timedelta(minutes=2), timeout=5)
    target = Exporter(parse_inventory(inventory_text(client("acme", {"www": "http://x/"}))),
                      kinds=()).targets()[0]
    assert kind.retry_for(target) == dt.timedelta(minutes=2)
    assert kind.scheduled(ProbeSchedule(interval=dt.timedelta(hours=6))).retry_for(target) == \
        dt.timedelta(minutes=5)


def tiered_exporter(*more: ProbeKind) -> Exporter:
    """Clients of tier 1 and 4, a kind every 6 hours (1 at tier 4) and a daily kind from tier 2."""
    inventory = parse_inventory(inventory_text(
        client("small", {"www": "http://127.0.0.1:9/"}, tier=1),
        client("big", {"www": "http://127.0.0.1:9/"}, tier=4)))
    schedule = ProbeSchedule(interval=dt.timedelta(hours=6), by_tier={4: dt.timedelta(hours=1)})
    everywhere = ProbeKind("everywhere", lambda target: ProbeResult.ok(), dt.timedelta(days=1),
                           timeout=5).scheduled(schedule)
    tier2 = ProbeKind("tier2", lambda target: ProbeResult.ok(), dt.timedelta(days=1), timeout=5,
                      min_tier=2)
    return Exporter(inventory, (everywhere, tier2, *more))


def test_intervals_follow_the_tier_of_the_client_and_kinds_skip_lower_tiers():
    exporter = tiered_exporter()
    exporter.start()
    try:
        assert exporter.scheduler.job_ids() == ["everywhere:big/www", "everywhere:small/www",
                                                "tier2:big/www"]
        assert exporter.scheduler.interval("everywhere:small/www") == dt.timedelta(hours=6)
        assert exporter.scheduler.interval("everywhere:big/www") == dt.timedelta(hours=1)
        assert exporter.scheduler.interval("tier2:big/www") == dt.timedelta(days=1)
    finally:
        exporter.stop()


def test_a_kind_can_ask_for_only_some_targets():
    inventory = parse_inventory(inventory_text(
        client("acme", {"www": "http://127.0.0.1:9/", "blog": "http://127.0.0.1:9/blog"})))
    only_www = ProbeKind("picky", lambda target: ProbeResult.ok(), dt.timedelta(hours=1),
                         timeout=5, wants=lambda target: target.id == "www")
    assert [target.key for target in Exporter(inventory, (only_www,)).targets()
            if only_www.applies_to(target)] == ["acme/www"]


def test_the_default_kinds_are_scheduled_from_the_inventory():
    text = inventory_text(client("acme", {"www": "http://127.0.0.1:9/"}, tier=4))
    text = text.replace("provider:\n  name: OWL TEST\n",
                        "provider:\n  name: OWL TEST\n  probes:\n"
                        "    cms: {interval: 2h, by_tier: {4: 30m}}\n")
    exporter = Exporter(parse_inventory(text))
    cms = next(kind for kind in exporter.scheduler.kinds if kind.name == "cms")
    assert cms.interval_for(exporter.targets()[0]) == dt.timedelta(minutes=30)
    assert cms.interval == dt.timedelta(hours=2)


def test_each_run_exports_its_tier_s_interval_and_each_kind_its_target_count():
    nowhere = ProbeKind("nowhere", lambda target: ProbeResult.ok(), dt.timedelta(days=1),
                        timeout=5, target_kind="server")
    exporter = tiered_exporter(nowhere)
    exporter.start()
    try:
        wait_until(lambda: len(exporter.cache.runs()) == 3, timeout=5, interval=0.05,
                   message="first runs")
        text = generate_latest(exporter.registry).decode()
    finally:
        exporter.stop()
    samples = {(family.name, tuple(sorted(sample.labels.items()))): sample.value
               for family in text_string_to_metric_families(text) for sample in family.samples}
    assert samples[("owl_probe_interval_seconds", (("client", "small"), ("probe", "everywhere"),
                                                   ("site", "www")))] == 6 * 3600
    assert samples[("owl_probe_interval_seconds", (("client", "big"), ("probe", "everywhere"),
                                                   ("site", "www")))] == 3600
    assert samples[("owl_probe_interval_seconds", (("client", "big"), ("probe", "tier2"),
                                                   ("site", "www")))] == 86400
    assert {labels[0][1]: value for (name, labels), value in samples.items()
            if name == "owl_probe_targets"} == {"everywhere": 2, "tier2": 1, "nowhere": 0}
