"""The ledger as JSON (money and rates as strings) and as CSV, for the API and the CLI."""

from __future__ import annotations

import csv
import io

from sla_bridge.engine.ledger import Ledger
from sla_bridge.timefmt import rfc3339

CSV_COLUMNS = ("kind", "incident_id", "severity", "started_at", "deadline", "rate", "amount")


def ledger_json(ledger: Ledger) -> dict:
    return {
        "client": ledger.client, "month": ledger.month, "currency": ledger.currency,
        "monthly_fee": str(ledger.monthly_fee),
        "lines": [{"kind": line.kind, "incident_id": line.incident_id,
                   "severity": line.severity, "started_at": rfc3339(line.started_at),
                   "deadline": rfc3339(line.deadline), "rate": str(line.rate),
                   "amount": str(line.amount)} for line in ledger.lines],
        "rate_total": str(ledger.rate_total), "cap_rate": str(ledger.cap_rate),
        "applied_rate": str(ledger.applied_rate), "total": str(ledger.total),
    }


def ledger_csv_filename(ledger: Ledger) -> str:
    return f"ledger-{ledger.client}-{ledger.month}.csv"


def ledger_csv(ledger: Ledger) -> str:
    """One row per line, then the total; a client can add the amount column up by hand."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(("client", "month", "currency", *CSV_COLUMNS))
    for line in ledger_json(ledger)["lines"]:
        writer.writerow((ledger.client, ledger.month, ledger.currency,
                         *(line[column] or "" for column in CSV_COLUMNS)))
    writer.writerow((ledger.client, ledger.month, ledger.currency, "total", "", "", "", "",
                     str(ledger.applied_rate), str(ledger.total)))
    return out.getvalue()
