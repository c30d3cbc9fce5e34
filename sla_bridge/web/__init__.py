"""The console (operators) and the portal (clients): server-rendered pages inside the bridge.

Pages are Flask blueprints with Jinja2 templates, in French through the Flask-Babel catalogue of
``translations/``; every form is CSRF-protected (Flask-WTF), and the API's bearer-token routes are
left out of that check since no browser holds their credentials. A browser signs in once with its
token (``signin``) and holds a server-checked session (``sessions``).
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, flash, redirect, render_template, request, send_from_directory
from flask.sessions import SecureCookieSessionInterface
from flask_babel import Babel
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf.csrf import CSRFError, CSRFProtect
from limits import parse_many
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from sla_bridge.auth import CLIENT, OPERATOR
from sla_bridge.webhook import REPLACEMENT, UNSTORABLE
from sla_bridge.web import clients, formatting, incidents, ledger, maintenances, reports, signin
from sla_bridge.web.guard import current_principal, safe_next
from sla_bridge.web.sessions import Lifetimes, WebSessions

log = logging.getLogger("owl.bridge")

HERE = Path(__file__).parent
LANGUAGES = ("fr",)  # the catalogue's languages; the first is the default
BLUEPRINTS = (signin, incidents, maintenances, clients, ledger, reports)
# Pages never cached: they show one principal's data.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


@dataclass
class WebConfig:
    # signs the CSRF cookie; None: a random key, so forms open across a restart must be sent again
    secret_key: str | None = None
    lifetimes: Lifetimes = field(default_factory=Lifetimes)
    # Secure cookies: None follows the request (HTTPS, or an https:// console URL), True always
    secure_cookies: bool | None = None
    signin_limits: str = "10 per minute; 30 per hour"  # failed sign-ins per address


class Web:
    """What the pages share: sessions, the sign-in limiter, the cookie policy."""

    def __init__(self, config: WebConfig, sessions: WebSessions, console_url: str):
        self.config = config
        self.sessions = sessions
        self.console_url = console_url  # where browsers reach the bridge (provider.stack)
        self._limits = parse_many(config.signin_limits)
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def signin_allowed(self, address: str | None) -> bool:
        return all(self._limiter.test(limit, address or "-") for limit in self._limits)

    def signin_failed(self, address: str | None) -> None:
        for limit in self._limits:
            self._limiter.hit(limit, address or "-")

    def secure_cookies(self) -> bool:
        if self.config.secure_cookies is not None:
            return self.config.secure_cookies
        return request.is_secure or urlsplit(self.console_url).scheme == "https"


class _CsrfCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, which holds only the CSRF secret, Secure by the same rule."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return app.extensions["owl_web"].secure_cookies()


def init_web(app: Flask, bridge, config: WebConfig, api_blueprints) -> None:
    """Add the pages to ``app``, whose ``bridge`` holds the database and services."""
    if config.secret_key is None:
        log.warning("no web secret (OWL_WEB_SECRET, --web.secret-file): a random one is used, "
                    "so a page left open across a restart must be reloaded before its forms work")
    app.config.update(
        SECRET_KEY=config.secret_key or secrets.token_urlsafe(32),
        SESSION_COOKIE_NAME="owl_csrf", SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        # a page left open all night must still acknowledge: the token lasts as its cookie
        WTF_CSRF_TIME_LIMIT=None,
    )
    app.session_interface = _CsrfCookie()
    app.extensions["owl_web"] = Web(config, bridge.web_sessions,
                                    bridge.config.inventory.provider.stack.console_url)
    Babel(app, locale_selector=_locale, default_locale=LANGUAGES[0],
          default_translation_directories=str(HERE / "translations"))
    csrf = CSRFProtect(app)
    for api in api_blueprints:
        csrf.exempt(api)
    app.template_folder = str(HERE / "templates")
    formatting.register(app)
    for module in BLUEPRINTS:
        app.register_blueprint(module.blueprint)
    app.add_url_rule("/static/<path:filename>", "static", _static)
    app.register_error_handler(CSRFError, _expired_form)
    app.before_request(_refuse_unstorable_form)
    app.after_request(_page_headers)
    app.context_processor(lambda: _page_context(app, config))


# The menu: (endpoint, label, who sees it); an endpoint not registered is left out.
NAV = (
    ("web_incidents.index", _l("Incidents"), (OPERATOR, CLIENT)),
    ("web_maintenances.index", _l("Maintenance"), (OPERATOR, CLIENT)),
    ("web_clients.index", _l("Clients"), (OPERATOR,)),
    ("web_ledger.index", _l("Penalty ledger"), (OPERATOR, CLIENT)),
    ("web_reports.index", _l("Reports"), (OPERATOR, CLIENT)),
)


def _page_context(app: Flask, config: WebConfig) -> dict:
    if not is_page():
        return {}
    return {"principal": current_principal(),
            "nav_links": [link for link in NAV if link[0] in app.view_functions],
            "remember_days": config.lifetimes.remembered.days}


def _static(filename: str):
    return send_from_directory(HERE / "static", filename, max_age=3600)


def _locale() -> str:
    return request.accept_languages.best_match(LANGUAGES, LANGUAGES[0])


def is_page() -> bool:
    """Whether this request is for a page (HTML) rather than the API, /metrics or health."""
    path = request.path
    return not (path.startswith("/api/") or path in ("/metrics", "/healthz", "/readyz"))


def _expired_form(exc: CSRFError):
    """A form sent without its CSRF token, or with an old one: back to its page, to send it
    again with a fresh one."""
    log.info("form refused: %s", exc.description)
    flash(_("This form had expired: check the page and send it again."), "error")
    back = urlsplit(request.referrer or "")
    same_site = back.netloc in ("", request.host)
    return redirect(safe_next(back.path if same_site else None), code=303)


def _refuse_unstorable_form():
    """A form field with text no database stores (a NUL byte) is a 400 naming the field, before
    any view: a browser sends it only if someone pasted it, and the database would refuse it."""
    if request.method != "POST" or not is_page():
        return None
    for name, value in request.form.items(multi=True):
        if UNSTORABLE.search(value) or UNSTORABLE.search(name):
            return error_page(400, _('The field "%(field)s" holds a character that cannot be '
                                     'stored (a NUL byte): remove it and send the form again.',
                                     field=UNSTORABLE.sub(REPLACEMENT, name)))
    return None


def _page_headers(response):
    if is_page():
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
    return response


def error_page(status: int, message: str | None = None):
    """The page of an HTTP error, in the reader's language."""
    titles = {
        400: _("The request is not valid."),
        403: _("This page is not for you."),
        404: _("This page does not exist."),
        405: _("This page does not accept that request."),
        413: _("What was sent is too large."),
        429: _("Too many requests: wait a moment."),
        503: _("The bridge cannot read its database right now: try again in a moment."),
    }
    return render_template("error.html", status=status,
                           message=message or titles.get(status, _("Something went wrong."))
                           ), status
