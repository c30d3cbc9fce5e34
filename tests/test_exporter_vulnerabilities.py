"""The cms and vulnerabilities probes end to end on fixture sites, read back from a fresh
registry: core update and support status, components, advisories, exposed files, headers."""

import datetime as dt
import subprocess

import pytest
from prometheus_client import generate_latest

from exporters.app import build_registry
from exporters.catalogue.model import load_catalogue, shipped_catalogue_path
from exporters.context import ProbeContext
from exporters.probe import ResultCache, run_probe
from exporters.probes.cms import cms_probe
from exporters.probes.exposure import PATHS
from exporters.probes.headers import HEADERS
from exporters.probes.vulnerabilities import vulnerability_probe
from exporters.targets import Target
from exporters.vulndb.friendsofphp import read_friendsofphp
from exporters.vulndb.kev import mark_exploited, read_kev
from exporters.vulndb.model import Database, dump_database, merged
from exporters.vulndb.wordfence import read_wordfence
from owl.inventory import Probes, parse_inventory
from tests.fixtures.sites.support import client, inventory_text, serving
from tests.support.binaries import require_binary
from tests.test_vulndb import FIXTURES

NOW = dt.datetime(2025, 11, 1, 12, tzinfo=dt.timezone.utc)
SITE = {"client": "acme", "site": "www"}


@pytest.fixture(scope="module")
def vulndb_path(tmp_path_factory):
    database = Database(updated=dt.datetime(2025, 10, 30, tzinfo=dt.timezone.utc))
    for records, _ in (read_wordfence(FIXTURES / "wordfence.json"),
                       read_friendsofphp(FIXTURES / "friendsofphp")):
        database = merged(database, records, database.updated)
    database, _ = mark_exploited(database, read_kev(FIXTURES / "kev.json"))
    path = tmp_path_factory.mktemp("vulndb") / "vulndb.json"
    path.write_text(dump_database(database))
    return path


def context_for(vulndb_path=None) -> ProbeContext:
    probes = Probes(vulnerability_db=str(vulndb_path) if vulndb_path else None)
    return ProbeContext(probes, clock=lambda: NOW)


def target(url: str, tier: int = 2) -> Target:
    inventory = parse_inventory(inventory_text(client("acme", {"www": url}, tier=tier)))
    return Target(inventory.clients[0], site=inventory.clients[0].sites[0])


def probed(site_name: str, vulndb_path=None):
    """A fresh registry after one cms and one vulnerabilities run on ``site_name``."""
    context = context_for(vulndb_path)
    cache = ResultCache()
    registry = build_registry(cache, context)
    with serving(site_name) as site:
        for kind in (cms_probe(timeout=5, context=context),
                     vulnerability_probe(timeout=5, context=context)):
            run = run_probe(kind, target(site.url), cache)
            assert run.result.success, run.result.error
    return registry


def value(registry, metric, **labels):
    return registry.get_sample_value(metric, {**SITE, **labels})


@pytest.mark.parametrize("site_name, cms, update, supported", [
    ("wordpress-6.8.1", "wordpress", 1, 1),
    ("wordpress-5.8.1", "wordpress", 1, 1),
    ("drupal-10.4.2", "drupal", 1, 1),
    ("drupal-7.57", "drupal", 1, 0),
    ("drupal-10", "drupal", None, 1),  # major alone: supported, update unknown
    ("joomla-5.3.4", "joomla", 0, 1),
    ("joomla-4.2.7", "joomla", 1, 0),
    ("prestashop-8.2.3", "prestashop", 0, 1),
    ("prestashop-1.6", "prestashop", None, None),  # version hidden
    ("magento-2.4", "magento", None, 1),
    ("magento-1.9", "magento", 0, 0),  # end of life, and no newer 1.x
])
def test_core_update_and_support_status_from_the_catalogue(site_name, cms, update, supported):
    registry = probed(site_name)
    assert value(registry, "owl_cms_detected") == 1
    assert value(registry, "owl_cms_core_update_available", cms=cms) == update
    assert value(registry, "owl_cms_core_supported", cms=cms) == supported


def test_components_and_their_updates():
    registry = probed("wordpress-6.8.1")
    assert value(registry, "owl_cms_component_info", type="plugin", name="woocommerce",
                 version="9.8.5") == 1
    assert value(registry, "owl_cms_component_update_available", type="plugin",
                 name="woocommerce") == 1
    assert value(registry, "owl_cms_component_update_available", type="theme",
                 name="storefront") == 0


def test_a_vulnerable_outdated_wordpress(vulndb_path):
    registry = probed("wordpress-5.8.1", vulndb_path)
    assert value(registry, "owl_cms_vulnerability_info", component="core", id="CVE-2022-21661",
                 severity="high", known_exploited="false") == 1
    assert value(registry, "owl_cms_vulnerability_info", component="contact-form-7",
                 id="CVE-2020-35489", severity="critical", known_exploited="false") == 1
    counts = {s: value(registry, "owl_cms_vulnerabilities", severity=s)
              for s in ("critical", "high", "medium", "low")}
    assert counts == {"critical": 1, "high": 1, "medium": 0, "low": 0}
    exposed = {path: value(registry, "owl_site_exposed_file", path=path) for path in PATHS}
    assert exposed == {".git/HEAD": 1, ".env": 0, "readme.html": 1, "wp-config.php.bak": 0,
                       "wp-config.php~": 1, ".wp-config.php.swp": 0, "wp-config.php.save": 0,
                       "xmlrpc.php": 1, "CHANGELOG.txt": None, "core/CHANGELOG.txt": None,
                       "configuration.php~": None, "configuration.php.bak": None}
    assert {h: value(registry, "owl_site_security_header_missing", header=h)
            for h in HEADERS} == dict.fromkeys(HEADERS, 1)


