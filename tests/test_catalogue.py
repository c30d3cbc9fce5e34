"""The CMS catalogue: what it says of installed versions, and its refresh from recorded upstream
answers served on 127.0.0.1."""

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from exporters.catalogue.model import (CatalogueError, load_catalogue, parse_catalogue,
                                       shipped_catalogue_path)
from tests.support.processes import free_port
from tests.support.routes import serving_routes

FIXTURES = Path(__file__).parent / "fixtures" / "catalogue"
DAY = dt.date(2025, 11, 1)


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(shipped_catalogue_path())


@pytest.mark.parametrize("cms, version, update, supported", [
    ("wordpress", "6.8.3", False, True),  # the latest
    ("wordpress", "6.8.1", True, True),  # a point release behind
    ("wordpress", "6.7.2", True, True),  # WordPress moves to the newest branch, whatever it is
    ("wordpress", "5.8.1", True, True),  # old, but its branch still gets security fixes
    ("wordpress", "4.6.1", True, False),  # branches before 4.7 no longer do
    ("wordpress", "6.9.1", False, True),  # newer than the catalogue: not flagged
    ("drupal", "11.2.5", False, True),
    ("drupal", "10.5.4", False, True),  # Drupal 10 is not told to move to 11
    ("drupal", "10.4.2", True, True),
    ("drupal", "10.3.1", True, False),  # a minor branch past its support
    ("drupal", "7.98", True, False),
    ("drupal", "10", None, True),  # major only, from the generator tag
    ("drupal", "7", None, False),
    ("joomla", "5.3.4", False, True),
    ("joomla", "4.4.14", False, True),  # supported until 2025-10-17... on DAY that is past
    ("joomla", "3.10.11", True, False),
    ("prestashop", "1.7.8.10", True, False),  # four numbers compare as numbers
    ("prestashop", "8.2.3", False, True),
    ("magento", "2.4.7-p3", True, True),  # patch releases come after their release
    ("magento", "2.4.8-p2", False, True),
    ("magento", "1.9.4.5", False, False),
    ("wordpress", "unknown", None, None),
    ("typo3", "12.4.1", None, None),
])
def test_update_and_support_status_of_an_installed_version(catalogue, cms, version, update,
                                                           supported):
    status = catalogue.core_status(cms, version, DAY)
    if (cms, version) == ("joomla", "4.4.14"):
        assert status.supported is False and \
            catalogue.core_status(cms, version, dt.date(2025, 10, 17)).supported is True
        return
    assert (status.update_available, status.supported) == (update, supported)


@pytest.mark.parametrize("ecosystem, name, version, update", [
    ("wordpress-plugin", "woocommerce", "9.8.5", True),
    ("wordpress-plugin", "woocommerce", "10.2.2", False),
    ("wordpress-theme", "storefront", "4.6.1", False),
    ("wordpress-plugin", "unheard-of", "1.0", None),
    ("wordpress-plugin", "woocommerce", "unknown", None),
])
def test_component_updates_where_the_catalogue_knows_the_component(catalogue, ecosystem, name,
                                                                   version, update):
    assert catalogue.component_update(ecosystem, name, version) is update


def test_a_broken_catalogue_is_refused_naming_the_field():
    data = json.loads(shipped_catalogue_path().read_text())
    data["cores"]["drupal"]["branches"][0]["latest"] = "eleven"
    with pytest.raises(CatalogueError, match=r"cores\.drupal\.branches\.0\.latest.*'eleven' is "
                                             "not a version"):
        parse_catalogue(data, "cat.json")


def test_a_catalogue_that_is_not_json_is_refused_with_its_line(tmp_path):
    path = tmp_path / "cat.json"
    path.write_text('{"format": 1,\n"date": }\n')
    with pytest.raises(CatalogueError, match=r"cat\.json:2: not JSON"):
        load_catalogue(path)


