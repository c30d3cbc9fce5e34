"""The demo site that ``owl up`` monitors, and the switch that takes it down to show an incident.

One WSGI app (waitress, default 127.0.0.1:9182) imitates two client sites:

- ``shop`` at ``/``: a WordPress 6 + WooCommerce shop (generator meta tags, RSS feed at ``/feed/``
  with its generator, core assets under ``/wp-includes/`` with ``?ver=``);
- ``acme`` at ``/acme/``: a small Drupal 10 site (generator meta tag and ``X-Generator`` header).

The shop also answers the cart routes of WooCommerce's Store API (``/wp-json/wc/store/v1/``:
``GET cart``, ``POST cart/add-item``, ``POST cart/remove-item``, ``DELETE cart/items``), enough
for the ``shop`` probe's critical path: carts in memory by ``Cart-Token``, write requests checked
against the cart's ``Nonce``, the payment methods of :data:`PAYMENT_METHODS`. It has no checkout
route: the demo takes no orders.

``owl demo break --site S`` creates the flag file ``STATE/demo/S.broken``; the app looks for it on
every request and answers 503 for that site while it exists. ``owl demo repair`` removes it. There
is no control endpoint: whoever can reach the site cannot break it.

``owl demo mail`` runs the mail catcher of :mod:`owl_commands.mailcatcher`, where the demo's mail goes.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import threading
from pathlib import Path
from string import Template
from wsgiref.util import application_uri

from owl.state import add_state_option

DEFAULT_LISTEN_ADDRESS = "127.0.0.1:9182"
DEFAULT_SMTP_ADDRESS = "127.0.0.1:2525"
DEFAULT_MAIL_HEALTH_ADDRESS = "127.0.0.1:9183"
SITES = ("shop", "acme")
DEFAULT_SITE = "shop"
WORDPRESS_VERSION = "6.8.1"
WOOCOMMERCE_VERSION = "9.8.5"
DRUPAL_GENERATOR = "Drupal 10 (https://www.drupal.org)"

_SHOP_HOME = Template("""<!DOCTYPE html>
<html lang="fr-FR">
<head>
<meta charset="UTF-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Demo Boutique &#8211; Boutique de démonstration</title>
<link rel="alternate" type="application/rss+xml" title="Demo Boutique &raquo; Flux"
  href="${base}feed/" />
<link rel='stylesheet' id='wp-block-library-css' media='all'
  href='${base}wp-includes/css/dist/block-library/style.min.css?ver=${wp}' />
<link rel='stylesheet' id='woocommerce-general-css' media='all'
  href='${base}wp-content/plugins/woocommerce/assets/css/woocommerce.css?ver=${wc}' />
<script src="${base}wp-includes/js/jquery/jquery.min.js?ver=3.7.1" id="jquery-core-js"></script>
<link rel="canonical" href="${base}" />
<meta name="generator" content="WordPress ${wp}" />
<meta name="generator" content="WooCommerce ${wc}" />
</head>
<body class="home page-template-default page woocommerce-shop woocommerce">
<header><a href="${base}">Demo Boutique</a></header>
<main>
<h1>Boutique</h1>
<ul class="products columns-3">
<li class="product"><a href="${base}produit/mug-hibou/">Mug hibou</a>
  <span class="price">12,00&nbsp;&euro;</span></li>
<li class="product"><a href="${base}produit/t-shirt-owl/">T-shirt OWL</a>
  <span class="price">25,00&nbsp;&euro;</span></li>
</ul>
</main>
<script src="${base}wp-includes/js/wp-emoji-release.min.js?ver=${wp}" id="wp-emoji-js"></script>
</body>
</html>
""")

_SHOP_FEED = Template("""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0">
<channel>
<title>Demo Boutique</title>
<link>${base}</link>
<description>Boutique de démonstration</description>
<language>fr-FR</language>
<generator>https://wordpress.org/?v=${wp}</generator>
<item><title>Bienvenue</title><link>${base}bienvenue/</link></item>
</channel>
</rss>
""")

_ACME_HOME = Template("""<!DOCTYPE html>
<html lang="fr" dir="ltr">
<head>
<meta charset="utf-8" />
<meta name="Generator" content="${drupal}" />
<meta name="MobileOptimized" content="width" />
<title>Accueil | ACME SARL</title>
<link rel="stylesheet" media="all"
  href="${base}acme/core/themes/olivero/css/base/base.css?t0wnr1" />
