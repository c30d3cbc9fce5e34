"""Probe runs, the result cache and the collectors, read back from a fresh registry."""

import datetime as dt
import subprocess

import pytest

from exporters.app import build_registry
from exporters.probe import ProbeError, ProbeKind, ProbeResult, ResultCache, run_probe
from exporters.probes.cms import cms_probe
from exporters.targets import Target
from owl.inventory import parse_inventory
from prometheus_client import generate_latest
from tests.fixtures.sites.support import client, inventory_text, serving
from tests.support.binaries import require_binary

CMS_INFO = {"client": "acme", "site": "www", "cms": "wordpress", "version": "6.8.1",
            "method": "meta_generator", "confidence": "high"}
SITE = {"client": "acme", "site": "www"}
PROBE = {"probe": "cms", **SITE}


def site_target(url: str = "http://127.0.0.1:9/") -> Target:
    inventory = parse_inventory(inventory_text(client("acme", {"www": url})))
    return Target(inventory.clients[0], site=inventory.clients[0].sites[0])


class FakeClock:
    """Wall and monotonic time that only move when told to."""

    def __init__(self):
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def kind_running(run, timeout=5.0) -> ProbeKind:
    return ProbeKind("fake", run, dt.timedelta(minutes=1), timeout)


def test_a_successful_cms_run_is_exported_with_its_client_and_site():
    cache = ResultCache()
    registry = build_registry(cache)
    with serving("wordpress-6.8.1") as site:
        run_probe(cms_probe(timeout=5), site_target(site.url), cache)
    assert registry.get_sample_value("owl_probe_success", PROBE) == 1
    assert registry.get_sample_value("owl_cms_detected", SITE) == 1
    assert registry.get_sample_value("owl_cms_info", CMS_INFO) == 1
    assert 0 < registry.get_sample_value("owl_probe_duration_seconds", PROBE) < 5
    assert registry.get_sample_value("owl_probe_last_run_timestamp_seconds", PROBE) > 1.7e9


def test_a_site_answering_without_a_known_cms_is_success_with_detected_0():
    cache = ResultCache()
    registry = build_registry(cache)
    with serving("not-wordpress") as site:
        run_probe(cms_probe(timeout=5), site_target(site.url), cache)
    assert registry.get_sample_value("owl_probe_success", PROBE) == 1
    assert registry.get_sample_value("owl_cms_detected", SITE) == 0


def declared_target(url: str, cms: str) -> Target:
    entry = client("acme", {"www": url})
    entry["sites"][0]["cms"] = cms
    inventory = parse_inventory(inventory_text(entry))
    return Target(inventory.clients[0], site=inventory.clients[0].sites[0])


@pytest.mark.parametrize("site_name, declared, matches", [
    ("wordpress-6.8.1", "wordpress", 1),
    ("drupal-7.57", "wordpress", 0),  # a migration nobody told us about, or a wrong inventory
    ("not-wordpress", "wordpress", 0),  # nothing recognised
    ("wordpress-6.8.1", "other", None),  # the inventory names no CMS to compare with
])
def test_the_cms_found_is_compared_with_the_one_the_inventory_declares(site_name, declared,
                                                                        matches):
    cache = ResultCache()
    registry = build_registry(cache)
    with serving(site_name) as site:
        run_probe(cms_probe(timeout=5), declared_target(site.url, declared), cache)
    assert registry.get_sample_value("owl_cms_matches_inventory",
                                     {**SITE, "declared": declared}) == matches


@pytest.mark.parametrize("breakage", [{"status": 500}, {"delay": 1.0}])
def test_after_a_failed_run_no_stale_success_and_no_stale_version(breakage):
    cache = ResultCache()
    registry = build_registry(cache)
    probe = cms_probe(timeout=0.5)
    with serving("wordpress-6.8.1") as site:
        run_probe(probe, site_target(site.url), cache)
        assert registry.get_sample_value("owl_cms_info", CMS_INFO) == 1
        for attribute, value in breakage.items():
            setattr(site, attribute, value)
        run = run_probe(probe, site_target(site.url), cache)
    assert not run.result.success
    assert registry.get_sample_value("owl_probe_success", PROBE) == 0
    assert registry.get_sample_value("owl_cms_info", CMS_INFO) is None
    assert registry.get_sample_value("owl_cms_detected", SITE) is None


def test_a_probe_that_raises_is_a_failure():
    def broken(target):
        raise RuntimeError("bug in the probe")

    run = run_probe(kind_running(broken), site_target(), ResultCache())
    assert not run.result.success
    assert run.result.error == "RuntimeError: bug in the probe"


def test_an_expected_probe_error_is_a_failure_with_its_message():
    def site_down(target):
        raise ProbeError("GET http://x/: HTTP 503")

    run = run_probe(kind_running(site_down), site_target(), ResultCache())
    assert run.result == ProbeResult.failed("GET http://x/: HTTP 503")


def test_a_success_that_came_after_the_timeout_is_a_failure():
    clock = FakeClock()

    def slow(target):
        clock.now += 7
        return ProbeResult.ok()

    run = run_probe(kind_running(slow, timeout=5), site_target(), ResultCache(clock),
                    wall=clock, monotonic=clock)
    assert not run.result.success and "timeout" in run.result.error
    assert run.duration == 7


def test_a_run_still_going_past_its_timeout_replaces_the_previous_success():
    clock = FakeClock()
    cache = ResultCache(monotonic=clock)
    registry = build_registry(cache)
    target, kind = site_target(), kind_running(lambda target: ProbeResult.ok(), timeout=5)
    run_probe(kind, target, cache, wall=clock, monotonic=clock)
    clock.now += 60
    cache.begin(kind, target, started_at=clock.now, started_monotonic=clock.now)  # hangs
    labels = {"probe": "fake", **SITE}
    clock.now += 4
    assert registry.get_sample_value("owl_probe_success", labels) == 1
    clock.now += 2
    assert registry.get_sample_value("owl_probe_success", labels) == 0
    assert registry.get_sample_value("owl_probe_duration_seconds", labels) == 6
    assert registry.get_sample_value("owl_probe_last_run_timestamp_seconds", labels) == \
        1_800_000_060.0


def test_a_forgotten_target_has_no_series():
    cache = ResultCache()
    registry = build_registry(cache)
    run_probe(kind_running(lambda target: ProbeResult.ok()), site_target(), cache)
    cache.forget("acme/www")
    assert registry.get_sample_value("owl_probe_success", {"probe": "fake", **SITE}) is None


def test_exposition_passes_promtool(tmp_path):
    promtool = require_binary("promtool")
    cache = ResultCache()
    registry = build_registry(cache)
    with serving("wordpress-6.8.1") as site:
        run_probe(cms_probe(timeout=5), site_target(site.url), cache)
    with serving("not-wordpress") as site:
        other = Target(site_target().client, site=site_target(site.url).site.model_copy(
            update={"id": "blog"}))
        run_probe(cms_probe(timeout=5), other, cache)
    exposition = generate_latest(registry)
    assert b'owl_cms_info{' in exposition
    check = subprocess.run([promtool, "check", "metrics"], input=exposition,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
