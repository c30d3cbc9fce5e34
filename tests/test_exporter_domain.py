"""The domain probe against an RDAP stub on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import subprocess

import pytest
import yaml
from prometheus_client import generate_latest

from exporters.app import build_registry
from exporters.context import ProbeContext
from exporters.probe import ResultCache, run_probe
from exporters.probes.domain import domain_kind, domain_probe
from exporters.targets import Target
from owl.inventory import parse_inventory
from tests.fixtures.rdap.server import serving_rdap
from tests.support.binaries import require_binary


def inventory(sites: list[dict], rdap_server: str = "https://rdap.org/"):
    document = {"provider": {"name": "OWL TEST", "probes": {"rdap_server": rdap_server}},
                "clients": [{"id": "acme", "name": "Acme", "sites": sites,
                             "contract": {"tier": 1, "monthly_fee": "90.00", "quote": "DEV-1",
                                          "start": "2025-01-01"}}]}
    return parse_inventory(yaml.safe_dump(document).replace("'2025-01-01'", "2025-01-01"))


def site_target(url: str, domain: str | None = None, site_id: str = "www") -> Target:
    site = {"id": site_id, "url": url, **({"domain": domain} if domain else {})}
    client = inventory([site]).clients[0]
    return Target(client, site=client.sites[0])


def utc(*args) -> float:
    return dt.datetime(*args, tzinfo=dt.timezone.utc).timestamp()


class Prober:
    def __init__(self, server: str, timeout: float = 5.0):
        self.kind = domain_probe(server, timeout=timeout)
        self.cache = ResultCache()
        self.registry = build_registry(self.cache)

    def run(self, target: Target):
        return run_probe(self.kind, target, self.cache)

    def expiry(self, domain: str, site: str = "www"):
        return self.registry.get_sample_value("owl_domain_expiry_timestamp_seconds",
                                              {"client": "acme", "site": site, "domain": domain})

    def success(self, site: str = "www"):
        return self.registry.get_sample_value("owl_probe_success",
                                              {"probe": "domain", "client": "acme", "site": site})


@pytest.fixture
def rdap():
    with serving_rdap() as stub:
        yield stub


@pytest.mark.parametrize("url, domain, expiry", [
    ("https://www.owl-boutique.fr/", None, utc(2026, 4, 11, 9, 12, 45)),
    ("https://shop.acme-industrie.com/", "acme-industrie.com", utc(2028, 9, 14, 4)),
    ("https://ACME-INDUSTRIE.COM/", None, utc(2028, 9, 14, 4)),
])
def test_the_expiry_is_the_rdap_expiration_event_of_the_registered_domain(rdap, url, domain,
                                                                          expiry):
    prober = Prober(rdap.url)
    run = prober.run(site_target(url, domain))
    assert run.result.success, run.result.error
    registered = domain or url.split("//")[1].strip("/").lower().removeprefix("www.")
    assert prober.expiry(registered) == expiry
    assert rdap.requests == [f"/domain/{registered}"]
    assert prober.success() == 1


def test_a_redirecting_rdap_server_like_rdap_org_is_followed(rdap):
    prober = Prober(rdap.url + "redirect/")
    assert prober.run(site_target("https://owl-boutique.fr/")).result.success
    assert rdap.requests == ["/redirect/domain/owl-boutique.fr", "/domain/owl-boutique.fr"]


def test_a_registry_that_publishes_no_expiry_gives_a_successful_run_without_a_series(rdap):
    prober = Prober(rdap.url)
    run = prober.run(site_target("https://handwerk-mueller.de/"))
    assert run.result.success
    assert run.result.data.expiry is None
    assert prober.expiry("handwerk-mueller.de") is None


@pytest.mark.parametrize("answer, error", [
    (None, "HTTP 404, the registry does not know unknown-shop.fr"),
    ((429, b'{"errorCode": 429}'), "HTTP 429, rate limited by the RDAP server"),
    ((500, b"oops"), "HTTP 500"),
    ((200, b'{"objectClassName": "domain", "events": [{"eventAction": "expir'),
     "the answer is not JSON"),
    ((200, b"<html>RDAP</html>"), "the answer is not JSON"),
    ((200, b'["not", "an", "object"]'), "the answer is not a JSON object"),
    ((200, b'{"events": {"eventAction": "expiration"}}'), "events is not a list"),
    ((200, b'{"events": [{"eventAction": "registration", "eventDate": "2019-01-01T00:00:00Z"},'
      b' {"eventAction": "expiration", "eventDate": "11/04/2026"}]}'),
     "events[1].eventDate: '11/04/2026' is not an RFC 3339 time with Z or an offset"),
    ((200, b'{"events": [{"eventAction": "expiration", "eventDate": "2026-04-11T09:12:45"}]}'),
     "events[0].eventDate: '2026-04-11T09:12:45' is not an RFC 3339 time with Z or an offset"),
])
def test_a_bad_rdap_answer_is_a_failed_run_saying_what_was_wrong(rdap, answer, error):
    if answer is not None:
        rdap.answers["unknown-shop.fr"] = answer
    prober = Prober(rdap.url)
    run = prober.run(site_target("https://unknown-shop.fr/"))
    assert not run.result.success
    assert run.result.error == f"RDAP {rdap.url}domain/unknown-shop.fr: {error}"
    assert prober.success() == 0
    assert prober.expiry("unknown-shop.fr") is None


def test_a_slow_rdap_server_is_a_timeout(rdap):
    rdap.delay = 1.0
    run = Prober(rdap.url, timeout=0.3).run(site_target("https://owl-boutique.fr/"))
    assert not run.result.success
    assert "within the 0.3s timeout" in run.result.error


def test_the_latest_expiration_event_wins(rdap):
    rdap.answers["owl-boutique.fr"] = (200, b"""{"events": [
        {"eventAction": "expiration", "eventDate": "2026-04-11T00:00:00Z"},
        {"eventAction": "expiration", "eventDate": "2027-04-11T00:00:00+02:00"}]}""")
    prober = Prober(rdap.url)
    prober.run(site_target("https://owl-boutique.fr/"))
    assert prober.expiry("owl-boutique.fr") == utc(2027, 4, 10, 22)


def test_sites_sharing_a_domain_share_one_rdap_query(rdap):
    prober = Prober(rdap.url)
    client = inventory([{"id": "www", "url": "https://www.owl-boutique.fr/"},
                        {"id": "shop", "url": "https://shop.owl-boutique.fr/",
                         "domain": "owl-boutique.fr"}]).clients[0]
    for site in client.sites:
        assert prober.run(Target(client, site=site)).result.success
    assert prober.expiry("owl-boutique.fr", "www") == prober.expiry("owl-boutique.fr", "shop")
    assert rdap.requests == ["/domain/owl-boutique.fr"]


def test_a_failed_query_is_not_reused(rdap):
    rdap.answers["owl-boutique.fr"] = (503, b"")
    prober = Prober(rdap.url)
    target = site_target("https://owl-boutique.fr/")
    assert not prober.run(target).result.success
    del rdap.answers["owl-boutique.fr"]
    assert prober.run(target).result.success
    assert len(rdap.requests) == 2


@pytest.mark.parametrize("url, domain, probed", [
    ("https://www.owl-boutique.fr/", None, True),
    ("http://127.0.0.1:9182/", None, False),
    ("http://localhost:8080/", None, False),
    ("http://[::1]:8080/", None, False),
    ("http://127.0.0.1:9182/", "demo-boutique.example", True),
])
def test_only_sites_with_a_registered_domain_are_probed(url, domain, probed):
    assert domain_probe("https://rdap.org/").applies_to(site_target(url, domain)) is probed


def test_the_kind_asks_the_inventorys_rdap_server(rdap):
    probes = inventory([], rdap_server=rdap.url).provider.probes
    kind = domain_kind(ProbeContext(probes))
    assert kind.interval == dt.timedelta(days=1)
    assert kind.run(site_target("https://owl-boutique.fr/")).success
    assert rdap.requests == ["/domain/owl-boutique.fr"]


def test_the_domain_exposition_passes_promtool(rdap):
    promtool = require_binary("promtool")
    prober = Prober(rdap.url)
    prober.run(site_target("https://owl-boutique.fr/"))
    exposition = generate_latest(prober.registry)
    assert b"owl_domain_expiry_timestamp_seconds{" in exposition
    check = subprocess.run([promtool, "check", "metrics"], input=exposition,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
