"""The shop probe against fake WooCommerce, Magento and PrestaShop APIs that record every call."""

from __future__ import annotations

import subprocess
from contextlib import ExitStack

import pytest
import yaml
from prometheus_client import generate_latest
from werkzeug.wrappers import Response

from exporters.app import build_registry
from exporters.probe import ResultCache, run_probe
from exporters.probes.shop import ShopProbe, shop_probe
from exporters.probes.shop_http import OrderEndpointRefused, ShopSession
from exporters.probes.shop_woocommerce import FORBIDDEN as WOOCOMMERCE_ORDERS
from exporters.targets import Target
from owl.inventory import parse_inventory
from tests.fixtures.shops.magento import FakeMagento
from tests.fixtures.shops.prestashop import FakePrestaShop
from tests.fixtures.shops.support import FakeShop, serving
from tests.fixtures.shops.woocommerce import FakeWooCommerce
from tests.support.alertmanager import serving as serving_app
from tests.support.binaries import require_binary
from tests.support.processes import free_port

SHOP = {"client": "acme", "site": "shop"}
# platform -> (fake, cms, checkout product, expected payment methods)
PLATFORMS = {
    "woocommerce": (FakeWooCommerce, "wordpress", "42", ["bacs", "stripe"]),
    "magento": (FakeMagento, "magento", "MUG-OWL", ["checkmo", "stripe_payments"]),
    "prestashop": (FakePrestaShop, "prestashop", "7", []),
}
ALL_STEPS = ["cart_create", "add_item", "payment_methods", "remove_item", "cart_empty"]


def steps_of(platform: str) -> list[str]:
    return [step for step in ALL_STEPS
            if platform != "prestashop" or step != "payment_methods"]


def site_target(platform: str, url: str, tier: int = 3, **checkout) -> Target:
    _, cms, product, methods = PLATFORMS[platform]
    site = {"id": "shop", "url": url, "cms": cms, "shop": platform,
            "checkout": {"product": product, "payment_methods": methods, **checkout}}
    document = {"provider": {"name": "OWL TEST"}, "clients": [{
        "id": "acme", "name": "Acme", "sites": [site],
        "contract": {"tier": tier, "monthly_fee": "900.00", "quote": "DEV-1",
                     "start": "2025-01-01"}}]}
    text = yaml.safe_dump(document).replace("'2025-01-01'", "2025-01-01")
    client = parse_inventory(text).clients[0]
    return Target(client, site=client.sites[0])


class Prober:
    def __init__(self, shop: FakeShop, platform: str, probe: ShopProbe | None = None,
                 **checkout):
        self.shop = shop
        self.target = site_target(platform, shop.url, **checkout)
        self.kind = shop_probe(probe=probe or ShopProbe(steps_timeout=5, cleanup_timeout=5,
                                                        provider_timeout=2))
        self.cache = ResultCache()
        self.registry = build_registry(self.cache)
        self.platform = platform

    def run(self):
        return run_probe(self.kind, self.target, self.cache)

    def value(self, name: str, **labels):
        return self.registry.get_sample_value(name, {**SHOP, **labels})

    def step(self, step: str, name: str = "owl_shop_step_success"):
        return self.value(name, platform=self.platform, step=step)

    def assert_no_order_and_every_cart_empty(self):
        assert self.shop.orders == [] and self.shop.order_calls() == []
        assert self.shop.nonempty_carts() == 0


@pytest.fixture(params=list(PLATFORMS))
def platform(request):
    return request.param


@pytest.fixture
def shop(platform):
    with serving(PLATFORMS[platform][0]()) as shop:
        yield shop