def upstream_routes() -> dict:
    def file(name, content_type="application/json"):
        return 200, content_type, (FIXTURES / name).read_bytes()

    routes = {
        "/wordpress/core/stable-check/1.0/": file("wordpress-stable-check.json"),
        "/drupal/release-history/drupal/current": file("drupal-release-history.xml",
                                                       "application/xml"),
        "/joomla/api/v1/latest/cms": file("joomla-latest.json"),
        "/github/repos/PrestaShop/PrestaShop/releases?per_page=100":
            file("prestashop-releases.json"),
        "/github/repos/magento/magento2/releases?per_page=100": file("magento-releases.json"),
    }
    for path in FIXTURES.glob("plugin-*.json"):
        slug = path.stem.removeprefix("plugin-")
        routes[f"/wordpress/plugins/info/1.2/?action=plugin_information&request[slug]={slug}"] = \
            file(path.name)
    for path in FIXTURES.glob("theme-*.json"):
        slug = path.stem.removeprefix("theme-")
        routes[f"/wordpress/themes/info/1.2/?action=theme_information&request[slug]={slug}"] = \
            file(path.name)
    return routes


def owl(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "owl_commands.cli", *args], capture_output=True,
                          text=True, timeout=60)


def upstream_args(base: str) -> list[str]:
    return [argument for name in ("wordpress", "drupal", "joomla", "github")
            for argument in ("--upstream", f"{name}={base}/{name}")]


def test_refresh_reads_each_upstream_format_and_writes_a_dated_catalogue(tmp_path):
    out = tmp_path / "catalogue.json"
    with serving_routes(upstream_routes()) as upstream:
        done = owl("catalogue", "refresh", "--out", str(out), *upstream_args(upstream.url))
    assert done.returncode == 0, done.stderr
    new = load_catalogue(out)
    assert new.date == dt.datetime.now(dt.timezone.utc).date()
    branches = {cms: {b.branch: (b.latest, b.supported) for b in core.branches}
                for cms, core in new.cores.items()}
    # WordPress: a branch is supported while its newest release is not "insecure"
    assert branches["wordpress"]["6.9"] == ("6.9", True)
    assert branches["wordpress"]["6.8"] == ("6.8.3", True)
    assert branches["wordpress"]["4.6"] == ("4.6.29", False)
    # Drupal: supported_branches; release candidates and unpublished releases left out
    assert branches["drupal"]["11.3"] == ("11.3.0", True)
    assert branches["drupal"]["11.1"] == ("11.1.9", False)
    assert branches["drupal"]["10.4"] == ("10.4.9", False)
    # Joomla: latest per branch; known branches keep their support status, new ones are supported
    assert branches["joomla"]["6.0"] == ("6.0.1", True)
    assert branches["joomla"]["4.4"] == ("4.4.14", True)
    assert branches["joomla"]["3.10"] == ("3.10.12", False)
    # GitHub releases: pre-releases left out
    assert branches["prestashop"]["9.0"] == ("9.0.1", True)
    assert "9.1" not in branches["prestashop"]
    assert branches["magento"]["2.4.8"] == ("2.4.8-p3", True)
    assert new.components["wordpress-plugin"]["woocommerce"] == "10.3.5"
    assert new.components["wordpress-theme"]["astra"] == "4.11.15"
    assert new.core_status("wordpress", "6.8.3", new.date).update_available is True
    assert new.core_status("drupal", "11.2.8", new.date).update_available is True


def test_refresh_without_a_network_says_so_and_writes_nothing(tmp_path):
    out = tmp_path / "catalogue.json"
    done = owl("catalogue", "refresh", "--out", str(out),
               *upstream_args(f"http://127.0.0.1:{free_port()}"))
    assert done.returncode == 1
    assert "cannot reach http://127.0.0.1:" in done.stderr and "nothing written" in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_refresh_stops_on_an_upstream_answer_it_cannot_read(tmp_path):
    routes = upstream_routes()
    routes["/joomla/api/v1/latest/cms"] = (200, "application/json", b'{"latest": "5.4.1"}')
    out = tmp_path / "catalogue.json"
    with serving_routes(routes) as upstream:
        done = owl("catalogue", "refresh", "--out", str(out), *upstream_args(upstream.url))
    assert done.returncode == 1 and "Joomla latest releases: expected" in done.stderr
    assert not out.exists()


def test_refresh_refuses_an_unknown_upstream_name():
    done = owl("catalogue", "refresh", "--upstream", "typo3=http://x")
    assert done.returncode == 2 and "NAME one of wordpress, drupal, joomla, github" in done.stderr
