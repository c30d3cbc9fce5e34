"""The demo site: a WordPress shop at / and a Drupal site at /acme/, broken and repaired by flag."""

import sys

import pytest
import requests

from exporters.probe import ProbeError
from exporters.probes.cms import run_cms_probe
from exporters.probes.detection import CmsDetection
from exporters.targets import Target
from owl_commands import demo
from owl_commands.cli import main
from owl.inventory import load_inventory
from owl.state import DEFAULT_STATE_DIR
from tests.conftest import REPO
from tests.support.processes import free_port, running, wait_for_http


@pytest.fixture(scope="module")
def demo_site(tmp_path_factory):
    """``owl demo site`` on a free port; yields (base URL, state folder)."""
    tmp = tmp_path_factory.mktemp("demo")
    state = tmp / "state"
    port = free_port()
    args = [sys.executable, "-m", "owl_commands.cli", "demo", "site", "--web.listen-address",
            f"127.0.0.1:{port}", "--state", str(state)]
    with running(args, tmp / "site.log") as process:
        base = f"http://127.0.0.1:{port}"
        wait_for_http(f"{base}/", timeout=15, process=process)
        yield base, state


@pytest.fixture
def state(demo_site):
    base, state = demo_site
    yield state
    for site in demo.SITES:
        demo.repair_site(state, site)


def example_site(client_id: str, base: str) -> Target:
    """The example inventory's site of ``client_id``, moved to the test's port."""
    client = load_inventory(REPO / "examples" / "inventory.yml").client(client_id)
    site = client.sites[0]
    return Target(client, site=site.model_copy(
        update={"url": site.url.replace("http://127.0.0.1:9182", base)}))


def test_the_shop_is_a_wordpress_woocommerce_site_the_cms_probe_recognises(demo_site):
    base, _ = demo_site
    home = requests.get(f"{base}/", timeout=5)
    assert home.status_code == 200 and "WooCommerce" in home.text
    result = run_cms_probe(example_site("demo", base), timeout=5)
    assert result.data == CmsDetection("wordpress", demo.WORDPRESS_VERSION, "meta_generator",
                                       "high")


def test_the_shop_has_a_feed_and_versioned_core_assets(demo_site):
    base, _ = demo_site
    feed = requests.get(f"{base}/feed/", timeout=5)
    assert f"<generator>https://wordpress.org/?v={demo.WORDPRESS_VERSION}</generator>" in feed.text
    asset = f"{base}/wp-includes/js/wp-emoji-release.min.js?ver={demo.WORDPRESS_VERSION}"
    assert asset in requests.get(f"{base}/", timeout=5).text
    assert requests.get(asset, timeout=5).status_code == 200


def test_the_demo_sends_the_security_headers_a_scan_looks_for(demo_site):
    from exporters.probes.headers import missing_headers

    base, _ = demo_site
    page = requests.get(f"{base}/", timeout=5)
    assert not any(missing_headers(page.headers).values())


def test_acme_is_a_drupal_10_site(demo_site):
    base, _ = demo_site
    page = requests.get(f"{base}/acme/", timeout=5)
    assert page.status_code == 200
    assert page.headers["X-Generator"] == "Drupal 10 (https://www.drupal.org)"
    assert '<meta name="Generator" content="Drupal 10 (https://www.drupal.org)" />' in page.text
    assert requests.get(f"{base}/nowhere", timeout=5).status_code == 404


def test_break_and_repair_the_shop(demo_site, state, capsys):
    base, _ = demo_site
    assert main(["demo", "break", "--state", str(state)]) == 0
    assert "demo site shop is broken" in capsys.readouterr().out
    assert requests.get(f"{base}/", timeout=5).status_code == 503
    assert requests.get(f"{base}/feed/", timeout=5).status_code == 503
    assert requests.get(f"{base}/acme/", timeout=5).status_code == 200
    with pytest.raises(ProbeError, match="HTTP 503"):
        run_cms_probe(example_site("demo", base), timeout=5)

    assert main(["demo", "break", "--state", str(state)]) == 0
    assert "already broken" in capsys.readouterr().out

    assert main(["demo", "repair", "--state", str(state)]) == 0
    assert "demo site shop is repaired" in capsys.readouterr().out
    assert requests.get(f"{base}/", timeout=5).status_code == 200

    assert main(["demo", "repair", "--state", str(state)]) == 0
    assert "was not broken" in capsys.readouterr().out


def test_break_and_repair_acme(demo_site, state, capsys):
    base, _ = demo_site
    main(["demo", "break", "--site", "acme", "--state", str(state)])
    assert (state / "demo" / "acme.broken").exists()
    assert requests.get(f"{base}/acme/", timeout=5).status_code == 503
    assert requests.get(f"{base}/", timeout=5).status_code == 200
    main(["demo", "repair", "--site", "acme", "--state", str(state)])
    assert requests.get(f"{base}/acme/", timeout=5).status_code == 200


def test_default_state_dir_is_the_one_owl_up_uses():
    assert DEFAULT_STATE_DIR == ".owl/state"
    flag = demo.flag_file(DEFAULT_STATE_DIR, "shop")
    assert flag.as_posix() == ".owl/state/demo/shop.broken"


def test_break_and_repair_use_the_state_folder_of_owl_state(tmp_path, monkeypatch):
    monkeypatch.setenv("OWL_STATE", str(tmp_path))
    assert main(["demo", "break", "--site", "acme"]) == 0
    assert (tmp_path / "demo" / "acme.broken").exists()
    assert main(["demo", "repair", "--site", "acme"]) == 0
    assert not (tmp_path / "demo" / "acme.broken").exists()