def test_a_healthy_shop_passes_every_step_without_an_order_and_with_an_empty_cart(platform,
                                                                                 shop):
    prober = Prober(shop, platform)
    run = prober.run()
    assert run.result.success, run.result.error
    for step in steps_of(platform):
        assert prober.step(step) == 1, step
        assert 0 < prober.step(step, "owl_shop_step_duration_seconds") < 5
    assert prober.value("owl_shop_checkout_success", platform=platform) == 1
    assert prober.value("owl_shop_cart_left_nonempty") == 0
    for method in PLATFORMS[platform][3]:
        assert prober.value("owl_shop_payment_method_available", method=method) == 1
    assert prober.registry.get_sample_value("owl_probe_success", {"probe": "shop", **SHOP}) == 1
    prober.assert_no_order_and_every_cart_empty()


def test_prestashop_has_no_payment_methods_step_and_succeeds_without_it():
    with serving(FakePrestaShop()) as shop:
        prober = Prober(shop, "prestashop")
        prober.run()
    assert prober.step("payment_methods") is None
    assert prober.value("owl_shop_checkout_success", platform="prestashop") == 1


# (platform, step that fails, how) -> the cart is emptied anyway, no order
FAILURES = [
    (platform, step, how)
    for platform in PLATFORMS
    for step in steps_of(platform)[1:4]
    for how in ("answers 500 without acting", "acts then answers 500")
    if step != "payment_methods" or platform != "prestashop"
]


@pytest.mark.parametrize("platform, step, how", FAILURES)
def test_a_step_failing_midway_still_leaves_the_cart_empty_and_no_order(platform, step, how):
    with serving(PLATFORMS[platform][0]()) as shop:
        shop.fail_step(step, status=500, times=1, after_acting=how.startswith("acts"))
        prober = Prober(shop, platform)
        run = prober.run()
    assert not run.result.success
    assert prober.step(step) == 0
    assert run.result.error.startswith(f"{step}: ")
    assert prober.value("owl_shop_checkout_success", platform=platform) == 0
    assert prober.value("owl_shop_cart_left_nonempty") == 0
    prober.assert_no_order_and_every_cart_empty()


def test_a_failed_add_still_reads_the_cart_back_and_skips_the_steps_that_need_the_item(
        platform, shop):
    shop.fail_step("add_item", after_acting=True)  # the product went in, the answer is an error
    prober = Prober(shop, platform)
    prober.run()
    assert prober.step("add_item") == 0
    assert prober.step("payment_methods") is None and prober.step("remove_item") is None
    assert prober.step("cart_empty") == 0  # the item was found...
    assert prober.value("owl_shop_cart_left_nonempty") == 0  # ...and the cleanup removed it
    prober.assert_no_order_and_every_cart_empty()


def test_a_failed_cart_creation_stops_the_run(platform, shop):
    shop.fail_step("cart_create", status=503)
    prober = Prober(shop, platform)
    run = prober.run()
    assert [step.name for step in run.result.data.steps] == ["cart_create"]
    assert "HTTP 503" in run.result.error
    assert prober.value("owl_shop_checkout_success", platform=platform) == 0


def test_a_cart_that_cannot_be_emptied_is_reported_and_emptied_by_a_later_run(platform, shop):
    shop.fail_step("remove_item")  # every time: the cleanup fails too
    shop.fail(shop.STEP_ENDPOINTS["cleanup"])
    prober = Prober(shop, platform)
    run = prober.run()
    assert not run.result.success
    assert prober.value("owl_shop_cart_left_nonempty") == 1
    assert shop.nonempty_carts() == 1
    assert "could not be emptied" in run.result.error
    shop.repair()
    run = prober.run()
    assert run.result.success, run.result.error
    assert prober.value("owl_shop_cart_left_nonempty") == 0
    prober.assert_no_order_and_every_cart_empty()


def test_a_step_that_times_out_is_cleaned_up_with_its_own_time(platform, shop):
    shop.delay[shop.STEP_ENDPOINTS["remove_item"]] = 0.8
    prober = Prober(shop, platform, probe=ShopProbe(steps_timeout=0.5, cleanup_timeout=5))
    run = prober.run()
    assert prober.step("remove_item") == 0
    assert "timeout" in run.result.error
    shop.repair()
    assert prober.value("owl_shop_cart_left_nonempty") == 0
    prober.assert_no_order_and_every_cart_empty()


