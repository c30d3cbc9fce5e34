"""The ``shop`` probe (tier 3 and up, sites with ``checkout``): the e-commerce critical path.

A run takes the path of a customer up to the payment choice, with the platform's cart flow
(:mod:`exporters.probes.shop_woocommerce`, :mod:`~exporters.probes.shop_magento`,
:mod:`~exporters.probes.shop_prestashop`): ``cart_create``, ``add_item`` (one of
``checkout.product``), ``payment_methods`` (a cart that needs payment must offer at least one
method, and each of ``checkout.payment_methods`` must be offered),
``remove_item``, ``cart_empty`` (the cart is read back: it must hold nothing). Each step is timed.
After a failed ``cart_create`` nothing else can run; after a failed ``add_item``, only
``cart_empty`` (an add that failed may still have added). Then ``payment_provider_url``, if
given, must answer 2xx or 3xx.

It never places an order (the flows never call an order endpoint, and the HTTP session refuses
them), and it always leaves the cart empty: whenever ``cart_empty`` did not pass, whatever
failed (an error, a timeout, a bug), the cleanup empties the cart with its own time budget and
reads it back. A cart it could not empty is reported (``cart_left_nonempty``) and kept, with
the carts of earlier runs still left: the next runs try to empty them again first, oldest first,
until they manage. The cart of a failed ``add_item`` is kept too, even emptied (and not
reported): a request the run gave up on may still be served, and add the item after the cleanup.

A run succeeds when every step of the platform passed and no cart is left with items.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

import requests

from exporters.probe import ProbeError, ProbeKind, ProbeResult
from exporters.probes.http import USER_AGENT
from exporters.probes.shop_cart import CartFlow
from exporters.probes.shop_http import ShopSession
from exporters.probes.shop_magento import MagentoCart
from exporters.probes.shop_prestashop import PrestaShopCart
from exporters.probes.shop_woocommerce import WooCommerceCart
from exporters.targets import Target
from owl.inventory import DEFAULT_PROBE_INTERVALS

log = logging.getLogger(__name__)

FLOWS: dict[str, type] = {"woocommerce": WooCommerceCart, "magento": MagentoCart,
                          "prestashop": PrestaShopCart}
INTERVAL = DEFAULT_PROBE_INTERVALS["shop"]
STEPS_TIMEOUT = 20.0  # every step of a run together
CLEANUP_TIMEOUT = 10.0  # emptying a cart after a failure, and emptying a cart left before
PROVIDER_TIMEOUT = 5.0
MIN_TIER = 3


@dataclass(frozen=True)
class StepResult:
    name: str
    success: bool
    duration: float
    error: str = ""


@dataclass(frozen=True)
class ShopReport:
    """What a run found. ``payment_methods``: each expected method, offered or not (empty when
    the step did not run); ``payment_provider_up`` is None without ``payment_provider_url``."""

    platform: str
    expected_steps: tuple[str, ...]
    steps: tuple[StepResult, ...]
    payment_methods: dict[str, bool] = field(default_factory=dict)
    payment_provider_up: bool | None = None
    cart_left_nonempty: bool = False

    @property
    def checkout_success(self) -> bool:
        passed = {step.name for step in self.steps if step.success}
        return passed == set(self.expected_steps)

    @property
    def error(self) -> str:
        problems = [f"{step.name}: {step.error}" for step in self.steps if not step.success]
        if self.cart_left_nonempty:
            problems.append("a test cart could not be emptied (owl_shop_cart_left_nonempty)")
        return "; ".join(problems)


class _Steps:
    """Runs steps in order, timing each; a step that raises is a failed step, never an escape."""

    def __init__(self, monotonic: Callable[[], float]):
        self._monotonic = monotonic
        self.results: list[StepResult] = []

    def run(self, name: str, action: Callable[[], object]) -> bool:
        start = self._monotonic()
        try:
            action()
            error = ""
        except ProbeError as exc:
            error = str(exc)
        except Exception as exc:  # a bug in a flow must not skip the cleanup
            log.exception("shop step %s raised", name)
            error = f"{type(exc).__name__}: {exc}"
        self.results.append(StepResult(name, not error, self._monotonic() - start, error))
        return not error

    def passed(self, name: str) -> bool:
        return any(step.name == name and step.success for step in self.results)

    def failed(self, name: str) -> bool:
        return any(step.name == name and not step.success for step in self.results)


def has_checkout(target: Target) -> bool:
    return target.site.checkout is not None


class ShopProbe:
    """Runs of the ``shop`` probe; keeps the carts it could not empty, to empty them later."""

    def __init__(self, steps_timeout: float = STEPS_TIMEOUT,
                 cleanup_timeout: float = CLEANUP_TIMEOUT,
                 provider_timeout: float = PROVIDER_TIMEOUT,
                 monotonic: Callable[[], float] = time.monotonic):
        self.steps_timeout = steps_timeout
        self.cleanup_timeout = cleanup_timeout
        self.provider_timeout = provider_timeout
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._left: dict[str, list[CartFlow]] = {}  # target key -> the carts to empty, oldest first

    def __call__(self, target: Target) -> ProbeResult:
        site, checkout = target.site, target.site.checkout
        flow_class = FLOWS[site.shop]
        session = ShopSession(self.steps_timeout, flow_class.forbidden)
        flow = flow_class(session, site.url, checkout)  # ProbeError on a checkout it cannot run
        left_before = self._empty_left_carts(target.key)
        steps = _Steps(self._monotonic)
        offered: dict[str, bool] = {}
        try:
            self._walk(flow, checkout.payment_methods, steps, offered)
        finally:
            left_now = not steps.passed("cart_empty") and steps.passed("cart_create") \
                and not self._cleanup(flow)
            session.close()
            if left_now or steps.failed("add_item"):
                self._keep(target.key, [flow])
        provider = None
        if checkout.payment_provider_url:
            provider = provider_up(checkout.payment_provider_url, self.provider_timeout)
        report = ShopReport(flow.platform, flow.steps, tuple(steps.results), offered, provider,
                            left_before or left_now)
        return ProbeResult(report.checkout_success and not report.cart_left_nonempty, report,
                           report.error)

    def _walk(self, flow: CartFlow, expected: list[str], steps: _Steps,
              offered: dict[str, bool]):
        if not steps.run("cart_create", flow.create):
            return
        if steps.run("add_item", flow.add):
            if "payment_methods" in flow.steps:
                steps.run("payment_methods", lambda: _check_methods(flow, expected, offered))
            steps.run("remove_item", flow.remove)
        steps.run("cart_empty", lambda: _require_empty(flow))

    def _cleanup(self, flow: CartFlow) -> bool:
        """Empty the cart with a fresh time budget; True if it reads back empty.

        Only the read-back decides: a removal may fail because a request that timed out earlier
        removed the item in the meantime.
        """
        flow.session.renew(self.cleanup_timeout)
        try:
            flow.empty()
        except Exception as exc:
            log.info("shop %s: emptying the test cart: %s", flow.platform, exc)
        try:
            return flow.items() == 0
        except Exception as exc:
            log.warning("shop %s: could not read the test cart back: %s", flow.platform, exc)
            return False

    def _empty_left_carts(self, key: str) -> bool:
        """Try again to empty the carts earlier runs kept; True if one still holds items.

        It stops at the first it cannot empty (the shop still refuses): one cleanup's time at
        most is spent on a cart that stays.
        """
        with self._lock:
            flows = self._left.pop(key, [])
        for index, flow in enumerate(flows):
            emptied = self._cleanup(flow)
            flow.session.close()
            if not emptied:
                self._keep(key, flows[index:])
                return True
            log.info("shop %s: a test cart of an earlier run reads back empty", key)
        return False

    def _keep(self, key: str, flows: list[CartFlow]):
        """Keep the carts of ``flows`` to empty at the next run, after those already kept."""
        with self._lock:
            self._left[key] = self._left.get(key, []) + flows


def _check_methods(flow: CartFlow, expected: list[str], offered: dict[str, bool]):
    options = flow.payment_methods()
    available = set(options.methods)
    offered.update({method: method in available for method in expected})
    if options.needs_payment and not available:
        raise ProbeError("the cart needs payment and no payment method is offered")
    missing = [method for method in expected if method not in available]
    if missing:
        raise ProbeError("payment methods not offered: " + ", ".join(missing))


def _require_empty(flow: CartFlow):
    count = flow.items()
    if count:
        raise ProbeError(f"the cart still holds {count} item(s)")


def provider_up(url: str, timeout: float) -> bool:
    """True if ``url`` answers 2xx or 3xx within ``timeout`` (redirects are not followed)."""
    try:
        with requests.get(url, timeout=timeout, allow_redirects=False, stream=True,
                          headers={"User-Agent": USER_AGENT}) as response:
            return 200 <= response.status_code < 400
    except requests.RequestException as exc:
        log.info("payment provider %s: %s", url, exc)
        return False


def shop_probe(interval: dt.timedelta = INTERVAL, probe: ShopProbe | None = None) -> ProbeKind:
    probe = probe or ShopProbe()
    # the steps, the cleanup, a left cart's cleanup and the provider, with a margin
    timeout = probe.steps_timeout + 2 * probe.cleanup_timeout + probe.provider_timeout + 5
    return ProbeKind("shop", probe, interval, timeout, min_tier=MIN_TIER, wants=has_checkout)


def shop_kind(context) -> ProbeKind:
    """The ``shop`` kind on sites with a checkout of tier 3 and up, on the inventory's schedule."""
    return shop_probe().scheduled(context.schedule("shop"))