def test_a_known_exploited_drupal_7_with_its_changelog_exposed(vulndb_path):
    registry = probed("drupal-7.57", vulndb_path)
    assert value(registry, "owl_cms_vulnerability_info", component="core", id="CVE-2018-7600",
                 severity="critical", known_exploited="true") == 1
    assert value(registry, "owl_cms_vulnerabilities", severity="critical") == 1
    assert value(registry, "owl_site_exposed_file", path="CHANGELOG.txt") == 1
    assert value(registry, "owl_site_exposed_file", path="readme.html") is None


def test_a_known_exploited_joomla_and_a_current_one_with_exposed_configuration(vulndb_path):
    registry = probed("joomla-4.2.7", vulndb_path)
    assert value(registry, "owl_cms_vulnerability_info", component="core", id="CVE-2023-23752",
                 severity="medium", known_exploited="true") == 1
    registry = probed("joomla-5.3.4", vulndb_path)
    assert value(registry, "owl_cms_vulnerabilities", severity="medium") == 0
    assert value(registry, "owl_site_exposed_file", path="configuration.php~") == 1
    assert value(registry, "owl_site_exposed_file", path=".env") == 1


def test_a_hardened_site_answering_200_everywhere_exposes_nothing(vulndb_path):
    registry = probed("wordpress-hardened", vulndb_path)
    assert all(value(registry, "owl_site_exposed_file", path=path) in (0, None)
               for path in PATHS)
    assert {h: value(registry, "owl_site_security_header_missing", header=h) for h in HEADERS} \
        == dict.fromkeys(HEADERS, 0), "frame-ancestors stands for X-Frame-Options"
    assert value(registry, "owl_cms_vulnerabilities", severity="critical") == 0


def test_a_partial_version_matches_no_advisory(vulndb_path):
    registry = probed("magento-2.4", vulndb_path)  # "2.4" would fall in 2.4.0 - 2.4.3-p1
    assert value(registry, "owl_cms_vulnerabilities", severity="critical") == 0


def test_without_a_database_there_is_no_vulnerability_count_but_files_and_headers_are_checked():
    registry = probed("wordpress-5.8.1")
    assert value(registry, "owl_cms_vulnerabilities", severity="critical") is None
    assert value(registry, "owl_site_exposed_file", path="readme.html") == 1
    assert registry.get_sample_value("owl_vulnerability_db_age_seconds") is None


def test_data_files_ages(vulndb_path):
    registry = build_registry(ResultCache(), context_for(vulndb_path))
    assert registry.get_sample_value("owl_vulnerability_db_age_seconds") == 2.5 * 86400
    catalogue_date = dt.datetime(2025, 10, 1, tzinfo=dt.timezone.utc)
    assert registry.get_sample_value("owl_cms_catalogue_age_seconds") == \
        (NOW - catalogue_date).total_seconds()


def test_a_copied_catalogue_is_as_old_as_the_date_written_in_it_not_as_the_copy(tmp_path):
    # OwlCmsCatalogueStale spares a new stack's first day by itself: the age stays the data's
    copy = tmp_path / "catalogue.json"
    copy.write_text(shipped_catalogue_path().read_text(encoding="utf-8"), encoding="utf-8")
    context = ProbeContext(Probes(cms_catalogue=str(copy)), clock=lambda: NOW)
    registry = build_registry(ResultCache(), context)
    dated = dt.datetime.combine(load_catalogue(copy).date, dt.time(), dt.timezone.utc)
    assert registry.get_sample_value("owl_cms_catalogue_age_seconds") == \
        (NOW - dated).total_seconds()


def test_the_vulnerability_scan_is_for_tier_2_and_up():
    kind = vulnerability_probe()
    assert not kind.applies_to(target("http://127.0.0.1:9/", tier=1))
    assert kind.applies_to(target("http://127.0.0.1:9/", tier=2))


def test_a_database_that_turns_bad_fails_the_scan_instead_of_hiding_it(tmp_path, vulndb_path):
    path = tmp_path / "vulndb.json"
    path.write_text(vulndb_path.read_text())
    context = context_for(path)
    cache = ResultCache()
    with serving("wordpress-5.8.1") as site:
        assert run_probe(vulnerability_probe(timeout=5, context=context), target(site.url),
                         cache).result.success
        path.write_text('{"format": "owl-vulndb/1", "updated": "yesterday"}')
        run = run_probe(vulnerability_probe(timeout=5, context=context), target(site.url), cache)
    assert not run.result.success and "updated" in run.result.error


def test_the_exposition_of_every_cms_metric_passes_promtool(vulndb_path):
    promtool = require_binary("promtool")
    registry = probed("wordpress-5.8.1", vulndb_path)
    exposition = generate_latest(registry)
    for name in (b"owl_cms_info{", b"owl_cms_core_supported{", b"owl_cms_component_info{",
                 b"owl_cms_component_update_available{", b"owl_cms_vulnerabilities{",
                 b"owl_cms_vulnerability_info{", b"owl_site_exposed_file{",
                 b"owl_site_security_header_missing{", b"owl_cms_catalogue_age_seconds ",
                 b"owl_vulnerability_db_age_seconds "):
        assert name in exposition, name
    check = subprocess.run([promtool, "check", "metrics"], input=exposition,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