@pytest.mark.parametrize("platform, offered, expected, available", [
    ("woocommerce", ["bacs"], ["bacs", "stripe"], {"bacs": 1, "stripe": 0}),
    ("magento", ["checkmo"], ["checkmo", "paypal_express"], {"checkmo": 1, "paypal_express": 0}),
])
def test_a_missing_payment_method_fails_its_step_and_the_cart_is_still_emptied(
        platform, offered, expected, available):
    with serving(PLATFORMS[platform][0](payment_methods=offered)) as shop:
        prober = Prober(shop, platform, payment_methods=expected)
        run = prober.run()
    assert prober.step("payment_methods") == 0
    assert run.result.error == "payment_methods: payment methods not offered: " + \
        ", ".join(method for method, value in available.items() if not value)
    for method, value in available.items():
        assert prober.value("owl_shop_payment_method_available", method=method) == value
    assert prober.step("remove_item") == 1 and prober.step("cart_empty") == 1
    prober.assert_no_order_and_every_cart_empty()


NO_METHOD = "payment_methods: the cart needs payment and no payment method is offered"


@pytest.mark.parametrize("platform, expected", [
    ("woocommerce", []),
    ("woocommerce", ["bacs"]),
    ("magento", []),
    ("magento", ["checkmo"]),
])
def test_a_cart_that_needs_payment_and_offers_no_payment_method_fails_the_checkout(platform,
                                                                                  expected):
    with serving(PLATFORMS[platform][0](payment_methods=())) as shop:
        prober = Prober(shop, platform, payment_methods=expected)
        run = prober.run()
    assert not run.result.success
    assert run.result.error == NO_METHOD
    assert prober.step("payment_methods") == 0
    assert prober.value("owl_shop_checkout_success", platform=platform) == 0
    for method in expected:
        assert prober.value("owl_shop_payment_method_available", method=method) == 0
    assert prober.step("remove_item") == 1 and prober.step("cart_empty") == 1
    assert prober.value("owl_shop_cart_left_nonempty") == 0
    prober.assert_no_order_and_every_cart_empty()


def test_a_free_cart_that_offers_no_payment_method_passes_the_checkout():
    with serving(FakeWooCommerce(payment_methods=())) as shop:
        prober = Prober(shop, "woocommerce", product="44", payment_methods=[])
        run = prober.run()
    assert run.result.success, run.result.error
    assert prober.step("payment_methods") == 1
    assert prober.value("owl_shop_checkout_success", platform="woocommerce") == 1
    prober.assert_no_order_and_every_cart_empty()


def provider(status: int):
    def app(environ, start_response):
        headers = {"Location": "https://pay.example/"} if 300 <= status < 400 else {}
        return Response("// payment provider script\n", status, headers=headers,
                        content_type="text/javascript")(environ, start_response)
    return app


@pytest.mark.parametrize("status, up", [(200, 1), (302, 1), (404, 0), (503, 0), (None, 0)])
def test_the_payment_provider_is_up_when_it_answers_2xx_or_3xx(status, up):
    with ExitStack() as stack:
        shop = stack.enter_context(serving(FakeWooCommerce()))
        port = free_port()
        if status is not None:
            stack.enter_context(serving_app(provider(status), port))
        prober = Prober(shop, "woocommerce",
                        payment_provider_url=f"http://127.0.0.1:{port}/v3/")
        run = prober.run()
    assert prober.value("owl_shop_payment_provider_up") == up
    assert run.result.success, "the provider is reported apart from the cart's steps"


def test_without_a_payment_provider_url_there_is_no_provider_series(shop, platform):
    prober = Prober(shop, platform)
    prober.run()
    assert prober.value("owl_shop_payment_provider_up") is None


