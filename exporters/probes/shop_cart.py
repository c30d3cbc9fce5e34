"""What a platform's cart flow offers the ``shop`` probe, and helpers the flows share.

A flow (:mod:`exporters.probes.shop_woocommerce`, :mod:`~exporters.probes.shop_magento`,
:mod:`~exporters.probes.shop_prestashop`) works on one cart through a
:class:`exporters.probes.shop_http.ShopSession`. Each method is one step of the critical path and
raises :class:`exporters.probe.ProbeError` when the shop does not do what a customer needs.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple, Protocol

from exporters.probe import ProbeError
from exporters.probes.shop_http import Answer, ShopSession

STEPS = ("cart_create", "add_item", "payment_methods", "remove_item", "cart_empty")


class PaymentOptions(NamedTuple):
    """The ids of the payment methods offered for a cart, and whether paying it needs one."""

    methods: list[str]
    needs_payment: bool


class CartFlow(Protocol):
    platform: str
    steps: tuple[str, ...]  # the steps of STEPS this platform can run, in that order
    forbidden: tuple[re.Pattern, ...]  # URLs that could place an order: never called
    session: ShopSession

    def create(self) -> None:
        """Get a cart (or the session that will hold it)."""

    def add(self) -> None:
        """Add one of the checkout's test product."""

    def payment_methods(self) -> PaymentOptions:
        """The payment methods offered for this cart."""

    def remove(self) -> None:
        """Remove the line that :meth:`add` created."""

    def items(self) -> int:
        """How many items the cart holds now."""

    def empty(self) -> None:
        """Remove whatever the cart holds (the cleanup, after a failed step)."""


def expect_ok(answer: Answer, detail: str = "") -> Answer:
    """``answer`` if it is a 2xx, else a ProbeError with the status and the shop's message."""
    if answer.ok:
        return answer
    message = detail or _message(answer)
    raise ProbeError(f"{answer.method} {answer.url}: HTTP {answer.status}"
                     + (f" ({message})" if message else ""))


def _message(answer: Answer) -> str:
    """The ``message`` of a JSON error (WooCommerce, Magento), short; empty otherwise."""
    try:
        document = answer.json()
    except ProbeError:
        return ""
    message = document.get("message") if isinstance(document, dict) else None
    if not isinstance(message, str):
        return ""
    return message if len(message) <= 160 else message[:157] + "..."


def field(document: Any, path: str, kind: type | tuple[type, ...], where: str) -> Any:
    """``document[a][b]...`` for ``path`` ``"a.b"``, checked to be of ``kind``; a ProbeError
    naming ``where`` and the field otherwise."""
    value = document
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            raise ProbeError(f"{where}: the answer has no {path}")
        value = value[key]
    if isinstance(value, bool) and bool not in (kind if isinstance(kind, tuple) else (kind,)):
        raise ProbeError(f"{where}: {path} is {value!r}, not the expected type")
    if not isinstance(value, kind):
        raise ProbeError(f"{where}: {path} is {type(value).__name__}, not the expected type")
    return value
