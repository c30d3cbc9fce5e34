"""The cms probe against fixture sites on 127.0.0.1: each CMS and version family, method by
method, and the plugins, themes and modules they show."""

import pytest

from exporters.probe import ProbeError
from exporters.probes.cms import run_cms_probe
from exporters.probes.detection import CmsDetection
from exporters.probes.fetcher import Fetcher
from exporters.probes.http import USER_AGENT, ProbeTimeout
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
    ("wordpress-hardened", CmsDetection("wordpress", "unknown", "markup", "medium")),
    ("wordpress-4.9-readme", CmsDetection("wordpress", "4.9.8", "readme_html", "low")),
    ("drupal-10.4.2", CmsDetection("drupal", "10.4.2", "asset_ver", "medium")),
    ("drupal-7.57", CmsDetection("drupal", "7.57", "changelog", "high")),
    ("drupal-10", CmsDetection("drupal", "10", "meta_generator", "high")),
    ("joomla-4.2.7", CmsDetection("joomla", "4.2.7", "manifest", "high")),
    ("joomla-5.3.4", CmsDetection("joomla", "5.3.4", "manifest", "high")),
    ("prestashop-8.2.3", CmsDetection("prestashop", "8.2.3", "metadata_json", "high")),
    ("prestashop-1.6", CmsDetection("prestashop", "unknown", "markup", "high")),
    ("magento-2.4", CmsDetection("magento", "2.4", "magento_version", "high")),
    ("magento-1.9", CmsDetection("magento", "1.9.4.5", "release_notes", "high")),
])
def test_cms_and_version_by_the_most_reliable_method_present(site_name, expected):
    found, _ = detect(site_name)
    assert found == expected


@pytest.mark.parametrize("site_name, components", [
    ("wordpress-6.8.1", [("plugin", "woocommerce", "9.8.5"), ("theme", "storefront", "4.6.1")]),
    ("wordpress-5.8.1", [("plugin", "woocommerce", "5.6.0"), ("plugin", "contact-form-7", "5.3.1"),
                         ("theme", "storefront", "4.6.1")]),
    # no ?ver=: the plugin's readme.txt Stable tag, the theme's style.css Version
    ("wordpress-hardened", [("plugin", "akismet", "5.4"), ("theme", "twentytwentyfive", "1.3")]),
    ("drupal-10.4.2", [("module", "webform", "unknown"), ("theme", "gin", "unknown")]),
    ("drupal-7.57", [("module", "ctools", "unknown")]),
    ("joomla-4.2.7", [("extension", "com_jce", "unknown"), ("extension", "mod_menu", "unknown")]),
    ("prestashop-8.2.3", [("module", "ps_searchbar", "unknown"),
                          ("module", "ps_facetedsearch", "unknown")]),
    ("magento-2.4", [("module", "Amasty_Shopby", "unknown")]),
])
def test_plugins_themes_and_modules_seen_on_the_home_page(site_name, components):
    found, _ = detect(site_name)
    assert [(c.type, c.name, c.version) for c in found.components] == components


def test_a_plugin_version_equal_to_the_core_version_is_not_taken_for_the_plugins():
    found, requests = detect("wordpress-assets-only")
    assert found.components == ()
    assert [path for path, _ in requests] == ["/", "/feed/"]


def test_versions_known_only_in_part_are_marked_inexact():
    assert detect("drupal-10")[0].exact is False
    assert detect("magento-2.4")[0].exact is False
    assert detect("drupal-7.57")[0].exact is True


def test_the_feed_is_not_fetched_when_the_meta_tag_answers():
    _, requests = detect("wordpress-6.8.1")
    assert [path for path, _ in requests] == ["/"]


def test_the_feed_is_fetched_under_the_home_page_when_the_meta_tag_is_missing():
    _, requests = detect("wordpress-feed-only")
    assert [path for path, _ in requests][:2] == ["/", "/feed/"]


def test_a_site_without_a_known_cms_is_a_successful_run_without_detection_nor_more_requests():
    found, requests = detect("not-wordpress")
    assert found is None
    assert [path for path, _ in requests] == ["/"]


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
