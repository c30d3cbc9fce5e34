"""The maintenance pages (contract section 5b): the windows announced, every client's for an
operator and its own for a client; for operators, the form that plans a window and the button
that cancels one, through the API's :class:`~sla_bridge.maintenance.MaintenanceService`.

A form refused is shown again with what was typed and a French explanation naming the field;
one accepted redirects to the list (Post/Redirect/Get) with a flash message.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from flask import Blueprint, abort, flash, g, redirect, render_template, url_for
from flask_babel import gettext as _

from owl.inventory import Client
from sla_bridge.alertmanager import AlertmanagerError, AlertmanagerRefused
from sla_bridge.request_values import MAX_ID, bridge
from sla_bridge.auth import OPERATOR
from sla_bridge.engine.maintenance import NOTICE
from sla_bridge.maintenance import (
    ConflictingWindow,
    InvalidWindow,
    NoticeRefused,
    UnknownMaintenance,
    WindowOver,
    WindowRequest,
)
from sla_bridge.storage.schema import Maintenance
from sla_bridge.storage.windows import window_of
from sla_bridge.web.formatting import when
from sla_bridge.web.guard import client_scope, is_operator, signed_in
from sla_bridge.web.maintenance_form import (
    FIELD_LABELS,
    FormError,
    PlanForm,
    target_value,
)

blueprint = Blueprint("web_maintenances", __name__)
RECENT = dt.timedelta(days=31)  # how long a window stays listed once over


@dataclass(frozen=True)
class WindowView:
    window: Maintenance
    status: str  # "upcoming" | "in_progress" | "over" | "cancelled"
    planned: bool  # announced 48 h ahead, not an emergency: incidents in it are off the SLA
    cancellable: bool


@blueprint.get("/maintenances")
@signed_in()
def index():
    return _page(PlanForm())


@blueprint.post("/maintenances")
@signed_in(OPERATOR)
def plan():
    form = PlanForm.from_request()
    try:
        window_request = form.window_request(bridge().config.inventory)
        announced = _announce(window_request)
    except FormError as error:
        return _page(form, error)
    if announced.created:
        flash(_("Maintenance window no. %(id)s is announced; the client is notified.",
                id=announced.window.id), "success")
    else:
        flash(_("This window was announced already (no. %(id)s): nothing changed.",
                id=announced.window.id), "success")
    return redirect(url_for(".index"), code=303)


@blueprint.post(f"/maintenances/<int(max={MAX_ID}):maintenance_id>/cancel")
@signed_in(OPERATOR)
def cancel(maintenance_id: int):
    try:
        bridge().maintenances.cancel(maintenance_id, g.principal.name)
    except UnknownMaintenance:
        abort(404)
    except WindowOver:
        flash(_("Window no. %(id)s is over: there is nothing left to cancel.",
                id=maintenance_id), "error")
    except AlertmanagerError as exc:
        flash(_alertmanager_problem(exc, _("the window was not cancelled")), "error")
    else:
        flash(_("Maintenance window no. %(id)s is cancelled; the client is notified.",
                id=maintenance_id), "success")
    return redirect(url_for(".index"), code=303)


def _announce(window_request: WindowRequest):
    service = bridge().maintenances
    try:
        return service.announce(window_request, g.principal.name)
    except InvalidWindow as exc:
        raise _invalid(exc, window_request) from None
    except NoticeRefused:
        raise _notice_refused(window_request) from None
    except ConflictingWindow as exc:
        kind = _("an emergency window") if exc.window.emergency else _("a planned window")
        raise FormError("emergency", _(
            "Window no. %(id)s covers the same targets and times as %(kind)s: cancel it first "
            "to announce it otherwise.", id=exc.window.id, kind=kind), 409) from None
    except AlertmanagerError as exc:
        raise FormError(None, _alertmanager_problem(exc, _("nothing was stored")),
                        502 if isinstance(exc, AlertmanagerRefused) else 503) from None


def _invalid(exc: InvalidWindow, window_request: WindowRequest) -> FormError:
    if exc.field.startswith("targets["):
        target = window_request.targets[int(exc.field[len("targets["):-1])]
        return FormError("targets", _("%(target)s is not a site or server of this client.",
                                      target=target))
    messages = {"client": _("Choose a client of the inventory."),
                "description": _("Describe the work: the client reads it in the notice."),
                "ends_at": _("The window must end after it starts.")}
    return FormError(exc.field if exc.field in messages else None,
                     messages.get(exc.field, str(exc)))


def _notice_refused(window_request: WindowRequest) -> FormError:
    now = bridge().clock()
    if window_request.ends_at <= now:
        return FormError("ends_at", _("This window is already over: there is nothing to "
                                      "announce."), 422)
    timezone = bridge().config.inventory.timezone_for(
        bridge().config.inventory.client(window_request.client))
    earliest = _next_minute(now + NOTICE)
    return FormError("starts_at", _(
        "A maintenance window must be announced at least 48 hours before it starts (section "
        "5b of the contract): the earliest start for this one is %(earliest)s (%(timezone)s). "
        "If the work cannot wait, tick “Emergency”: notifications are then silenced during "
        "the window, but its incidents still count for the SLA.",
        earliest=when(earliest, timezone), timezone=timezone), 422)


def _next_minute(value: dt.datetime) -> dt.datetime:
    rounded = value.replace(second=0, microsecond=0)
    return rounded if rounded == value else rounded + dt.timedelta(minutes=1)


def _alertmanager_problem(exc: AlertmanagerError, outcome: str) -> str:
    if isinstance(exc, AlertmanagerRefused):
        return _("Alertmanager refused the silence (%(reason)s): %(outcome)s.",
                 reason=exc, outcome=outcome)
    return _("Alertmanager cannot be reached: %(outcome)s; try again in a moment.",
             outcome=outcome)


def _page(form: PlanForm, error: FormError | None = None):
    context = bridge()
    inventory = context.config.inventory
    now = context.clock()
    views = [_view(window, now) for window in context.maintenances.list(client=client_scope())
             if window_of(window).end > now - RECENT]
    current = sorted((v for v in views if v.status in ("upcoming", "in_progress")),
                     key=lambda v: (v.window.starts_at, v.window.id))
    past = [v for v in views if v.status in ("over", "cancelled")]
    return render_template(
        "maintenances.html", current=current, past=past, form=form, error=error,
        field_labels=FIELD_LABELS, clients=inventory.clients if is_operator() else [],
        timezones={client.id: inventory.timezone_for(client) for client in inventory.clients},
        targets_of=_targets_of, target_value=target_value,
    ), error.status if error else 200


def _view(window: Maintenance, now: dt.datetime) -> WindowView:
    engine_view = window_of(window)
    if window.cancelled_at is not None:
        status = "cancelled"
    elif engine_view.active_at(now):
        status = "in_progress"
    else:
        status = "upcoming" if window.starts_at > now else "over"
    return WindowView(window, status, engine_view.planned,
                      status in ("upcoming", "in_progress"))


def _targets_of(client: Client) -> list[tuple[str, str]]:
    """The client's targets as (id, kind) pairs, sites first."""
    return [(site.id, "site") for site in client.sites] + \
        [(server.id, "server") for server in client.servers]