</head>
<body class="path-frontpage">
<main><h1>ACME SARL</h1><p>Fournitures industrielles depuis 1987.</p></main>
</body>
</html>
""")


_ASSET = Template("/* demo asset */\n")
_HTML = "text/html; charset=UTF-8"
# path -> (body template, content type, extra headers)
_PAGES = {
    "/": (_SHOP_HOME, _HTML, ()),
    "/feed/": (_SHOP_FEED, "application/rss+xml; charset=UTF-8", ()),
    "/wp-includes/css/dist/block-library/style.min.css": (_ASSET, "text/css", ()),
    "/wp-content/plugins/woocommerce/assets/css/woocommerce.css": (_ASSET, "text/css", ()),
    "/wp-includes/js/jquery/jquery.min.js": (_ASSET, "text/javascript", ()),
    "/wp-includes/js/wp-emoji-release.min.js": (_ASSET, "text/javascript", ()),
    "/acme/": (_ACME_HOME, _HTML, (("X-Generator", DRUPAL_GENERATOR),)),
    "/acme/core/themes/olivero/css/base/base.css": (_ASSET, "text/css", ()),
}


STORE_API = "/wp-json/wc/store/v1/"
PRODUCTS = {42: "Mug hibou", 43: "T-shirt OWL"}
PAYMENT_METHODS = ("bacs", "cheque")
_JSON = "application/json; charset=UTF-8"


class StoreApi:
    """The Store API's cart routes for the demo shop; at most :attr:`MAX_CARTS` carts with items
    are kept (the oldest go first), so that requests cannot fill the memory."""

    MAX_CARTS = 100

    def __init__(self):
        self._secret = secrets.token_bytes(16)
        self._lock = threading.Lock()
        self._carts: dict[str, dict[str, dict]] = {}  # token -> item key -> item

    def _nonce(self, token: str) -> str:
        return hmac.new(self._secret, token.encode(), hashlib.sha256).hexdigest()[:10]

    def __call__(self, environ, start_response):
        route = (environ["REQUEST_METHOD"], environ.get("PATH_INFO", "")[len(STORE_API):])
        token = environ.get("HTTP_CART_TOKEN") or ""
        if not token.startswith("demo-"):
            token = "demo-" + secrets.token_hex(12)
        if route == ("GET", "cart"):
            status, body = 200, None
        elif route in {("POST", "cart/add-item"), ("POST", "cart/remove-item"),
                       ("DELETE", "cart/items")}:
            if not hmac.compare_digest(environ.get("HTTP_NONCE", ""), self._nonce(token)):
                status, body = 401, {"code": "woocommerce_rest_missing_nonce",
                                     "message": "Missing the Nonce header.",
                                     "data": {"status": 401}}
            else:
                status, body = self._write(route[1], token, _json_body(environ))
        else:
            status, body = 404, {"code": "rest_no_route", "data": {"status": 404},
                                 "message": "No route was found matching the URL and method."}
        if body is None:
            body = self._cart(token)
        start_response(f"{status} {_REASONS[status]}", [
            ("Content-Type", _JSON), ("Cart-Token", token), ("Nonce", self._nonce(token))])
        return [json.dumps(body).encode()]

    def _write(self, action: str, token: str, body: dict):
        with self._lock:
            items = self._carts.pop(token, {})
            result = 200, None
            if action == "cart/add-item":
                if body.get("id") not in PRODUCTS:
                    result = 400, {"code": "woocommerce_rest_cart_invalid_product",
                                   "message": "This product cannot be added to the cart.",
                                   "data": {"status": 400}}
                else:
                    key = secrets.token_hex(16)
                    items[key] = {"key": key, "id": body["id"], "quantity": 1,
                                  "name": PRODUCTS[body["id"]]}
                    result = 201, None
            elif action == "cart/remove-item" and items.pop(body.get("key"), None) is None:
                result = 409, {"code": "woocommerce_rest_cart_invalid_key",
                               "message": "Cart item no longer exists or is invalid.",
                               "data": {"status": 409}}
            elif action == "cart/items":
                items, result = {}, (200, [])
            if items:
                self._carts[token] = items
                while len(self._carts) > self.MAX_CARTS:
                    del self._carts[next(iter(self._carts))]
        return result

    def _cart(self, token: str) -> dict:
        with self._lock:
            items = list(self._carts.get(token, {}).values())
        return {"items": items, "items_count": sum(item["quantity"] for item in items),
                "needs_payment": bool(items), "payment_methods": list(PAYMENT_METHODS),
                "totals": {"currency_code": "EUR"}}


_REASONS = {200: "OK", 201: "Created", 400: "Bad Request", 401: "Unauthorized",
            404: "Not Found", 409: "Conflict"}


def _json_body(environ) -> dict:
    try:
        length = min(int(environ.get("CONTENT_LENGTH") or 0), 64 * 1024)
        body = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except (ValueError, OSError):
        return {}
    return body if isinstance(body, dict) else {}


def site_of(path: str) -> str:
    """Which demo site a request path belongs to."""
    return "acme" if path == "/acme" or path.startswith("/acme/") else "shop"


def flag_file(state_dir: str | Path, site: str) -> Path:
    return Path(state_dir) / "demo" / f"{site}.broken"


def is_broken(state_dir: str | Path, site: str) -> bool:
    return flag_file(state_dir, site).exists()


def break_site(state_dir: str | Path, site: str = DEFAULT_SITE) -> bool:
    """Make ``site`` answer 503; False if it already did."""
    flag = flag_file(state_dir, site)
    if flag.exists():
        return False
    flag.parent.mkdir(parents=True, exist_ok=True)
    flag.write_text("broken by owl demo break\n", encoding="utf-8")
    return True


def repair_site(state_dir: str | Path, site: str = DEFAULT_SITE) -> bool:
    """Make ``site`` answer normally again; False if it was not broken."""
    flag = flag_file(state_dir, site)
    if not flag.exists():
        return False
    flag.unlink()
    return True


# A well-kept site sends these: the demo stays quiet until `owl demo break`.
SECURITY_HEADERS = (
    ("Strict-Transport-Security", "max-age=31536000"),
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'self'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
)


def make_app(state_dir: str | Path):
    """The demo site's WSGI app; reads the break flags of ``state_dir`` on every request."""
    store = StoreApi()

    def app(environ, start_response):
        path = environ.get("PATH_INFO") or "/"
        if is_broken(state_dir, site_of(path)):
            start_response("503 Service Unavailable", [("Content-Type", _HTML),
                                                       ("Retry-After", "120")])
            return [b"<h1>Service Unavailable</h1><p>owl demo break</p>\n"]
        if path.startswith(STORE_API):
            return store(environ, start_response)
        if path not in _PAGES:
            start_response("404 Not Found", [("Content-Type", _HTML)])
            return [b"<h1>Not Found</h1>\n"]
        template, content_type, headers = _PAGES[path]
        body = template.substitute(base=application_uri(environ), wp=WORDPRESS_VERSION,
                                   wc=WOOCOMMERCE_VERSION, drupal=DRUPAL_GENERATOR)
        start_response("200 OK", [("Content-Type", content_type), *headers,
                                  *SECURITY_HEADERS])
        return [body.encode("utf-8")]

    return app


