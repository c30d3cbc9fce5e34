"""Page tests: a browser-like Flask test client that signs in with a token and sends forms with
the CSRF token their page carries."""

from __future__ import annotations

import re
from html import unescape

CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = CSRF_FIELD.search(html)
    assert found, "the page has no form with a CSRF token"
    return unescape(found.group(1))


def page_text(response) -> str:
    """A page's HTML with its character references decoded (``&#39;`` as ``'``), for
    assertions on what it says."""
    return unescape(response.get_data(as_text=True))


def sign_in(client, token: str, remember: bool = False, next_path: str = "",
            environ_base: dict | None = None):
    """Sign ``client`` in with ``token`` through the sign-in form; the form's answer."""
    environ_base = environ_base or {}
    form_page = client.get("/signin", environ_base=environ_base)
    data = {"csrf_token": csrf_token(page_text(form_page)), "token": token, "next": next_path}
    if remember:
        data["remember"] = "y"
    return client.post("/signin", data=data, environ_base=environ_base)


def post_form(client, page_path: str, action: str, data: dict | None = None):
    """Send ``data`` to ``action`` as the form of ``page_path`` does, with its CSRF token."""
    token = csrf_token(page_text(client.get(page_path)))
    return client.post(action, data={"csrf_token": token, **(data or {})},
                       headers={"Referer": f"http://localhost{page_path}"})
