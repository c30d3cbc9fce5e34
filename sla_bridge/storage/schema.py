"""Tables of the bridge. Times are stored in UTC; money and rates as exact decimal strings."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (JSON, BigInteger, Boolean, DateTime, ForeignKey, Index, Integer,
                        LargeBinary, String, Text, TypeDecorator, UniqueConstraint)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

UTC = dt.timezone.utc


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes in and out, whatever the database keeps.

    PostgreSQL keeps ``timestamptz``. SQLite keeps text, written here directly in the form
    SQLAlchemy's SQLite ``DATETIME`` uses (``2025-03-07 09:00:00.000000``, UTC): the bridge binds
    several datetimes per alert, and one conversion instead of two matters in a storm.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(26))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; times must be aware")
        if value.tzinfo is not UTC:
            value = value.astimezone(UTC)
        if dialect.name == "sqlite":  # isoformat: several times faster than strftime
            return value.replace(tzinfo=None).isoformat(" ", "microseconds")
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# BIGINT on PostgreSQL, INTEGER (the rowid alias) on SQLite so ids autoincrement on both.
Id = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


class Event(Base):
    """The full history: alerts received, operators' actions, maintenance, contract changes.

    Alert events are unique on their ``dedup_key``: a redelivery inserts nothing, which is what
    makes the bridge idempotent under Alertmanager's at-least-once delivery.
    """

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(40), index=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    client: Mapped[str | None] = mapped_column(String(64), index=True)
    actor: Mapped[str | None] = mapped_column(String(128))
    incident_id: Mapped[int | None] = mapped_column(Id, index=True)
    dedup_key: Mapped[str | None] = mapped_column(String(255), unique=True)
    payload: Mapped[dict] = mapped_column(JSON)


class Incident(Base):
    __tablename__ = "incidents"
    __table_args__ = (
        UniqueConstraint("fingerprint", "first_starts_at", name="uq_incident_episode"),
        Index("ix_incidents_client_month", "client", "month"),
        Index("ix_incidents_sla_deadline", "sla", "deadline"),
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), index=True)
    client: Mapped[str | None] = mapped_column(String(64))
    alertname: Mapped[str] = mapped_column(String(255))
    severity: Mapped[str] = mapped_column(String(32))
    target: Mapped[str | None] = mapped_column(String(128))
    labels: Mapped[dict] = mapped_column(JSON)
    summary: Mapped[str] = mapped_column(Text, default="")
    description: Mapped[str] = mapped_column(Text, default="")
    security: Mapped[bool] = mapped_column(Boolean, default=False)
    first_starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    last_starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    started_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    month: Mapped[str] = mapped_column(String(7))
    deadline: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    acknowledged_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(128))
    resolved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    state: Mapped[str] = mapped_column(String(16), index=True)
    sla_basis: Mapped[str] = mapped_column(String(32))
    sla: Mapped[str] = mapped_column(String(32))
    penalty_rate: Mapped[str] = mapped_column(String(16), default="0")
    maintenance_id: Mapped[int | None] = mapped_column(Id)
    exclusion_reason: Mapped[str | None] = mapped_column(String(64))
    exclusion_note: Mapped[str | None] = mapped_column(Text)
    excluded_by: Mapped[str | None] = mapped_column(String(128))
    excluded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    security_notified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Token(Base):
    """Operator and client API tokens, kept as SHA-256 digests (they are random, 256-bit)."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16))  # "operator" | "client"
    name: Mapped[str] = mapped_column(String(128))
    client: Mapped[str | None] = mapped_column(String(64))
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    # the token's first characters, to tell tokens apart in `owl token list` (not a secret:
    # the rest of the token is 256 random bits); null for tokens made before it was kept
    prefix: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class WebSession(Base):
    """A signed-in browser of the console or the portal: the cookie holds a random secret, kept
    here as its SHA-256 digest. A session is valid while it has not ended nor expired and its
    token is not revoked (sla_bridge.web.sessions)."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    token_id: Mapped[int] = mapped_column(Id, ForeignKey("tokens.id"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class Probe(Base):
    """The time of the last successful write of a named probe (``/healthz`` writes one)."""

    __tablename__ = "probes"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class IdempotencyKey(Base):
    """The answer given to an operator's write carrying an ``Idempotency-Key``, to give it again
    on a retry (:mod:`sla_bridge.idempotency`).

    ``principal`` is the token's ``kind:name``. ``request`` is a digest of the method, path and
    body: the same key with another request is refused rather than answered with the first
    request's result.
    """

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("principal", "key", name="uq_idempotency_principal_key"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    principal: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(255))
    request: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict] = mapped_column(JSON)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)


class Maintenance(Base):
    __tablename__ = "maintenances"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    targets: Mapped[list | None] = mapped_column(JSON)
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ends_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    description: Mapped[str] = mapped_column(Text)
    emergency: Mapped[bool] = mapped_column(Boolean, default=False)
    announced_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    announced_by: Mapped[str] = mapped_column(String(128))
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    cancelled_by: Mapped[str | None] = mapped_column(String(128))
    silence_ids: Mapped[list | None] = mapped_column(JSON)  # one silence per target kind


class Notification(Base):
    """Every message sent (or attempted, or suppressed) to a client, with its time.

    Recorded before it is sent; ``sent_at`` is when the SMTP relay accepted it, ``error`` why it
    was not (see :mod:`sla_bridge.notify`).
    """

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    incident_id: Mapped[int | None] = mapped_column(Id)
    maintenance_id: Mapped[int | None] = mapped_column(Id)
    report_id: Mapped[int | None] = mapped_column(Id)  # a monthly report, sent as attachment
    recipients: Mapped[list] = mapped_column(JSON)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)


class Report(Base):
    """A client's monthly report as produced: never changed once stored. A closed month whose
    records change gets a new version, listing what changed (sla_bridge/reports/store.py)."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("client", "month", "version", name="uq_report_version"),)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(64), index=True)
    month: Mapped[str] = mapped_column(String(7))
    version: Mapped[int] = mapped_column(Integer)
    produced_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    sha256: Mapped[str] = mapped_column(String(64))  # of the PDF
    pdf: Mapped[bytes] = mapped_column(LargeBinary)
    html: Mapped[str] = mapped_column(Text)
    summary: Mapped[dict] = mapped_column(JSON)  # sla_bridge.reports.model.summary
    changes: Mapped[list] = mapped_column(JSON)  # since the previous version, in French

    @property
    def filename(self) -> str:
        return report_filename(self.client, self.month, self.version)


def report_filename(client: str, month: str, version: int) -> str:
    return f"rapport-{client}-{month}-v{version}.pdf"


class Deletion(Base):
    """The only trace left of a terminated client once its data is deleted (section 9)."""

    __tablename__ = "deletions"

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(64), unique=True)
    terminated_on: Mapped[str] = mapped_column(String(10))  # ISO date
    deleted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    counts: Mapped[dict] = mapped_column(JSON)
