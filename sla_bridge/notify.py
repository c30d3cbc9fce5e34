"""Client notifications by email: maintenance windows announced or cancelled, security incidents.

Messages leave through the provider's SMTP relay (inventory ``provider.smtp``, with STARTTLS when
``starttls`` is set) for the client's ``contacts.email``. Delivery is at least once, and no
request ever waits on SMTP:

- A message is first written to the ``notifications`` table, in the same transaction as what it
  announces when there is one (a maintenance window), then handed to a small pool of worker
  threads. The row ends with ``sent_at``, the moment the relay accepted the message, or with
  ``error``.
- A suspended or terminated client gets nothing (contract section 9): the row is kept, its
  ``error`` starting with ``suppressed:``. A client without addresses gets ``no recipient:``.
  Neither is ever sent.
- :meth:`Notifier.retry`, a scheduled job, sends again for a day what failed or what a stopped
  process left unsent, and records the notification of any security incident that has none (the
  process stopped between storing the incident and recording its notification). Each attempt is
  claimed by a compare-and-set on ``attempts``: two replicas never send the same row at once.

The SMTP password comes from ``OWL_SMTP_PASSWORD`` or from ``smtp.password_file``, never from the
inventory itself, and is never logged.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import ssl
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from owl.inventory import Inventory, Smtp
from sla_bridge.engine.terms import ClientTerms
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Incident, Maintenance, Notification, Report

log = logging.getLogger("owl.bridge.notify")

SECURITY, MAINTENANCE_CREATED, MAINTENANCE_CANCELLED = (
    "security", "maintenance_created", "maintenance_cancelled")
# The monthly report, to the client and, as its own row, the provider's copy (which section 9's
# suppression does not concern: the provider is not the client).
REPORT, REPORT_COPY = "report", "report_copy"
SUPPRESSED = "suppressed: "
NO_RECIPIENT = "no recipient: "
PASSWORD_ENV = "OWL_SMTP_PASSWORD"
RETRY_FOR = dt.timedelta(hours=24)
# A row still unsent after this has lost its worker (the process stopped): send it again.
STALE_AFTER = dt.timedelta(minutes=5)
SMTP_TIMEOUT = 20.0


def read_smtp_password(smtp: Smtp) -> str | None:
    """``OWL_SMTP_PASSWORD`` wins over ``smtp.password_file`` (its first line)."""
    password = os.environ.get(PASSWORD_ENV)
    if password:
        return password
    if not smtp.password_file:
        return None
    lines = Path(smtp.password_file).read_text(encoding="utf-8").splitlines()
    if not lines or not lines[0]:
        raise ValueError(f"{smtp.password_file}: the SMTP password file is empty")
    return lines[0]


@dataclass(frozen=True)
class Message:
    kind: str
    subject: str
    body: str
    incident_id: int | None = None
    maintenance_id: int | None = None
    report_id: int | None = None  # attached as its PDF


class Notifier:
    """Records client notifications and sends them off the caller's thread."""

    def __init__(self, db: Database, inventory: Inventory,
                 terms_of: Callable[[str], ClientTerms | None],
                 clock: Callable[[], dt.datetime], password: str | None = None,
                 workers: int = 2):
        self.db = db
        self.inventory = inventory
        self.terms_of = terms_of
        self.clock = clock
        self.smtp = inventory.provider.smtp
        self._password = password
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="owl-notify")
        self._pending: set[Future] = set()
        self._lock = threading.Lock()

    # --- recording ---------------------------------------------------------------------------

    def record(self, session: Session, client: str, message: Message) -> Notification:
        """Write ``message`` for ``client`` in the caller's transaction; ``dispatch`` it after."""
        recipients = list(self.inventory.client(client).contacts.email)
        return self._add(session, client, message, recipients,
                         self._refusal(client, recipients, self.clock()))

    def record_report(self, session: Session, client: str, message: Message
                      ) -> list[Notification]:
        """The report's message to ``client``, and the provider's copy when it wants one."""
        rows = [self.record(session, client, message)]
        copy_to = list(self.inventory.provider.reports.recipients)
        if copy_to:
            copy = Message(REPORT_COPY, message.subject, message.body,
                           report_id=message.report_id)
            rows.append(self._add(session, client, copy, copy_to, None))
        return rows

    def _add(self, session: Session, client: str, message: Message, recipients: list[str],
             error: str | None) -> Notification:
        row = Notification(client=client, kind=message.kind, incident_id=message.incident_id,
                           maintenance_id=message.maintenance_id, report_id=message.report_id,
                           recipients=recipients, subject=message.subject, body=message.body,
                           created_at=self.clock(), attempts=0, error=error)
        session.add(row)
        session.flush()
        return row

    def _refusal(self, client: str, recipients: list[str], now: dt.datetime) -> str | None:
        """Why nothing may be sent to ``client`` (section 9), or None."""
        terms = self.terms_of(client)
        if terms is not None and terms.suspended_at(now):
            return SUPPRESSED + "client suspended"
        if terms is not None and terms.terminated_at(now):
            return SUPPRESSED + "contract terminated"
        if not recipients:
            return NO_RECIPIENT + "the client has no contacts.email in the inventory"
        return None

    def dispatch(self, rows: Iterable[Notification]) -> None:
        """Send the recorded ``rows`` that may be sent, on the worker threads."""
        for row in rows:
            if row.error is None:
                future = self._pool.submit(self._attempt_logged, row.id, row.attempts)
                with self._lock:
                    self._pending.add(future)
                future.add_done_callback(self._forget)

    def notify_security(self, incidents: Iterable[Incident]) -> None:
        """Tell each incident's client, now, of a new security incident (section 8)."""
        with self.db.write() as session:
            rows = [self.record(session, incident.client, security_message(self.inventory,
                                                                           incident))
                    for incident in incidents if self._is_client(incident.client)]
        self.dispatch(rows)

    def _is_client(self, client: str | None) -> bool:
        return client is not None and self.inventory.client(client) is not None

    # --- sending -----------------------------------------------------------------------------

    def retry(self) -> int:
        """The scheduled job: send what is due again; return how many went out."""
        self._record_missing_security()
        now = self.clock()
        final = or_(Notification.error.startswith(SUPPRESSED),
                    Notification.error.startswith(NO_RECIPIENT))
        with self.db.read() as session:
            due = session.execute(select(Notification.id, Notification.attempts).where(
                Notification.sent_at.is_(None), Notification.created_at > now - RETRY_FOR,
                or_(and_(Notification.error.is_not(None), ~final),
                    and_(Notification.error.is_(None),
                         Notification.created_at < now - STALE_AFTER)))
                .order_by(Notification.id)).all()
        return sum(self._attempt(row_id, attempts) for row_id, attempts in due)

    def _record_missing_security(self) -> None:
        now = self.clock()
        recorded = select(Notification.incident_id).where(Notification.kind == SECURITY,
                                                          Notification.incident_id.is_not(None))
        with self.db.write() as session:
            incidents = session.scalars(select(Incident).where(
                Incident.security.is_(True), Incident.created_at > now - RETRY_FOR,
                Incident.created_at < now - STALE_AFTER, Incident.id.not_in(recorded))).all()
            rows = [self.record(session, incident.client, security_message(self.inventory,
                                                                           incident))
                    for incident in incidents if self._is_client(incident.client)]
        self.dispatch(rows)

    def _attempt_logged(self, notification_id: int, attempts: int) -> None:
        try:
            self._attempt(notification_id, attempts)
        except Exception:  # a worker thread has no caller to report to; retry() tries again
            log.exception("notification %s: attempt failed", notification_id)

    def _attempt(self, notification_id: int, attempts: int) -> bool:
        """Send one notification unless someone else is; record the outcome. True if sent."""
        with self.db.write() as session:
            claimed = session.execute(update(Notification).where(
                Notification.id == notification_id, Notification.attempts == attempts,
                Notification.sent_at.is_(None)).values(attempts=attempts + 1)).rowcount
            row = session.get(Notification, notification_id) if claimed else None
        if row is None:
            return False
        try:
            refused = self._send(row)
        except (smtplib.SMTPException, OSError) as exc:
            log.warning("notification %s to %s not sent: %s", row.id, row.client,
                        _describe(exc))
            self._record_outcome(row.id, None, _describe(exc))
            return False
        sent_at = self.clock()
        self._record_outcome(row.id, sent_at,
                             f"refused for {', '.join(sorted(refused))}" if refused else None)
        return True

    def _send(self, row: Notification) -> dict:
        """Hand the message to the relay; return the recipients it refused (if not all)."""
        message = EmailMessage()
        message["From"] = self.smtp.sender
        message["To"] = ", ".join(row.recipients)
        message["Subject"] = row.subject
        message["Date"] = format_datetime(self.clock())
        message["Message-ID"] = make_msgid(f"owl-notification-{row.id}",
                                           self.smtp.sender.rpartition("@")[2] or None)
        message.set_content(row.body)
        if row.report_id is not None:
            self._attach_report(message, row.report_id)
        with smtplib.SMTP(self.smtp.host, self.smtp.port, timeout=SMTP_TIMEOUT) as relay:
            if self.smtp.starttls:
                relay.starttls(context=ssl.create_default_context())
            if self.smtp.username:
                relay.login(self.smtp.username, self._password or "")
            return relay.send_message(message)

    def _attach_report(self, message: EmailMessage, report_id: int) -> None:
        with self.db.read() as session:
            report = session.get(Report, report_id)
            pdf, name = report.pdf, report.filename
        message.add_attachment(pdf, maintype="application", subtype="pdf", filename=name)

    def _record_outcome(self, notification_id: int, sent_at: dt.datetime | None,
                        error: str | None) -> None:
        with self.db.write() as session:
            row = session.get(Notification, notification_id)
            row.sent_at, row.error = sent_at, error
            if sent_at is not None and row.kind == SECURITY and row.incident_id is not None:
                incident = session.get(Incident, row.incident_id)
                if incident is not None and incident.security_notified_at is None:
                    incident.security_notified_at = sent_at

    # --- lifetime ----------------------------------------------------------------------------

    def _forget(self, future: Future) -> None:
        with self._lock:
            self._pending.discard(future)

    def wait(self, timeout: float = 30.0) -> None:
        """Until every dispatched notification has been attempted (tests, shutdown)."""
        with self._lock:
            pending = list(self._pending)
        wait(pending, timeout=timeout)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _describe(exc: Exception) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(exc.smtp_error, bytes) \
            else str(exc.smtp_error)
        return f"SMTP {exc.smtp_code} {text}"
    return f"{exc.__class__.__name__}: {exc}"


