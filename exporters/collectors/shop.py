"""What the ``shop`` probe found on each site's critical path."""

from __future__ import annotations

from typing import Iterable

from exporters.collectors import SITE, CacheCollector, Gauge


class ShopCollector(CacheCollector):
    """Series of the latest ``shop`` run on each site with a checkout (tier 3 and up).

    - ``owl_shop_step_success{client, site, platform, step}``: 1/0 per step that ran (``step`` =
      ``cart_create`` | ``add_item`` | ``payment_methods`` | ``remove_item`` | ``cart_empty``;
      ``platform`` = ``woocommerce`` | ``prestashop`` | ``magento``). A step that could not run
      after an earlier failure has no series.
    - ``owl_shop_step_duration_seconds{client, site, platform, step}``: how long it took.
    - ``owl_shop_checkout_success{client, site, platform}``: 1 if every step of the platform ran
      and passed (PrestaShop has no ``payment_methods`` step).
    - ``owl_shop_payment_method_available{client, site, method}``: 1/0 per method of
      ``checkout.payment_methods``, when the ``payment_methods`` step ran.
    - ``owl_shop_payment_provider_up{client, site}``: 1 if ``checkout.payment_provider_url``
      answered 2xx or 3xx (no series without it).
    - ``owl_shop_cart_left_nonempty{client, site}``: 1 while a test cart could not be emptied
      (the next runs keep trying): it needs a human.

    Nothing is exported for a run that did not report (a bug, or past its timeout): see
    ``owl_probe_success{probe="shop"}``.
    """

    @staticmethod
    def families() -> tuple[Gauge, ...]:
        step = (*SITE, "platform", "step")
        return (
            Gauge("owl_shop_step_success",
                  "Whether the step of the shop's critical path passed.", step),
            Gauge("owl_shop_step_duration_seconds",
                  "How long the step of the shop's critical path took.", step),
            Gauge("owl_shop_checkout_success",
                  "Whether every step of the shop's critical path passed.", (*SITE, "platform")),
            Gauge("owl_shop_payment_method_available",
                  "Whether the expected payment method is offered at checkout.",
                  (*SITE, "method")),
            Gauge("owl_shop_payment_provider_up",
                  "Whether the payment provider's script or page answered.", SITE),
            Gauge("owl_shop_cart_left_nonempty",
                  "Whether a test cart could not be emptied and needs a human.", SITE),
        )

    def collect(self) -> Iterable[Gauge]:
        step_success, step_duration, checkout, method, provider, left = families = \
            self.families()
        for run in self.cache.runs("shop"):
            report = run.result.data
            if report is None:
                continue
            labels = run.target.labels()
            platform = {**labels, "platform": report.platform}
            for step in report.steps:
                step_success.add({**platform, "step": step.name}, 1 if step.success else 0)
                step_duration.add({**platform, "step": step.name}, step.duration)
            checkout.add(platform, 1 if report.checkout_success else 0)
            for name, offered in report.payment_methods.items():
                method.add({**labels, "method": name}, 1 if offered else 0)
            if report.payment_provider_up is not None:
                provider.add(labels, 1 if report.payment_provider_up else 0)
            left.add(labels, 1 if report.cart_left_nonempty else 0)
        return families
