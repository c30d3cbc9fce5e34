"""What changed in a closed month between two versions of its report, in French: the list a new
version carries, from the summaries of both (:func:`sla_bridge.reports.model.summary`)."""

from __future__ import annotations

import datetime as dt

from sla_bridge.reports import words

# The fields of an incident whose change a client must be told of, and how to say it.
INCIDENT_FIELDS = {
    "sla": "statut SLA", "acknowledged_at": "prise en charge", "resolved_at": "résolution",
    "exclusion_reason": "motif d'exclusion", "deadline": "échéance",
    "penalty_rate": "pénalité",
}


def changes(previous: dict, current: dict, timezone: str) -> list[str]:
    """Lines such as "Incident n° 12 : statut SLA « dépassé » → « exclu »", in a stable
    order: incidents by number, then maintenance windows, interventions, the total."""
    lines = _incidents(previous.get("incidents", []), current.get("incidents", []), timezone)
    lines += _maintenances(previous.get("maintenances", []), current.get("maintenances", []))
    before, after = len(previous.get("interventions", [])), len(current.get("interventions", []))
    if before != after:
        lines.append(f"Interventions hors horaires d'ouverture : {before} → {after}")
    old_total = (previous.get("ledger") or {}).get("total")
    new_total = (current.get("ledger") or {}).get("total")
    if old_total != new_total:
        lines.append(f"Total à créditer : {words.money(old_total)} → {words.money(new_total)}")
    return lines


def _incidents(previous: list[dict], current: list[dict], timezone: str) -> list[str]:
    old, new = {row["id"]: row for row in previous}, {row["id"]: row for row in current}
    lines = []
    for number in sorted(old.keys() | new.keys()):
        if number not in old:
            lines.append(f"Nouvel incident n° {number} ({_severity(new[number])}, "
                         f"{new[number].get('target') or '—'})")
        elif number not in new:
            lines.append(f"Incident n° {number} retiré du mois")
        else:
            lines += [_incident_change(number, field, old[number], new[number], timezone)
                      for field in INCIDENT_FIELDS
                      if old[number].get(field) != new[number].get(field)]
    return lines


def _incident_change(number: int, field: str, old: dict, new: dict, timezone: str) -> str:
    return (f"Incident n° {number} : {INCIDENT_FIELDS[field]} "
            f"{_value(field, old.get(field), timezone)} → {_value(field, new.get(field), timezone)}")


def _maintenances(previous: list[dict], current: list[dict]) -> list[str]:
    old, new = {row["id"]: row for row in previous}, {row["id"]: row for row in current}
    lines = []
    for number in sorted(old.keys() | new.keys()):
        if number not in old:
            lines.append(f"Nouvelle maintenance n° {number}")
        elif new.get(number, {}).get("cancelled_at") and not old[number].get("cancelled_at"):
            lines.append(f"Maintenance n° {number} annulée")
    return lines


def _severity(row: dict) -> str:
    return words.SEVERITIES.get(row.get("severity"), row.get("severity") or "—")


def _value(field: str, value, timezone: str) -> str:
    if value is None:
        return "« aucun »" if field == "exclusion_reason" else "« aucune »"
    if field == "sla":
        return f"« {words.SLA_STATUSES.get(value, value)} »"
    if field == "exclusion_reason":
        return f"« {words.EXCLUSION_REASONS.get(value, value)} »"
    if field == "penalty_rate":
        return words.rate(value)
    return words.when(dt.datetime.fromisoformat(value.replace("Z", "+00:00")), timezone)

