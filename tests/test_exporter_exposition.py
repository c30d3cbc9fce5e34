"""What the exporter's collectors expose, byte for byte, and the names they declare.

A fixed set of probe results (every kind, sites and servers, successes, failures, a run past its
timeout, the data files) is put in a cache; its exposition, in the text format and in OpenMetrics
(which Prometheus asks for first), is compared with ``tests/golden/exporter/``. Regenerate with
``OWL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_exporter_exposition.py`` and review the diff.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.registry import DuplicateTimeseries
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics

from exporters.catalogue.model import CoreStatus
from exporters.context import ProbeContext
from exporters.kinds import COLLECTORS, collectors
from exporters.probe import ProbeKind, ProbeResult, ProbeRun, ResultCache
from exporters.probes.backup import BackupReport
from exporters.probes.backup_repository import Outcome
from exporters.probes.cms import CmsReport
from exporters.probes.detection import CmsDetection, Component
from exporters.probes.domain import DomainReport
from exporters.probes.shop import ShopReport, StepResult
from exporters.probes.vulnerabilities import VulnerabilityReport
from exporters.targets import Target
from exporters.vulndb.match import Match
from exporters.vulndb.model import Vulnerability
from owl.inventory import DEFAULT_PROBE_INTERVALS, BackupPolicy, Probes, parse_inventory
from tests.fixtures.sites.support import client, inventory_text

GOLDEN = Path(__file__).resolve().parent / "golden" / "exporter"
NOW = dt.datetime(2025, 11, 20, 12, 0, tzinfo=dt.timezone.utc)
STARTED = 1_763_640_000.0
MONOTONIC = 5_000.0
FORMATS = {"metrics.txt": generate_latest, "metrics.openmetrics.txt": generate_openmetrics}

WOOCOMMERCE = Component("plugin", "woocommerce", "9.8.1", "wordpress-plugin")
ASTRA = Component("theme", "astra", "unknown", "wordpress-theme")
ADVISORY = Vulnerability.model_validate({
    "id": "CVE-2025-0001", "severity": "high", "known_exploited": True,
    "affected": [{"ecosystem": "wordpress-plugin", "package": "woocommerce",
                  "ranges": [{"events": [{"introduced": "0"}, {"fixed": "9.9.0"}]}]}]})


def targets() -> dict[str, Target]:
    """acme (tier 4): site www and server db; beta (tier 1): sites shop and blog."""
    inventory = parse_inventory(inventory_text(
        client("acme", {"www": "https://acme.example/"}, servers=("db",), tier=4),
        client("beta", {"shop": "https://beta.example/", "blog": "https://blog.beta.example/"})))
    acme, beta = inventory.clients
    return {"acme/www": Target(acme, site=acme.sites[0]),
            "acme/db": Target(acme, server=acme.servers[0]),
            "beta/shop": Target(beta, site=beta.sites[0]),
            "beta/blog": Target(beta, site=beta.sites[1])}


def cms_results() -> dict[str, ProbeResult]:
    found = CmsDetection("wordpress", "6.8.1", "meta_generator", "high", (WOOCOMMERCE, ASTRA))
    return {"acme/www": ProbeResult.ok(CmsReport(found, CoreStatus(True, True),
                                                 ((WOOCOMMERCE, True),))),
            "beta/shop": ProbeResult.ok(CmsReport(
                CmsDetection("drupal", "10", "meta_generator", "medium"), CoreStatus(None, True))),
            "beta/blog": ProbeResult.ok(CmsReport(None))}


def vulnerability_results() -> dict[str, ProbeResult]:
    exposed = {"/.env": False, "/.git/config": True}
    headers = {"strict-transport-security": True, "x-content-type-options": False}
    return {"acme/www": ProbeResult.ok(VulnerabilityReport(
                None, (Match("woocommerce", ADVISORY),), exposed, headers)),
            "beta/shop": ProbeResult.ok(VulnerabilityReport(None, None, exposed, {})),
            "beta/blog": ProbeResult.failed("GET https://blog.beta.example/: HTTP 503")}


def backup_results() -> dict[str, ProbeResult]:
    policy = BackupPolicy(retention=14)
    return {"acme/db": ProbeResult.ok((
        BackupReport("files", "restic", policy, snapshots=12, last_snapshot=STARTED - 3600,
                     check=Outcome(STARTED - 86_400, True),
                     restore_test=Outcome(STARTED - 7 * 86_400, False, "hash mismatch")),
        BackupReport("dumps", "borg", BackupPolicy(), snapshots=0),
        BackupReport("nightly", "status_file", policy, error="cannot read the status file")))}


def shop_results() -> dict[str, ProbeResult]:
    woocommerce = ShopReport(
        "woocommerce", ("cart_create", "add_item", "payment_methods"),
        (StepResult("cart_create", True, 0.25), StepResult("add_item", True, 0.5),
         StepResult("payment_methods", True, 0.125)),
        {"stripe": True, "paypal": False}, payment_provider_up=True)
    prestashop = ShopReport("prestashop", ("cart_create", "add_item"),
                            (StepResult("cart_create", False, 1.5, "HTTP 500"),),
                            cart_left_nonempty=True)
    return {"acme/www": ProbeResult.ok(woocommerce), "beta/shop": ProbeResult.ok(prestashop),
            "beta/blog": ProbeResult.failed("past its timeout")}


def domain_results() -> dict[str, ProbeResult]:
    return {"acme/www": ProbeResult.ok(DomainReport("acme.example", 1_790_000_000.0)),
            "beta/shop": ProbeResult.ok(DomainReport("beta.example", None))}


def fixed_cache() -> ResultCache:
    """The runs above, each started at STARTED and lasting 0.5 s, and a domain run on beta/blog
    still going 7 s after its start (past its 5 s timeout)."""
    cache = ResultCache(monotonic=lambda: MONOTONIC)
    by_target = targets()
    for probe, results in (("cms", cms_results()), ("vulnerabilities", vulnerability_results()),
                           ("backup", backup_results()), ("shop", shop_results()),
                           ("domain", domain_results())):
        for key, result in results.items():
            cache.finish(ProbeRun(probe, by_target[key], result, STARTED, 0.5,
                                  DEFAULT_PROBE_INTERVALS[probe].total_seconds()))
    hanging = ProbeKind("domain", lambda target: ProbeResult.ok(), dt.timedelta(hours=1), 5.0)
    cache.begin(hanging, by_target["beta/blog"], STARTED, MONOTONIC - 7)
    return cache


def fixed_context(folder: Path) -> ProbeContext:
    catalogue = {"format": 1, "date": "2025-11-01", "cores": {}}
    database = {"format": "owl-vulndb/1", "updated": "2025-11-19T06:00:00+00:00"}
    (folder / "catalogue.json").write_text(json.dumps(catalogue), encoding="utf-8")
    (folder / "vulndb.json").write_text(json.dumps(database), encoding="utf-8")
    probes = Probes(cms_catalogue=str(folder / "catalogue.json"),
                    vulnerability_db=str(folder / "vulndb.json"))
    return ProbeContext(probes, clock=lambda: NOW)


def registry_of(cache: ResultCache, context: ProbeContext) -> CollectorRegistry:
    """A fresh registry with every collector of :mod:`exporters.kinds` (no process metrics)."""
    registry = CollectorRegistry()
    for collector in collectors(cache, context):
        registry.register(collector)
    return registry


@pytest.mark.parametrize("golden", FORMATS)
def test_the_exposition_of_a_fixed_set_of_probe_results_is_the_golden_file(tmp_path, golden):
    exposition = FORMATS[golden](registry_of(fixed_cache(), fixed_context(tmp_path)))
    if os.environ.get("OWL_UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(parents=True, exist_ok=True)
        (GOLDEN / golden).write_bytes(exposition)
    assert exposition.decode() == (GOLDEN / golden).read_text(encoding="utf-8"), \
        f"{golden} differs (OWL_UPDATE_GOLDEN=1 if meant)"


def names(families) -> list[str]:
    return [family.name for family in families]


def test_every_collector_describes_without_samples_the_families_it_collects(tmp_path):
    registry = CollectorRegistry()
    for collector in collectors(fixed_cache(), fixed_context(tmp_path)):
        registry.register(collector)
        assert names(collector.describe()) == names(collector.collect())
        assert not any(family.samples for family in collector.describe())


def test_the_described_names_are_the_families_of_the_golden_file(tmp_path):
    described = [name for collector in collectors(fixed_cache(), fixed_context(tmp_path))
                 for name in names(collector.describe())]
    golden = (GOLDEN / "metrics.txt").read_text(encoding="utf-8")
    assert described == [line.split()[2] for line in golden.splitlines()
                         if line.startswith("# TYPE ")]


@pytest.mark.parametrize("make", COLLECTORS, ids=lambda make: make.__name__)
def test_a_registry_refuses_a_second_collector_of_the_same_names(tmp_path, make):
    registry = registry_of(fixed_cache(), fixed_context(tmp_path))
    with pytest.raises(DuplicateTimeseries):
        registry.register(make(ResultCache(), fixed_context(tmp_path)))
