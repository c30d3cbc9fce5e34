"""The cms probe against fixture sites on 127.0.0.1: WordPress detection, method by method."""

import pytest

from exporters.probe import ProbeError
from exporters.probes.cms import run_cms_probe
from exporters.probes.detection import CmsDetection
from exporters.probes.http import USER_AGENT, Fetcher, ProbeTimeout
from exporters.probes.wordpress import feed_url
from exporters.targets import Target
from owl.inventory import parse_inventory
from tests.fixtures.sites.support import client, inventory_text, serving


def site_target(url: str) -> Target:
    inventory = parse_inventory(inventory_text(client("acme", {"www": url})))
    return Target(inventory.clients[0], site=inventory.clients[0].sites[0])


def detect(site_name: str):
    with serving(site_name) as site:
        result = run_cms_probe(site_target(site.url), timeout=5)
    assert result.success, result.error
    return result.data, site.requests


@pytest.mark.parametrize("site_name, expected", [
    ("wordpress-6.8.1", CmsDetection("wordpress", "6.8.1", "meta_generator", "high")),
    ("wordpress-5.8.1", CmsDetection("wordpress", "5.8.1", "meta_generator", "high")),
    ("wordpress-meta-only", CmsDetection("wordpress", "6.4.3", "meta_generator", "high")),
    ("wordpress-feed-only", CmsDetection("wordpress", "6.7.2", "feed_generator", "medium")),
    ("wordpress-assets-only", CmsDetection("wordpress", "6.6.2", "asset_ver", "low")),
])
def test_wordpress_version_by_the_most_reliable_method_present(site_name, expected):
    found, _ = detect(site_name)
    assert found == expected


def test_the_feed_is_not_fetched_when_the_meta_tag_answers():
    _, requests = detect("wordpress-6.8.1")
    assert [path for path, _ in requests] == ["/"]


def test_the_feed_is_fetched_under_the_home_page_when_the_meta_tag_is_missing():
    _, requests = detect("wordpress-feed-only")
    assert [path for path, _ in requests] == ["/", "/feed/"]


@pytest.mark.parametrize("site_name", ["not-wordpress", "drupal-10"])
def test_a_site_that_is_not_wordpress_is_a_successful_run_without_detection(site_name):
    found, _ = detect(site_name)
    assert found is None


def test_requests_carry_the_owl_user_agent():
    _, requests = detect("wordpress-feed-only")
    assert {agent for _, agent in requests} == {USER_AGENT}
    assert USER_AGENT.startswith("owl-monitoring/0.")


def test_an_error_status_on_the_home_page_is_a_failure():
    with serving("wordpress-6.8.1") as site:
        site.status = 500
        with pytest.raises(ProbeError, match="HTTP 500"):
            run_cms_probe(site_target(site.url), timeout=5)


def test_a_site_that_does_not_answer_in_time_is_a_timeout():
    with serving("wordpress-6.8.1") as site:
        site.delay = 1.5
        with pytest.raises(ProbeTimeout):
            run_cms_probe(site_target(site.url), timeout=0.3)


def test_the_deadline_covers_the_whole_answer_not_each_read():
    with serving("wordpress-6.8.1") as site:
        site.drip = 0.01  # every read is quick, the whole page takes seconds
        with pytest.raises(ProbeTimeout):
            run_cms_probe(site_target(site.url), timeout=0.5)


def test_a_site_that_stalls_in_the_middle_of_the_page_is_a_timeout():
    with serving("wordpress-6.8.1") as site:
        site.drip = 2  # headers, one byte, then nothing for longer than the timeout
        with pytest.raises(ProbeTimeout):
            run_cms_probe(site_target(site.url), timeout=0.5)


def test_a_closed_port_is_a_failure():
    with serving("wordpress-6.8.1") as site:
        url = site.url
    with pytest.raises(ProbeError, match="GET http://127.0.0.1"):
        run_cms_probe(site_target(url), timeout=2)


def test_bodies_are_cut_at_the_size_cap():
    with serving("wordpress-6.8.1") as site, Fetcher(timeout=5, max_bytes=100) as fetcher:
        page = fetcher.get(site.url)
    assert page.truncated and len(page.body) == 100


@pytest.mark.parametrize("home, feed", [
    ("https://example.com", "https://example.com/feed/"),
    ("https://example.com/", "https://example.com/feed/"),
    ("https://example.com/blog", "https://example.com/blog/feed/"),
    ("https://example.com/blog/?lang=fr", "https://example.com/blog/feed/"),
])
def test_feed_url_is_under_the_home_page(home, feed):
    assert feed_url(home) == feed