def register(subparsers):
    demo = subparsers.add_parser("demo", help="the demo site, its break/repair switch and the "
                                 "mail catcher")
    commands = demo.add_subparsers(dest="demo_command", required=True, metavar="COMMAND")
    site = commands.add_parser("site", help="serve the demo sites (shop at /, acme at /acme/)")
    site.add_argument("--web.listen-address", dest="listen_address",
                      default=DEFAULT_LISTEN_ADDRESS, metavar="HOST:PORT",
                      help=f"where to serve (default: {DEFAULT_LISTEN_ADDRESS})")
    site.set_defaults(handler=_serve)
    for name, handler, verb in (("break", _break, "make a demo site answer 503"),
                                ("repair", _repair, "make a broken demo site answer again")):
        command = commands.add_parser(name, help=verb)
        command.add_argument("--site", choices=SITES, default=DEFAULT_SITE,
                             help=f"which demo site (default: {DEFAULT_SITE})")
        command.set_defaults(handler=handler)
    mail = commands.add_parser("mail", help="catch the stack's mail: one .eml file per message "
                               "in DIR/mail/ (owl up runs it)")
    mail.add_argument("--smtp.listen-address", dest="smtp_address",
                      default=DEFAULT_SMTP_ADDRESS, metavar="HOST:PORT",
                      help=f"where to accept mail (default: {DEFAULT_SMTP_ADDRESS})")
    mail.add_argument("--web.listen-address", dest="listen_address",
                      default=DEFAULT_MAIL_HEALTH_ADDRESS, metavar="HOST:PORT",
                      help="where to answer /healthz once mail is accepted "
                      f"(default: {DEFAULT_MAIL_HEALTH_ADDRESS})")
    mail.set_defaults(handler=_catch_mail)
    listed = commands.add_parser("inbox", help="list the mail caught in DIR/mail/: recipient, "
                                 "subject and the console links each holds (decoded)")
    listed.set_defaults(handler=_inbox)
    for command in commands.choices.values():
        add_state_option(command, "state folder: break flags in DIR/demo/, mail in DIR/mail/")


def _serve(args) -> int:
    from waitress import serve

    print(f"demo sites: shop on http://{args.listen_address}/, acme on "
          f"http://{args.listen_address}/acme/; break flags in {flag_file(args.state, '*')}",
          flush=True)
    serve(make_app(args.state), listen=args.listen_address, threads=4)
    return 0


def _catch_mail(args) -> int:
    from owl_commands.mailcatcher import serve

    return serve(args.smtp_address, args.listen_address, args.state)


def _inbox(args) -> int:
    from owl_commands.mailcatcher import inbox, mail_folder

    folder = mail_folder(args.state)
    caught = inbox(folder) if folder.is_dir() else []
    if not caught:
        print(f"no mail caught in {folder}")
    for message in caught:
        print(f"{message.name}  to {message.to}\n  {message.subject}")
        for link in message.links:
            print(f"  {link}")
    return 0


def _break(args) -> int:
    flag = flag_file(args.state, args.site)
    if break_site(args.state, args.site):
        print(f"demo site {args.site} is broken: it answers 503 until "
              f"`owl demo repair --site {args.site}` (created {flag})")
    else:
        print(f"demo site {args.site} was already broken ({flag} exists): nothing changed")
    return 0


def _repair(args) -> int:
    flag = flag_file(args.state, args.site)
    if repair_site(args.state, args.site):
        print(f"demo site {args.site} is repaired: it answers normally again (removed {flag})")
    else:
        print(f"demo site {args.site} was not broken ({flag} does not exist): nothing changed")
    return 0
