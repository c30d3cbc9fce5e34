"""The bridge's monthly job: every client's report of the month just ended, produced, stored and
emailed once, on the first working day after the month, at ``provider.reports.send_at``.

- The database is the job's memory: a (client, month) that has a report is done, whatever
  restarted since; two replicas racing store one version (the unique version number), and the
  loser's transaction, its email with it, is rolled back.
- The email is recorded in the same transaction as the report and sent by the notifier, at least
  once, with the PDF attached (:mod:`sla_bridge.notify`); a suspended or terminated client's is
  recorded, not sent (section 9); the provider's copy goes in every case.
- A closed month whose records change afterwards (a late exclusion, a late resolution) gets a
  new version, listing what changed, for the last few months: the job compares the records'
  summary with the latest version's at every run, which costs database reads only.
- While Prometheus cannot answer, a report waits for it up to a day; then it goes out saying
  which figures are missing.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from owl.businesstime import BusinessCalendar
from owl.inventory import Client, Inventory
from sla_bridge.engine.ledger import month_bounds, month_of
from sla_bridge.notify import REPORT, Message, Notifier, signature
from sla_bridge.reports import words
from sla_bridge.reports.build import ReportSources, build_report
from sla_bridge.reports.document import layout, render_html
from sla_bridge.reports.model import ReportContent, summary
from sla_bridge.reports.store import add_report, latest_report
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Deletion, Report

log = logging.getLogger("owl.bridge.reports")

RECHECKED_MONTHS = 3  # closed months whose records are compared with their latest version
WAIT_FOR_PROMETHEUS = dt.timedelta(days=1)


@dataclass(frozen=True)
class Produced:
    content: ReportContent
    html: str
    pdf: bytes


class ReportProducer:
    """Builds reports from the bridge's sources; summaries from its records alone."""

    def __init__(self, sources: ReportSources):
        self.sources = sources

    def produce(self, client: str, month: str, now: dt.datetime) -> Produced:
        content = build_report(self.sources, client, month, now)
        html = render_html(content)
        return Produced(content, html, layout(content).write_pdf())

    def summary(self, client: str, month: str, now: dt.datetime) -> dict:
        records = ReportSources(self.sources.service, self.sources.inventory, None)
        return summary(build_report(records, client, month, now))


class ReportJob:
    def __init__(self, db: Database, inventory: Inventory, notifier: Notifier,
                 producer: ReportProducer, clock: Callable[[], dt.datetime]):
        self.db = db
        self.inventory = inventory
        self.notifier = notifier
        self.producer = producer
        self.clock = clock
        self.tz = ZoneInfo(inventory.provider.timezone)
        spec = inventory.provider.calendar
        self.calendar = BusinessCalendar.from_spec(spec.hours, inventory.provider.timezone,
                                                   spec.holidays.country,
                                                   spec.holidays.subdivision)

    def run(self) -> list[Report]:
        """Produce what is due now; return the reports stored."""
        now = self.clock()
        stored = []
        for month in self._closed_months(now):
            due = self.due_at(month)
            if now < due:
                continue
            for client in self._clients_of(month):
                try:
                    report = self._run_one(client, month, now, due)
                except Exception:  # one client's failure must not hold back the others
                    log.exception("report of %s for %s not produced; next run retries",
                                  client.id, month)
                    continue
                if report is not None:
                    stored.append(report)
        return stored

    def due_at(self, month: str) -> dt.datetime:
        """``send_at`` on the first working day after ``month``, in the provider's time."""
        _, end = month_bounds(month, self.tz)
        last_day = end.astimezone(self.tz).date() - dt.timedelta(days=1)
        day = self.calendar.add_working_days(last_day, 1)
        send_at = self.inventory.provider.reports.send_time
        return dt.datetime.combine(day, send_at, self.tz).astimezone(dt.timezone.utc)

    def _closed_months(self, now: dt.datetime) -> list[str]:
        month = month_of(now, self.tz)
        months = []
        for _ in range(RECHECKED_MONTHS):
            start, _ = month_bounds(month, self.tz)
            month = month_of(start - dt.timedelta(seconds=1), self.tz)
            months.append(month)
        return months

    def _clients_of(self, month: str) -> list[Client]:
        """The clients whose contract ran during some of ``month``, data not deleted."""
        start, end = (bound.astimezone(self.tz).date() for bound in month_bounds(month, self.tz))
        with self.db.read() as session:
            deleted = set(session.scalars(select(Deletion.client)))
        return [client for client in self.inventory.clients
                if client.id not in deleted and client.contract.start < end
                and (client.contract.terminated_on is None
                     or client.contract.terminated_on >= start)]

    def _run_one(self, client: Client, month: str, now: dt.datetime,
                 due: dt.datetime) -> Report | None:
        with self.db.read() as session:
            latest = latest_report(session, client.id, month)
            latest_summary = latest.summary if latest is not None else None
        if latest is None and month != self._closed_months(now)[0]:
            return None  # an older month never reported: before this job existed
        if latest is not None and self.producer.summary(client.id, month, now) == latest_summary:
            return None
        produced = self.producer.produce(client.id, month, now)
        if produced.content.availability.error and now < due + WAIT_FOR_PROMETHEUS:
            log.warning("report of %s for %s waits for Prometheus: %s", client.id, month,
                        produced.content.availability.error)
            return None
        return self._store(client, month, produced, now)

    def _store(self, client: Client, month: str, produced: Produced,
               now: dt.datetime) -> Report | None:
        try:
            with self.db.write() as session:
                report = add_report(session, client.id, month, summary(produced.content),
                                    produced.html, produced.pdf, now,
                                    self.inventory.provider.timezone)
                rows = self.notifier.record_report(session, client.id,
                                                   report_message(self.inventory, client,
                                                                  report, produced.content))
        except IntegrityError:
            log.info("report of %s for %s stored by another replica", client.id, month)
            return None
        log.info("report of %s for %s stored: version %s, sha256 %s", client.id, month,
                 report.version, report.sha256)
        self.notifier.dispatch(rows)
        return report


def report_message(inventory: Inventory, client: Client, report: Report,
                   content: ReportContent) -> Message:
    """The email that carries a report (in French), with what changed for a new version."""
    month = words.month_name(report.month)
    provider = inventory.provider.name
    version = f" (version {report.version})" if report.version > 1 else ""
    lines = [f"Bonjour {client.name},", "",
             f"Veuillez trouver ci-joint le rapport mensuel d'infogérance et de monitoring de "
             f"{month}{version}."]
    if content.ledger is not None:
        lines.append(f"Montant à créditer sur la facture : "
                     f"{words.money(content.ledger['total'], content.ledger['currency'])}.")
    if report.changes:
        lines += ["", "Cette version remplace la précédente ; ce qui a changé :",
                  *(f"- {change}" for change in report.changes)]
    lines += ["", f"Empreinte SHA-256 du PDF : {report.sha256}"]
    return Message(REPORT, f"[{provider}] Rapport mensuel {month}{version} : {client.name}",
                   "\n".join(lines) + "\n" + signature(inventory), report_id=report.id)
