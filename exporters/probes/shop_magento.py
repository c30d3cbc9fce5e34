"""The Magento 2 (Adobe Commerce) cart flow, through the REST API's guest cart (``/rest/V1/``).

Guest carts need no credentials; they are what the storefront uses for a visitor. The default
store view answers on ``/rest/V1/``.

- ``cart_create``: ``POST guest-carts``, answered with the cart's masked id;
- ``add_item``: ``POST guest-carts/ID/items {"cartItem": {"sku": PRODUCT, "qty": 1,
  "quote_id": ID}}`` (``checkout.product`` is the product's SKU), answered with the item's
  ``item_id``;
- ``payment_methods``: ``GET guest-carts/ID/payment-methods``, the ``code`` of each method; a
  cart always needs one (Magento places no order without, and offers ``free`` for a zero total);
- ``remove_item``: ``DELETE guest-carts/ID/items/ITEM_ID``;
- ``cart_empty``: ``GET guest-carts/ID/items`` must be an empty list;
- cleanup: ``GET guest-carts/ID/items``, then ``DELETE`` each.

Never called: ``guest-carts/ID/order``, ``guest-carts/ID/payment-information`` (both place the
order), the same under ``carts/``, and ``orders``. The emptied guest cart stays in Magento's
``quote`` table until its cron job cleans old quotes, as a visitor's abandoned cart does.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urljoin

from exporters.probe import ProbeError
from exporters.probes.shop_cart import STEPS, PaymentOptions, expect_ok, field
from exporters.probes.shop_http import ShopSession
from owl.inventory import Checkout

FORBIDDEN = (re.compile(r"/carts/[^/?]+/(order|payment-information|set-payment-information)"),
             re.compile(r"/V1/orders?\b"))


class MagentoCart:
    platform = "magento"
    steps = STEPS
    forbidden = FORBIDDEN

    def __init__(self, session: ShopSession, site_url: str, checkout: Checkout):
        self.session = session
        self.api = urljoin(site_url if site_url.endswith("/") else site_url + "/", "rest/V1/")
        self.sku = checkout.product
        self.cart_id: str | None = None
        self.item_id: int | None = None

    def _call(self, method: str, path: str, body=None):
        answer = self.session.call(method, self.api + path, json_body=body,
                                   headers={"Accept": "application/json"})
        return expect_ok(answer).json()

    @property
    def _cart_path(self) -> str:
        return f"guest-carts/{quote(self.cart_id, safe='')}"

    def create(self) -> None:
        cart_id = self._call("POST", "guest-carts")
        if not isinstance(cart_id, str) or not cart_id:
            raise ProbeError(f"POST {self.api}guest-carts: the answer is not a cart id")
        self.cart_id = cart_id

    def add(self) -> None:
        path = f"{self._cart_path}/items"
        item = self._call("POST", path, {"cartItem": {"sku": self.sku, "qty": 1,
                                                      "quote_id": self.cart_id}})
        self.item_id = field(item, "item_id", int, f"POST {self.api}{path}")

    def payment_methods(self) -> PaymentOptions:
        path = f"{self._cart_path}/payment-methods"
        methods = self._call("GET", path)
        if not isinstance(methods, list):
            raise ProbeError(f"GET {self.api}{path}: the answer is not a list of methods")
        return PaymentOptions([field(method, "code", str, f"GET {self.api}{path}")
                               for method in methods], needs_payment=True)

    def remove(self) -> None:
        self._call("DELETE", f"{self._cart_path}/items/{self.item_id}")

    def _items(self) -> list:
        path = f"{self._cart_path}/items"
        items = self._call("GET", path)
        if not isinstance(items, list):
            raise ProbeError(f"GET {self.api}{path}: the answer is not a list of items")
        return items

    def items(self) -> int:
        return len(self._items())

    def empty(self) -> None:
        for item in self._items():
            item_id = field(item, "item_id", int, f"GET {self.api}{self._cart_path}/items")
            self._call("DELETE", f"{self._cart_path}/items/{item_id}")
