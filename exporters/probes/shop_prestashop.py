"""The PrestaShop cart flow (1.7 and 8), through the storefront's cart controller, as a visitor.

PrestaShop's webservice needs an API key that a shop does not hand out; the storefront's own
AJAX calls need none. The visitor's cart lives in the shop's session cookie, which the session
keeps, and write calls carry the page's ``prestashop.static_token``. All calls go to
``index.php?controller=cart`` (which works with or without friendly URLs):

- ``cart_create``: ``GET index.php?controller=cart&action=show``, the cart page: it opens the
  session (cookie) and gives the static token; PrestaShop creates the cart itself at the first add;
- ``add_item``: ``POST add=1&id_product=PRODUCT&qty=1&action=update&ajax=1&token=...``
  (``checkout.product`` is the numeric ``id_product``; PrestaShop picks the product's default
  combination); the cart in the JSON answer must hold the product, whose combination is kept;
- ``remove_item``: ``POST delete=1&id_product=..&id_product_attribute=..&action=update&ajax=1``;
- ``cart_empty``: ``POST action=update&ajax=1`` without a change, which answers with the cart:
  ``cart.products_count`` must be 0;
- cleanup: the same read, then ``delete=1`` for every line.

``payment_methods`` is not a PrestaShop step: its checkout shows the payment options only to a
customer with an address, and the probe creates neither (``payment_provider_url`` is still
checked). Never called: the ``order`` controller, and payment modules' controllers
(``fc=module``, ``validation``), which place orders.
"""

from __future__ import annotations

import re
from urllib.parse import urljoin

from exporters.probe import ProbeError
from exporters.probes.shop_cart import PaymentOptions, expect_ok, field
from exporters.probes.shop_http import ShopSession
from owl.inventory import Checkout

FORBIDDEN = (re.compile(r"controller=(order|validation)"), re.compile(r"fc=module"))
_STATIC_TOKEN = re.compile(r'"static_token"\s*:\s*"([0-9A-Za-z]+)"')
_AJAX = {"Accept": "application/json, text/javascript, */*; q=0.01",
         "X-Requested-With": "XMLHttpRequest"}


def check_checkout(checkout: Checkout):
    if not checkout.product.isdigit():
        raise ProbeError(f"checkout.product {checkout.product!r}: PrestaShop adds a product by "
                         "its numeric id_product")
    if checkout.payment_methods:
        raise ProbeError("checkout.payment_methods: PrestaShop shows its payment options only to "
                         "a customer with an address, which the probe does not create; remove "
                         "them (payment_provider_url is still checked)")


class PrestaShopCart:
    platform = "prestashop"
    steps = ("cart_create", "add_item", "remove_item", "cart_empty")
    forbidden = FORBIDDEN

    def __init__(self, session: ShopSession, site_url: str, checkout: Checkout):
        check_checkout(checkout)
        self.session = session
        self.front = urljoin(site_url if site_url.endswith("/") else site_url + "/", "index.php")
        self.product = checkout.product
        self.token: str | None = None
        self.attribute = "0"

    @property
    def _cart_url(self) -> str:
        return f"{self.front}?controller=cart"

    def _update(self, **form: str) -> dict:
        """POST to the cart controller; the answer's ``cart`` (PrestaShop's presented cart)."""
        answer = self.session.call("POST", self._cart_url, headers=_AJAX, form={
            **form, "action": "update", "ajax": "1", "token": self.token or ""})
        document = expect_ok(answer).json()
        where = f"POST {self._cart_url}"
        if not isinstance(document, dict):
            raise ProbeError(f"{where}: the answer is not the cart")
        if document.get("hasError"):
            errors = document.get("errors") or ["no message"]
            raise ProbeError(f"{where}: PrestaShop refused: {str(errors[0])[:160]}")
        return field(document, "cart", dict, where)

    def create(self) -> None:
        answer = expect_ok(self.session.call("GET", self._cart_url + "&action=show"))
        match = _STATIC_TOKEN.search(answer.text())
        if not match:
            raise ProbeError(f"GET {self._cart_url}&action=show: no prestashop.static_token in "
                             "the page (is it PrestaShop 1.7 or later?)")
        self.token = match.group(1)

    def add(self) -> None:
        cart = self._update(add="1", id_product=self.product, id_customization="0", qty="1")
        for line in self._lines(cart):
            if str(line.get("id_product")) == self.product:
                self.attribute = str(line.get("id_product_attribute") or "0")
                return
        raise ProbeError(f"POST {self._cart_url}: the cart does not hold product "
                         f"{self.product} afterwards")

    def payment_methods(self) -> PaymentOptions:
        raise ProbeError("PrestaShop's payment options are not probed")

    def remove(self) -> None:
        self._update(delete="1", id_product=self.product, id_product_attribute=self.attribute)

    def items(self) -> int:
        return field(self._update(), "products_count", int, f"POST {self._cart_url}")

    def empty(self) -> None:
        for line in self._lines(self._update()):
            self._update(delete="1", id_product=str(line.get("id_product")),
                         id_product_attribute=str(line.get("id_product_attribute") or "0"))

    def _lines(self, cart: dict) -> list[dict]:
        lines = field(cart, "products", list, f"POST {self._cart_url}")
        return [line for line in lines if isinstance(line, dict)]
