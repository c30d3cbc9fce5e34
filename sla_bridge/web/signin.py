"""Signing in with a token, signing out, and the home page that sends each to its pages."""

from __future__ import annotations

from flask import Blueprint, g, make_response, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, PasswordField
from wtforms.validators import InputRequired

from sla_bridge.web.guard import SESSION_COOKIE, current_principal, safe_next, signed_in, web

blueprint = Blueprint("signin", __name__)


class SignInForm(FlaskForm):
    token = PasswordField(validators=[InputRequired()])
    remember = BooleanField()
    next = HiddenField()


@blueprint.get("/")
@signed_in()
def home():
    return redirect(url_for("web_incidents.index"))


@blueprint.route("/signin", methods=["GET", "POST"])
def sign_in():
    form = SignInForm()
    if request.method == "GET":
        if current_principal() is not None:
            return redirect(safe_next(request.args.get("next")))
        form.next.data = request.args.get("next", "")
        return render_template("signin.html", form=form)
    if not web().signin_allowed(request.remote_addr):
        return render_template("signin.html", form=form, error=_(
            "Too many failed sign-in attempts from this address: wait a few minutes.")), 429
    secret = web().sessions.open(form.token.data.strip(), form.remember.data) \
        if form.validate_on_submit() and form.token.data else None
    if secret is None:
        web().signin_failed(request.remote_addr)
        return render_template("signin.html", form=form, error=_(
            "This token is not valid: check it, or ask for a new one.")), 401
    response = redirect(safe_next(form.next.data))
    response.set_cookie(SESSION_COOKIE, secret,
                        max_age=web().sessions.lifetimes.of(form.remember.data),
                        httponly=True, samesite="Lax", secure=web().secure_cookies())
    return response


@blueprint.post("/signout")
def sign_out():
    web().sessions.end(request.cookies.get(SESSION_COOKIE))
    g.pop("web_principal", None)
    response = make_response(redirect(url_for("signin.sign_in")))
    response.delete_cookie(SESSION_COOKIE, httponly=True, samesite="Lax",
                           secure=web().secure_cookies())
    return response
