"""The WooCommerce cart flow, through the Store API (``/wp-json/wc/store/v1/``, WooCommerce 8+).

The Store API is the public API of WooCommerce's cart and checkout blocks: no credentials. A cart
is identified by the ``Cart-Token`` header of the first answer, and write requests carry the
``Nonce`` header of the latest answer (older versions name it ``X-WC-Store-API-Nonce``; the
session's cookies are kept too).

- ``cart_create``: ``GET cart`` (a new, empty cart; its token and nonce are kept);
- ``add_item``: ``POST cart/add-item {"id": PRODUCT, "quantity": 1}``; the cart must then hold
  the product (``checkout.product`` is the numeric product or variation id);
- ``payment_methods``: ``GET cart``, whose ``payment_methods`` lists the ids of the gateways
  offered for this cart and ``needs_payment`` says whether it needs one (false for a free cart)
  (``GET checkout`` is never used: it creates a draft order);
- ``remove_item``: ``POST cart/remove-item {"key": ITEM_KEY}``;
- ``cart_empty``: ``GET cart``, ``items_count`` must be 0;
- cleanup: ``DELETE cart/items`` (every item).

Never called: ``checkout`` (the Store API's order endpoint, also its ``GET``) and the REST API's
``orders``.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from exporters.probe import ProbeError
from exporters.probes.shop_cart import STEPS, PaymentOptions, expect_ok, field
from exporters.probes.shop_http import ShopSession
from owl.inventory import Checkout

FORBIDDEN = (re.compile(r"/wc/store(/v\d+)?/(checkout|order)"), re.compile(r"/wc/v\d+/orders"))
_TOKEN_HEADERS = ("Cart-Token", "Nonce", "X-WC-Store-API-Nonce")


def product_id(checkout: Checkout) -> int:
    if not checkout.product.isdigit():
        raise ProbeError(f"checkout.product {checkout.product!r}: WooCommerce's Store API adds "
                         "a product by its numeric id (a variation's id for a variable product)")
    return int(checkout.product)


class WooCommerceCart:
    platform = "woocommerce"
    steps = STEPS
    forbidden = FORBIDDEN

    def __init__(self, session: ShopSession, site_url: str, checkout: Checkout):
        self.session = session
        self.api = urljoin(site_url if site_url.endswith("/") else site_url + "/",
                           "wp-json/wc/store/v1/")
        self.product = product_id(checkout)
        self.headers: dict[str, str] = {"Accept": "application/json"}
        self.item_key: str | None = None

    def _call(self, method: str, path: str, body=None) -> object:
        answer = self.session.call(method, self.api + path, json_body=body, headers=self.headers)
        for name in _TOKEN_HEADERS:
            if answer.headers.get(name):
                self.headers[name] = answer.headers[name]
        return expect_ok(answer).json()

    def _cart(self, method: str = "GET", path: str = "cart", body=None) -> dict:
        cart = self._call(method, path, body)
        if not isinstance(cart, dict):
            raise ProbeError(f"{method} {self.api}{path}: the answer is not a cart")
        return cart

    def create(self) -> None:
        self._cart()

    def add(self) -> None:
        where = f"POST {self.api}cart/add-item"
        cart = self._cart("POST", "cart/add-item", {"id": self.product, "quantity": 1})
        for item in field(cart, "items", list, where):
            if isinstance(item, dict) and item.get("id") == self.product:
                self.item_key = field(item, "key", str, where)
                return
        raise ProbeError(f"{where}: the cart does not hold product {self.product} afterwards")

    def payment_methods(self) -> PaymentOptions:
        cart, where = self._cart(), f"GET {self.api}cart"
        methods = field(cart, "payment_methods", list, where)
        return PaymentOptions([method for method in methods if isinstance(method, str)],
                              field(cart, "needs_payment", bool, where))

    def remove(self) -> None:
        self._cart("POST", "cart/remove-item", {"key": self.item_key})

    def items(self) -> int:
        return field(self._cart(), "items_count", int, f"GET {self.api}cart")

    def empty(self) -> None:
        self._call("DELETE", "cart/items")
