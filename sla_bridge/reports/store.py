"""Stored reports: each version of a client's month as it was produced, never changed.

A report is stored with the SHA-256 of its PDF, so that a client or a judge can check that the
document at hand is the one OWL produced; version N+1 of a month records what changed since
version N (:mod:`sla_bridge.reports.changes`), and every version stays readable until the
client's data is deleted after termination (section 9, :mod:`sla_bridge.retention`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from sla_bridge.reports.changes import changes
from sla_bridge.service.errors import NotFound
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Report, report_filename


@dataclass(frozen=True)
class ReportInfo:
    id: int
    client: str
    month: str
    version: int
    produced_at: dt.datetime
    sha256: str
    size: int
    changes: tuple[str, ...]

    @property
    def filename(self) -> str:
        return report_filename(self.client, self.month, self.version)


# A stored report's HTML is served as it was produced: no script, nothing fetched, no form.
STORED_HTML_POLICY = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
                      "form-action 'none'")
INFO_COLUMNS = (Report.id, Report.client, Report.month, Report.version, Report.produced_at,
                Report.sha256, func.length(Report.pdf), Report.changes)


def add_report(session: Session, client: str, month: str, summary: dict, html: str, pdf: bytes,
               produced_at: dt.datetime, timezone: str) -> Report:
    """Store the next version of ``client``'s ``month``. Two processes adding the same version
    at once: the second fails on the unique (client, month, version) and stores nothing."""
    previous = latest_report(session, client, month)
    row = Report(client=client, month=month, version=previous.version + 1 if previous else 1,
                 produced_at=produced_at, sha256=hashlib.sha256(pdf).hexdigest(), pdf=pdf,
                 html=html, summary=summary,
                 changes=changes(previous.summary, summary, timezone) if previous else [])
    session.add(row)
    session.flush()
    return row


def latest_report(session: Session, client: str, month: str) -> Report | None:
    return session.scalars(select(Report).where(Report.client == client, Report.month == month)
                           .order_by(Report.version.desc()).limit(1)).first()


def list_reports(db: Database, client: str | None = None, month: str | None = None
                 ) -> list[ReportInfo]:
    """Newest month first, then newest version first."""
    query = select(*INFO_COLUMNS).order_by(Report.month.desc(), Report.client,
                                           Report.version.desc())
    if client is not None:
        query = query.where(Report.client == client)
    if month is not None:
        query = query.where(Report.month == month)
    with db.read() as session:
        return [_info(row) for row in session.execute(query).all()]


def report_info(db: Database, report_id: int, client: str | None = None) -> ReportInfo:
    with db.read() as session:
        row = session.execute(_one(select(*INFO_COLUMNS), report_id, client)).first()
    if row is None:
        raise NotFound(f"no report {report_id}")
    return _info(row)


def report_pdf(db: Database, report_id: int, client: str | None = None) -> bytes:
    return _column(db, Report.pdf, report_id, client)


def report_html(db: Database, report_id: int, client: str | None = None) -> str:
    return _column(db, Report.html, report_id, client)


def _column(db: Database, column, report_id: int, client: str | None):
    with db.read() as session:
        value = session.scalar(_one(select(column), report_id, client))
    if value is None:
        raise NotFound(f"no report {report_id}")
    return value


def _one(query, report_id: int, client: str | None):
    """One report by id; with ``client``, only if it is that client's (else none, as if it did
    not exist: a client learns nothing of another's)."""
    query = query.where(Report.id == report_id)
    return query.where(Report.client == client) if client is not None else query


def _info(row) -> ReportInfo:
    return ReportInfo(row[0], row[1], row[2], row[3], row[4], row[5], row[6], tuple(row[7]))
