"""One fetch per page per cycle: the probes of a site share their answers, and their schedules
keep the kinds of a site in step so that they can."""

import datetime as dt
import threading
from collections import Counter

import pytest

from exporters.probe import ProbeError, ResultCache, run_probe
from exporters.probes.cms import cms_probe
from exporters.probes.fetcher import FetchCache, Fetcher
from exporters.probes.http import Deadline, Fetched
from exporters.probes.vulnerabilities import vulnerability_probe
from exporters.scheduler import GridTrigger, phase
from tests.fixtures.sites.support import serving
from tests.test_exporter_vulnerabilities import context_for, target, vulndb_path  # noqa: F401

UTC = dt.timezone.utc


def requests_per_path(site) -> Counter:
    return Counter(path.split("?", 1)[0] for path, _ in site.requests)


def probe_cycle(site, contexts, together: bool = False):
    """One ``cms`` and one ``vulnerabilities`` run on ``site``, each from its context, one after
    the other or at the same time."""
    cache = ResultCache()
    kinds = (cms_probe(timeout=5, context=contexts[0]),
             vulnerability_probe(timeout=5, context=contexts[1]))
    runs = []
    if together:
        threads = [threading.Thread(target=lambda kind=kind: runs.append(
            run_probe(kind, target(site.url), cache))) for kind in kinds]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        runs = [run_probe(kind, target(site.url), cache) for kind in kinds]
    assert all(run.result.success for run in runs), [run.result.error for run in runs]


@pytest.mark.parametrize("site_name", ["drupal-7.57", "wordpress-6.8.1", "wordpress-4.9-readme",
                                       "wordpress-5.8.1", "joomla-4.2.7", "wordpress-hardened"])
@pytest.mark.parametrize("together", [False, True], ids=["in-turn", "at-once"])
def test_the_probes_of_a_site_fetch_each_page_once_a_cycle(vulndb_path, site_name, together):
    context = context_for(vulndb_path)
    with serving(site_name) as site:
        probe_cycle(site, (context, context), together)
        fetched = requests_per_path(site)
    assert fetched["/"] == 1
    assert [path for path, count in fetched.items() if count > 1] == []


def test_without_the_shared_answers_drupal_7s_changelog_was_fetched_twice_a_cycle(vulndb_path):
    with serving("drupal-7.57") as site:
        probe_cycle(site, (context_for(vulndb_path), context_for(vulndb_path)))
        fetched = requests_per_path(site)
    assert fetched["/"] == 2 and fetched["/CHANGELOG.txt"] == 2, fetched


def test_an_answer_is_fetched_again_once_its_cycle_is_over():
    now = [0.0]
    cache = FetchCache(ttl=600, monotonic=lambda: now[0])
    with serving("drupal-7.57") as site:
        with Fetcher(5, cache=cache) as fetcher:
            fetcher.get(site.url)
            now[0] = 599
            fetcher.get(site.url)
            now[0] = 601
            fetcher.get(site.url)
        assert requests_per_path(site)["/"] == 2


def test_the_next_run_of_a_kind_fetches_anew_and_sees_a_site_that_broke_since():
    cache = FetchCache()
    with serving("drupal-7.57") as site:
        with Fetcher(5, cache=cache, kind="cms") as fetcher:
            assert fetcher.get(site.url).status == 200
        site.status = 503
        with Fetcher(5, cache=cache, kind="vulnerabilities") as fetcher:
            assert fetcher.get(site.url).status == 200, "same cycle: the cms run's answer"
        with Fetcher(5, cache=cache, kind="cms") as fetcher:
            assert fetcher.get(site.url).status == 503
        assert requests_per_path(site)["/"] == 2


def test_a_shorter_answer_serves_a_smaller_read_and_a_larger_read_fetches_again():
    with serving("drupal-7.57") as site, Fetcher(5) as fetcher:
        whole = fetcher.get(site.url + "CHANGELOG.txt", max_bytes=64 * 1024)
        small = fetcher.get(site.url + "CHANGELOG.txt", max_bytes=100)
        assert small.truncated and small.body == whole.body[:100]
        fetcher.get(site.url + "index.html", max_bytes=100)
        larger = fetcher.get(site.url + "index.html", max_bytes=64 * 1024)
        assert not larger.truncated
        assert requests_per_path(site) == Counter({"/CHANGELOG.txt": 1, "/index.html": 2})