# --- the messages (in French, the clients' language) ------------------------------------------

def _local(at: dt.datetime, timezone: str) -> str:
    return f"{at.astimezone(ZoneInfo(timezone)):%d/%m/%Y %H:%M}"


def signature(inventory: Inventory) -> str:
    return f"\n-- \n{inventory.provider.name}, supervision et infogérance\n"


def maintenance_message(inventory: Inventory, window: Maintenance, cancelled: bool) -> Message:
    """The announcement, or the cancellation, of a maintenance window."""
    client = inventory.client(window.client)
    timezone = inventory.timezone_for(client)
    span = (f"du {_local(window.starts_at, timezone)} au {_local(window.ends_at, timezone)} "
            f"({timezone})")
    nature = "Maintenance d'urgence" if window.emergency else "Maintenance planifiée"
    scope = ", ".join(window.targets) if window.targets else "tous vos sites et serveurs"
    if cancelled:
        subject = f"[{inventory.provider.name}] {nature} annulée : {span}"
        opening = f"La maintenance n° {window.id} prévue {span} est annulée."
    else:
        subject = f"[{inventory.provider.name}] {nature} {span}"
        opening = f"Nous vous informons d'une {nature.lower()} {span}."
    lines = [f"Bonjour {client.name},", "", opening, "",
             f"Référence : maintenance n° {window.id}", f"Périmètre : {scope}",
             f"Objet : {window.description}"]
    if window.emergency and not cancelled:
        lines += ["", ("S'agissant d'une maintenance d'urgence, nos engagements de délai de "
                       "réponse restent applicables pendant cette fenêtre (annexe, section 5b).")]
    return Message(MAINTENANCE_CANCELLED if cancelled else MAINTENANCE_CREATED,
                   subject, "\n".join(lines) + "\n" + signature(inventory),
                   maintenance_id=window.id)


def security_message(inventory: Inventory, incident: Incident) -> Message:
    """A security incident (annexe, section 8: the client is notified without delay)."""
    client = inventory.client(incident.client)
    timezone = inventory.timezone_for(client)
    what = incident.summary or incident.alertname
    lines = [f"Bonjour {client.name},", "",
             "Nous avons détecté un incident de sécurité sur vos services.", "",
             f"Référence : incident n° {incident.id}",
             f"Détecté le : {_local(incident.started_at, timezone)} ({timezone})",
             f"Cible : {incident.target or 'non précisée'}", f"Alerte : {incident.alertname}",
             f"Résumé : {what}"]
    if incident.description:
        lines.append(f"Détail : {incident.description}")
    lines += ["", ("Nos équipes mettent en œuvre les mesures d'urgence pour en limiter l'impact "
                   "et reviennent vers vous au plus vite (annexe, section 8).")]
    return Message(SECURITY, f"[{inventory.provider.name}] Incident de sécurité : {what}",
                   "\n".join(lines) + "\n" + signature(inventory), incident_id=incident.id)