@pytest.mark.parametrize("platform, checkout, message", [
    ("woocommerce", {"product": "MUG-OWL"},
     "checkout.product 'MUG-OWL': WooCommerce's Store API adds a product by its numeric id"),
    ("prestashop", {"product": "mug"},
     "checkout.product 'mug': PrestaShop adds a product by its numeric id_product"),
    ("prestashop", {"payment_methods": ["ps_wirepayment"]},
     "checkout.payment_methods: PrestaShop shows its payment options only to a customer"),
])
def test_a_checkout_the_platform_cannot_run_is_a_failure_naming_the_field(platform, checkout,
                                                                          message):
    with serving(PLATFORMS[platform][0]()) as shop:
        run = Prober(shop, platform, **checkout).run()
        assert shop.calls == []
    assert not run.result.success
    assert run.result.error.startswith(message)


def test_an_unknown_product_fails_add_item_with_the_shops_message():
    with serving(FakeMagento()) as shop:
        prober = Prober(shop, "magento", product="NO-SUCH-SKU")
        run = prober.run()
    assert prober.step("add_item") == 0
    assert "HTTP 404 (The product that was requested doesn't exist." in run.result.error
    prober.assert_no_order_and_every_cart_empty()


def test_the_session_refuses_an_order_endpoint_before_sending_anything():
    with serving(FakeWooCommerce()) as shop:
        session = ShopSession(5, WOOCOMMERCE_ORDERS)
        for method in ("GET", "POST"):
            with pytest.raises(OrderEndpointRefused, match="could place an order"):
                session.call(method, shop.url + "wp-json/wc/store/v1/checkout")
        assert shop.calls == []


def test_an_api_answering_something_else_than_json_fails_the_step(platform):
    def html(environ, start_response):
        return Response("<h1>Maintenance</h1>", 200,
                        content_type="text/html")(environ, start_response)

    port = free_port()
    with serving_app(html, port):
        target = site_target(platform, f"http://127.0.0.1:{port}/")
        result = ShopProbe(steps_timeout=2, cleanup_timeout=2)(target)
    assert not result.success
    assert result.data.steps[0].name == "cart_create"
    assert ("not JSON" in result.error or "static_token" in result.error
            or "not a cart" in result.error)


@pytest.mark.parametrize("tier, checkout, probed", [
    (3, True, True), (4, True, True), (2, True, False), (3, False, False)])
def test_shops_are_probed_on_sites_with_a_checkout_of_tier_3_and_up(tier, checkout, probed):
    target = site_target("woocommerce", "https://shop.example/", tier=tier)
    if not checkout:
        target = Target(target.client, site=target.site.model_copy(update={"checkout": None}))
    assert shop_probe().applies_to(target) is probed


def test_the_shop_exposition_passes_promtool():
    promtool = require_binary("promtool")
    with ExitStack() as stack:
        woo = stack.enter_context(serving(FakeWooCommerce(payment_methods=["bacs"])))
        port = free_port()
        stack.enter_context(serving_app(provider(200), port))
        prober = Prober(woo, "woocommerce", payment_provider_url=f"http://127.0.0.1:{port}/")
        prober.run()
    exposition = generate_latest(prober.registry)
    assert b"owl_shop_payment_method_available{" in exposition
    check = subprocess.run([promtool, "check", "metrics"], input=exposition,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_bug_in_a_flow_fails_its_step_and_still_empties_the_cart(monkeypatch):
    from exporters.probes.shop_woocommerce import WooCommerceCart

    def broken(self):
        raise KeyError("a bug")

    monkeypatch.setattr(WooCommerceCart, "remove", broken)
    with serving(FakeWooCommerce()) as shop:
        prober = Prober(shop, "woocommerce")
        run = prober.run()
    assert prober.step("remove_item") == 0
    assert "KeyError" in run.result.error
    prober.assert_no_order_and_every_cart_empty()
