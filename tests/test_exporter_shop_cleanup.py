"""The shop probe's cleanup of its test cart, on fake shops that fail in each way it can meet.

Whatever fails, the cart must end empty when the shop lets it, the cart left must be reported
(``owl_shop_cart_left_nonempty``, and the run's reason) when it does not, and no order endpoint is
ever called.
"""

from __future__ import annotations

import pytest

from exporters.probes.shop import ShopProbe
from tests.fixtures.shops.support import FakeShop, serving
from tests.test_exporter_shop import PLATFORMS, SHOP, Prober

LEFT = "a test cart could not be emptied (owl_shop_cart_left_nonempty)"
LATE = 0.8  # seconds: past the short timeouts below, well within the shop's idle wait
# the probe's timeouts (a probe keeps the carts it left: a new one for each test)
SHORT = {"steps_timeout": 0.5, "cleanup_timeout": 5}
SHORT_CLEANUP = {"steps_timeout": 5, "cleanup_timeout": 0.5}


def remove_refused(shop: FakeShop):
    shop.fail_step("remove_item", status=409)


def add_answers_late(shop: FakeShop):
    shop.slow_step("add_item", LATE, after_acting=True, times=1)


def payment_methods_answer_late(shop: FakeShop):
    shop.slow_step("payment_methods", LATE, times=1)


def remove_answers_late(shop: FakeShop):
    shop.slow_step("remove_item", LATE, after_acting=True, times=1)


def add_fails_after_acting(shop: FakeShop):
    shop.fail_step("add_item", after_acting=True, times=1)


def fallback_refused(shop: FakeShop):
    add_fails_after_acting(shop)
    shop.fail(shop.STEP_ENDPOINTS["cleanup"])


def read_back_fails(shop: FakeShop):
    add_fails_after_acting(shop)
    # after the reads of a run whose add failed: cart_empty's, and cart_create's where it
    # reads the same endpoint (WooCommerce's GET cart)
    endpoints = shop.STEP_ENDPOINTS
    reads = 1 + (endpoints["cart_create"] == endpoints["cart_empty"])
    shop.fail(endpoints["cart_empty"], skip=reads)


def fallback_answers_late(shop: FakeShop):
    add_fails_after_acting(shop)
    shop.fail(shop.STEP_ENDPOINTS["cleanup"], status=None, delay=LATE)


# (platform, what goes wrong, the probe's timeouts, the first step that fails)
EMPTIED = [
    ("woocommerce", remove_refused, None, "remove_item"),  # DELETE cart/items empties it
    *[(platform, add_answers_late, SHORT, "add_item") for platform in PLATFORMS],
    *[(platform, payment_methods_answer_late, SHORT, "payment_methods")
      for platform in ("woocommerce", "magento")],
    *[(platform, remove_answers_late, SHORT, "remove_item") for platform in PLATFORMS],
]
# (platform, what goes wrong, the probe's timeouts)
REPORTED = [
    ("magento", remove_refused, None),  # its cleanup removes items the way remove_item does
    ("prestashop", remove_refused, None),
    *[(platform, failure, probe) for platform in PLATFORMS
      for failure, probe in ((fallback_refused, None), (read_back_fails, None),
                             (fallback_answers_late, SHORT_CLEANUP))],
]


def ids(row) -> str:
    return f"{row[0]}-{row[1].__name__}"


def assert_no_order(shop: FakeShop):
    assert shop.orders == [] and shop.order_calls() == []


@pytest.mark.parametrize("platform, failure, probe, step", EMPTIED, ids=map(ids, EMPTIED))
def test_a_failed_run_empties_its_cart_through_the_cleanup_and_places_no_order(platform, failure,
                                                                               probe, step):
    with serving(PLATFORMS[platform][0]()) as shop:
        failure(shop)
        prober = Prober(shop, platform, probe=ShopProbe(**probe) if probe else None)
        run = prober.run()
        shop.wait_idle()
        assert shop.STEP_ENDPOINTS["cleanup"] in {call.endpoint for call in shop.calls}
        assert shop.nonempty_carts() == 0
    assert run.result.error.startswith(f"{step}: "), run.result.error
    assert LEFT not in run.result.error
    assert prober.value("owl_shop_checkout_success", platform=platform) == 0
    assert prober.value("owl_shop_cart_left_nonempty") == 0
    assert_no_order(shop)


def assert_the_next_run_empties_every_cart(shop, prober):
    run = prober.run()
    assert run.result.success, run.result.error
    assert prober.value("owl_shop_cart_left_nonempty") == 0
    assert shop.nonempty_carts() == 0


@pytest.mark.parametrize("platform, failure, probe", REPORTED, ids=map(ids, REPORTED))
def test_a_cart_the_cleanup_cannot_empty_is_reported_then_emptied_by_the_next_run_it_can(
        platform, failure, probe):
    with serving(PLATFORMS[platform][0]()) as shop:
        failure(shop)
        prober = Prober(shop, platform, probe=ShopProbe(**probe) if probe else None)
        run = prober.run()
        assert not run.result.success
        assert run.result.error.endswith(LEFT), run.result.error
        assert prober.value("owl_shop_cart_left_nonempty") == 1
        assert prober.registry.get_sample_value(
            "owl_probe_success", {"probe": "shop", **SHOP}) == 0
        shop.repair()
        shop.wait_idle()
        assert_the_next_run_empties_every_cart(shop, prober)
    assert_no_order(shop)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_carts_left_by_two_runs_in_a_row_are_both_emptied_by_the_next_run_it_can(platform):
    with serving(PLATFORMS[platform][0]()) as shop:
        shop.fail_step("remove_item")
        shop.fail(shop.STEP_ENDPOINTS["cleanup"])  # the same endpoint but on WooCommerce
        prober = Prober(shop, platform)
        for _ in range(2):
            assert prober.run().result.error.endswith(LEFT)
        assert shop.nonempty_carts() == 2
        shop.repair()
        assert_the_next_run_empties_every_cart(shop, prober)
    assert_no_order(shop)


@pytest.mark.parametrize("platform", PLATFORMS)
def test_an_add_that_lands_after_its_timeout_and_the_cleanup_is_emptied_by_the_next_run(platform):
    with serving(PLATFORMS[platform][0]()) as shop:
        shop.slow_step("add_item", 2.0, times=1)  # the shop adds once the cleanup is over
        prober = Prober(shop, platform, probe=ShopProbe(**SHORT))
        assert prober.run().result.error.startswith("add_item: ")
        shop.wait_idle()
        assert shop.nonempty_carts() == 1
        assert_the_next_run_empties_every_cart(shop, prober)
    assert_no_order(shop)
