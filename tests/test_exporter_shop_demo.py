"""The shop probe on the demo shop of ``owl up``, with the example inventory's checkout."""

from __future__ import annotations

import requests

from exporters.probes.shop import ShopProbe
from exporters.targets import Target
from owl_commands import demo
from owl.inventory import load_inventory
from tests.conftest import REPO
from tests.support.alertmanager import serving
from tests.support.processes import free_port


def demo_shop(base: str) -> Target:
    """The example inventory's demo shop, moved to the test's port."""
    client = load_inventory(REPO / "examples" / "inventory.yml").client("demo")
    site = client.sites[0]
    return Target(client, site=site.model_copy(
        update={"url": site.url.replace("http://127.0.0.1:9182", base)}))


def test_the_example_checkout_passes_on_the_demo_shop_and_leaves_no_cart(tmp_path):
    app = demo.make_app(tmp_path)
    port = free_port()
    with serving(app, port) as base:
        result = ShopProbe(steps_timeout=5, cleanup_timeout=5)(demo_shop(base))
    assert result.success, result.error
    assert [step.name for step in result.data.steps] == [
        "cart_create", "add_item", "payment_methods", "remove_item", "cart_empty"]
    assert result.data.payment_methods == {"bacs": True, "cheque": True}


def test_the_broken_demo_shop_fails_at_the_first_step(tmp_path):
    demo.break_site(tmp_path, "shop")
    port = free_port()
    with serving(demo.make_app(tmp_path), port) as base:
        result = ShopProbe(steps_timeout=5, cleanup_timeout=5)(demo_shop(base))
    assert not result.success
    assert [step.name for step in result.data.steps] == ["cart_create"]
    assert "HTTP 503" in result.error


def test_the_demo_store_api_refuses_writes_without_the_carts_nonce_and_has_no_checkout(
        tmp_path):
    port = free_port()
    with serving(demo.make_app(tmp_path), port) as base:
        api = f"{base}/wp-json/wc/store/v1/"
        cart = requests.get(api + "cart", timeout=5)
        token = cart.headers["Cart-Token"]
        refused = requests.post(api + "cart/add-item", json={"id": 42},
                                headers={"Cart-Token": token}, timeout=5)
        checkout = requests.post(api + "checkout", json={}, timeout=5)
    assert refused.status_code == 401
    assert checkout.status_code == 404
