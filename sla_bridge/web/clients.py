"""The clients page, for operators: each contract as the bridge applies it (tier, fee, support
hours, status and its dates: trial end, termination and the data deletion of section 9) and this
month's penalty standing against the cap, from the ledgers the metrics read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from babel.dates import format_date
from flask import Blueprint, render_template
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l

from sla_bridge.request_values import bridge
from sla_bridge.auth import OPERATOR
from sla_bridge.engine.ledger import Ledger
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.retention import deletion_due
from sla_bridge.web.guard import signed_in
from sla_bridge.web.ledger import current_month

blueprint = Blueprint("web_clients", __name__)
# The offers' names, as the contract (section 4) writes them.
TIERS = {0: "Découverte", 1: "Essentiel", 2: "Professionnel", 3: "Avancé",
         4: "Infrastructure Globale"}
STATUSES = {"trial": _l("trial"), "active": _l("active"), "suspended": _l("suspended"),
            "terminated": _l("terminated")}


@dataclass(frozen=True)
class ContractView:
    client: str
    name: str
    terms: ClientTerms
    deletion_due: dt.date | None
    ledger: Ledger | None  # None: a trial, which has no SLA


@blueprint.get("/clients")
@signed_in(OPERATOR)
def index():
    context = bridge()
    month = current_month()
    ledgers = {ledger.client: ledger for ledger in context.service.ledgers_of_month(month)}
    contracts = [ContractView(client, _name(client), terms, deletion_due(terms),
                              ledgers.get(client))
                 for client, terms in sorted(context.service.terms.items())]
    return render_template("clients.html", contracts=contracts, month=month, tiers=TIERS,
                           statuses=STATUSES)


@blueprint.app_template_filter("day")
def day(value: dt.date | dt.datetime | None) -> str:
    """A date in the reader's language: "7 mars 2025"."""
    if value is None:
        return "—"
    return format_date(value, "d MMMM y", locale=get_locale())


def _name(client: str) -> str:
    found = bridge().config.inventory.client(client)
    return found.name if found else client
