"""The incidents pages: the list (operators: the open ones, most urgent first; a client: its
own, open and past), an incident's page with its timeline, deadline clock and the operators'
actions (acknowledge, exclude, withdraw an exclusion), and the on-call emails' link by alert
fingerprint, which waits for the alert to reach the bridge."""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

import holidays as holidays_lib
from babel.dates import format_date
from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from sla_bridge.request_values import bridge, whole_number
from sla_bridge.auth import OPERATOR
from sla_bridge.engine.ledger import MONTH
from sla_bridge.service import EXCLUSION_REASONS, Conflict, IncidentRecord, NotFound
from sla_bridge.storage.schema import Incident
from sla_bridge.web import formatting
from sla_bridge.web.guard import client_scope, is_operator, signed_in

blueprint = Blueprint("web_incidents", __name__)

LIST_LIMIT = 200  # rows a list shows; the filters narrow it
PENDING_REFRESH_SECONDS = 5
FINGERPRINT = re.compile(r"[0-9a-f]{16}")
# the status filter: its value, the states it shows, its label
STATUS_FILTERS = {
    "unresolved": (("open", "acknowledged"), _l("not resolved")),
    "open": (("open",), _l("not acknowledged")),
    "acknowledged": (("acknowledged",), _l("acknowledged, not resolved")),
    "resolved": (("resolved",), _l("resolved")),
    "all": (None, _l("all")),
}
RUNBOOK = "runbook_url"


class BadFilter(ValueError):
    def __init__(self, label: str, value: str):
        super().__init__(label)
        self.label, self.value = label, value


@dataclass(frozen=True)
class Filters:
    client: str | None
    severity: str | None
    status: str
    month: str | None


@blueprint.get("/incidents")
@signed_in()
def index():
    try:
        filters = _filters()
    except BadFilter as exc:
        return render_template("error.html", status=400, message=_(
            'Filter "%(filter)s": %(value)s is not one of its values.',
            filter=exc.label, value=repr(exc.value)[:80])), 400
    rows = bridge().service.find_urgent(
        client=client_scope() or filters.client, severity=filters.severity,
        states=STATUS_FILTERS[filters.status][0], month=filters.month, limit=LIST_LIMIT + 1)
    return render_template(
        "incidents.html", incidents=rows[:LIST_LIMIT], truncated=len(rows) > LIST_LIMIT,
        filters=filters, clients=sorted(bridge().service.terms) if is_operator() else (),
        status_filters=STATUS_FILTERS, now=bridge().clock(), limit=LIST_LIMIT)


def _filters() -> Filters:
    """The list's filters from the query string; a value that is not one raises BadFilter.
    A client's list is its own: naming another client is a filter value it does not have."""
    args = request.args
    client = args.get("client") or None
    if client is not None and (client not in bridge().service.terms
                               or client_scope() not in (None, client)):
        raise BadFilter(_("client"), client)
    severity = args.get("severity") or None
    if severity is not None and severity not in formatting.SEVERITIES:
        raise BadFilter(_("severity"), severity)
    status = args.get("status") or ("unresolved" if is_operator() else "all")
    if status not in STATUS_FILTERS:
        raise BadFilter(_("status"), status)
    month = args.get("month") or None
    if month is not None and not (month.isascii() and MONTH.fullmatch(month)):
        raise BadFilter(_("month"), month)
    return Filters(client, severity, status, month)


@blueprint.get("/incidents/<raw_id>")
@signed_in()
def show(raw_id: str):
    record = _record(raw_id)
    return render_template(
        "incident.html", record=record, incident=record.incident, now=bridge().clock(),
        runbook=_runbook(record), holidays=_holiday_names(record),
        exclusion_reasons=[(code, formatting.EXCLUSION_REASONS[code])
                           for code in EXCLUSION_REASONS])


def _record(raw_id: str) -> IncidentRecord:
    """The incident the principal may see; any other (or none) is a 404, as if it did not
    exist."""
    incident_id = whole_number(raw_id)
    if incident_id is None:
        abort(404)
    try:
        return bridge().service.record(incident_id, client=client_scope())
    except NotFound:
        abort(404)