def answer(url: str) -> Fetched:
    return Fetched(url, 200, {}, b"ok")


def test_a_failed_fetch_is_not_kept_and_a_waiting_probe_fetches_for_itself():
    cache = FetchCache()
    started, release = threading.Event(), threading.Event()
    calls = []

    def failing():
        calls.append("first")
        started.set()
        release.wait(5)
        raise ProbeError("GET http://x/: connection refused")

    def first():
        with pytest.raises(ProbeError):
            cache.get("http://x/", 100, failing, Deadline(5))

    thread = threading.Thread(target=first)
    thread.start()
    started.wait(5)
    waiting = []
    second = threading.Thread(target=lambda: waiting.append(cache.get(
        "http://x/", 100, lambda: calls.append("second") or answer("http://x/"), Deadline(5))))
    second.start()
    release.set()
    thread.join()
    second.join()
    assert calls == ["first", "second"] and waiting[0].body == b"ok"
    assert cache.get("http://x/", 100, lambda: pytest.fail("kept"), Deadline(5)).body == b"ok"


def test_waiting_for_another_probes_fetch_ends_at_the_waiters_deadline():
    cache = FetchCache()
    started, release = threading.Event(), threading.Event()

    def slow():
        started.set()
        release.wait(5)
        return answer("http://x/")

    thread = threading.Thread(target=lambda: cache.get("http://x/", 100, slow, Deadline(5)))
    thread.start()
    started.wait(5)
    try:
        with pytest.raises(ProbeError, match="GET http://x/: no complete answer within the 0.2s"):
            cache.get("http://x/", 100, lambda: pytest.fail("fetched twice"), Deadline(0.2))
    finally:
        release.set()
        thread.join()


def grid_times(trigger: GridTrigger, first: dt.datetime, count: int) -> list[dt.datetime]:
    times, previous = [], first
    for _ in range(count):
        previous = trigger.get_next_fire_time(previous, previous)
        times.append(previous)
    return times


def test_the_kinds_of_a_site_run_together_at_the_points_their_intervals_share():
    added = dt.datetime(2026, 1, 1, tzinfo=UTC)
    offset = phase("acme/www", dt.timedelta(hours=6))
    assert offset == phase("acme/www", dt.timedelta(hours=12)) == phase("acme/www",
                                                                          dt.timedelta(minutes=15))
    cms = GridTrigger(hours=6, start_date=added + offset + dt.timedelta(hours=6))
    scan = GridTrigger(hours=12, start_date=added + offset + dt.timedelta(hours=12))
    cms_runs = grid_times(cms, added, 28)  # a week
    scan_runs = grid_times(scan, added, 14)
    assert set(scan_runs) <= set(cms_runs)
    assert scan_runs[-1] == added + offset + dt.timedelta(days=7)


def test_after_a_retry_the_next_run_is_back_on_the_grid():
    added = dt.datetime(2026, 1, 1, tzinfo=UTC)
    trigger = GridTrigger(hours=6, start_date=added + dt.timedelta(hours=6))
    retried = added + dt.timedelta(hours=7, minutes=5)
    assert trigger.get_next_fire_time(retried, retried) == added + dt.timedelta(hours=12)
    assert trigger.get_next_fire_time(added + dt.timedelta(minutes=5), added) == \
        added + dt.timedelta(hours=6)


def test_targets_added_together_are_spread_within_a_minute():
    offsets = {phase(f"client{n}/www", dt.timedelta(hours=6)) for n in range(200)}
    assert len(offsets) > 150
    assert all(dt.timedelta(0) <= offset < dt.timedelta(minutes=1) for offset in offsets)
    assert phase("acme/www", dt.timedelta(seconds=30)) <= dt.timedelta(seconds=3)
