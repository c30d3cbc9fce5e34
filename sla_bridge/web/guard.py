"""Who is signed in: the session cookie, read on every page, and the views' ``signed_in`` guard.

A page for someone not signed in sends the browser to the sign-in page and back; a page of the
wrong kind (a client on an operator's page) is a 403. While the database cannot answer, the page
says so (503) rather than signing anyone out.
"""

from __future__ import annotations

import functools

from flask import abort, current_app, g, redirect, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from sla_bridge.auth import CLIENT, OPERATOR, Principal

SESSION_COOKIE = "owl_session"


def web():
    """The :class:`sla_bridge.web.Web` of the running application."""
    return current_app.extensions["owl_web"]


def current_principal() -> Principal | None:
    """Who this request's session belongs to; read once per request."""
    if "web_principal" not in g:
        try:
            g.web_principal = web().sessions.principal(request.cookies.get(SESSION_COOKIE))
        except SQLAlchemyError:
            g.web_principal = None  # the error page shows no one signed in
            abort(503)
    return g.web_principal


def signed_in(*kinds: str):
    """Only a signed-in operator or client of one of ``kinds`` (default: both) sees the view;
    ``g.principal`` says who."""
    kinds = kinds or (OPERATOR, CLIENT)

    def decorate(view):
        @functools.wraps(view)
        def wrapper(*args, **kwargs):
            principal = current_principal()
            if principal is None:
                return redirect(url_for("signin.sign_in", next=_here()))
            if principal.kind not in kinds:
                abort(403)
            g.principal = principal
            return view(*args, **kwargs)
        return wrapper
    return decorate


def client_scope() -> str | None:
    """The client whose data the signed-in principal may see: its own, or None (every client)
    for an operator."""
    return g.principal.client if g.principal.kind == CLIENT else None


def is_operator() -> bool:
    return g.principal.kind == OPERATOR


def _here() -> str:
    return request.full_path.rstrip("?") if request.query_string else request.path


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only, never another host."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("signin.home")
    return target