def _runbook(record: IncidentRecord) -> str | None:
    """The runbook link of the alert's annotation (or label), if it is a web address."""
    url = record.annotations.get(RUNBOOK) or record.incident.labels.get(RUNBOOK)
    return url if url and urlsplit(url).scheme in ("http", "https") else None


def _holiday_names(record: IncidentRecord) -> list[tuple[str, str]]:
    """The holidays that moved the deadline: (date, name) in the reader's language."""
    clock = record.clock
    if clock is None or not clock.holidays:
        return []
    locale = get_locale()
    # a language the library does not translate into falls back to the country's default
    names = holidays_lib.country_holidays(clock.country, subdiv=clock.subdivision,
                                          years={day.year for day in clock.holidays},
                                          language=locale.language)
    return [(format_date(day, "d MMMM y", locale=locale), names.get(day, ""))
            for day in clock.holidays]


@blueprint.get("/incidents/fingerprint/<fingerprint>")
@signed_in()
def by_fingerprint(fingerprint: str):
    """The on-call email's link: the alert's newest incident, or a page that waits for it
    (Alertmanager's email can come before the bridge has stored the alert)."""
    if not FINGERPRINT.fullmatch(fingerprint):
        abort(404)
    incident = bridge().service.latest_of_fingerprint(fingerprint, client=client_scope())
    if incident is None:
        return render_template("incident_pending.html", fingerprint=fingerprint,
                               refresh_seconds=PENDING_REFRESH_SECONDS)
    return redirect(url_for(".show", raw_id=incident.id))


# --- the operators' actions: Post/Redirect/Get back to the incident's page ----------------------

@blueprint.post("/incidents/<raw_id>/ack")
@signed_in(OPERATOR)
def acknowledge(raw_id: str):
    incident_id, before = _action_target(raw_id)
    incident = _act(lambda service: service.acknowledge(incident_id, g.principal.name))
    if before.acknowledged_at is not None:
        flash(_("This incident had already been acknowledged by %(name)s.",
                name=incident.acknowledged_by), "info")
    else:
        flash(_("Incident acknowledged."), "success")
    return _back(incident_id)


@blueprint.post("/incidents/<raw_id>/exclusion")
@signed_in(OPERATOR)
def exclude(raw_id: str):
    incident_id = _action_target(raw_id)[0]
    reason, note = request.form.get("reason", ""), request.form.get("note", "").strip()
    if reason not in EXCLUSION_REASONS:
        flash(_("Exclusion: choose one of the contract's reasons."), "error")
    elif not note:
        flash(_("Exclusion: a note explaining it is required."), "error")
    else:
        try:
            _act(lambda service: service.exclude(incident_id, reason, note, g.principal.name))
            flash(_("Incident excluded from the SLA."), "success")
        except Conflict:
            flash(_("This incident has no SLA: there is nothing to exclude it from."), "error")
    return _back(incident_id)


@blueprint.post("/incidents/<raw_id>/exclusion/withdraw")
@signed_in(OPERATOR)
def withdraw_exclusion(raw_id: str):
    incident_id, before = _action_target(raw_id)
    if before.exclusion_reason is None:
        flash(_("This incident is not excluded: there is no exclusion to withdraw."), "info")
    else:
        _act(lambda service: service.withdraw_exclusion(incident_id, g.principal.name))
        flash(_("Exclusion withdrawn."), "success")
    return _back(incident_id)


def _action_target(raw_id: str) -> tuple[int, Incident]:
    """The id of the incident an action is for, and the incident before it; none is a 404."""
    incident_id = whole_number(raw_id)
    if incident_id is None:
        abort(404)
    try:
        return incident_id, bridge().service.get(incident_id)
    except NotFound:
        abort(404)


def _act(action) -> Incident:
    try:
        return action(bridge().service)
    except NotFound:  # gone since it was read
        abort(404)


def _back(incident_id: int):
    return redirect(url_for(".show", raw_id=incident_id), code=303)
