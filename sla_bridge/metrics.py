"""The bridge's metrics, for dashboards and alert rules.

Counters, the histogram and the Watchdog's gauge move as things happen (``BridgeMetrics``
observes the service);
everything else is read from the database at scrape time by :class:`StateCollector`.

No series is per incident: they are per client, severity and other bounded values, so that
/metrics grows with the inventory, not with the incidents (issue 15: at most ~20 series a client).
Each incident, its deadline and each ledger line are the API's and the console's
(``/incidents?client=&severity=``, ``/ledger?client=``). Counters carry no ``_created``
series (6 a client that nothing reads). Gauges of counts are absent where the count is 0:
dashboards add ``or vector(0)`` or sum where they need one.

    owl_incidents_total{client,severity}                       counter
    owl_sla_breaches_total{client,severity}                    counter
    owl_incident_time_to_acknowledge_seconds{severity}          histogram
    owl_bridge_watchdog_last_received_timestamp_seconds        gauge: the last delivery of the
        Watchdog, or the bridge's start until the first (Alertmanager re-sends it hourly)
    owl_bridge_deliveries_refused_total{status,reason}  webhook deliveries answered 4xx
        (Alertmanager does not retry them: their alerts are lost); reasons in REFUSAL_REASONS
    owl_bridge_alert_values_altered_total{reason}  label and annotation values of accepted
        deliveries changed to be stored: "replaced" (NUL, lone surrogate), "truncated"
    owl_bridge_alerts_unknown_severity_total{alertname}  alerts of accepted deliveries whose
        severity the contract does not know (stored without SLA); alertname cut to
        ALERTNAME_CHARS, at most MAX_UNKNOWN_ALERTNAMES of them, then "_other"
    owl_bridge_truncated_alerts_total  alerts Alertmanager's max_alerts left out of deliveries
    owl_bridge_truncated_alerts_fetched_total  of those, the firing ones the bridge fetched from
        Alertmanager's API instead (resolutions cannot be)
    owl_incidents_open{client,severity}  incidents not resolved
    owl_incidents_awaiting_acknowledgement{client,severity}  of those, the ones with an SLA
        pending whose deadline is still ahead
    owl_incident_next_deadline_timestamp_seconds{client,severity}  the nearest deadline of
        those (absent when none)
    owl_incidents_open_past_deadline{client,severity}  incidents not resolved whose deadline
        passed without an acknowledgement in time (breached, acknowledged since or not)
    owl_sla_penalty_rate{client}           this month's applied rate (after the cap)
    owl_sla_penalty_amount_euros{client}   this month's total
    owl_sla_penalty_cap_used_ratio{client} applied rate / cap
    owl_sla_ledger_lines_amount_euros{client,severity}  this month's ledger lines of the
        severity, summed, before the cap (the cap and rounding adjustments are in the total)
    owl_sla_month_incidents{client,severity,sla}  this month's incidents by SLA status, only
        the statuses that have incidents
    owl_maintenance_windows_active{client}
    owl_maintenance_site_covered{client,site}  1 while a planned window covers the site
    owl_notifications_unsent{client,kind}  client emails not (yet) accepted by the SMTP server
    owl_client_contract_info{client,tier,support_24_7,status} 1
    owl_client_monitoring_end_timestamp_seconds{client}  local midnight of the first day without
        monitoring (termination or end of trial), for the clients whose contract has one
    owl_client_data_without_contract{client} 1  data kept for a client who left the inventory
        without being terminated (section 9 cannot apply: see sla_bridge.retention)
"""

from __future__ import annotations

import datetime as dt
import threading
from collections import defaultdict
from decimal import Decimal
from zoneinfo import ZoneInfo

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import and_, case, func, or_, select

from sla_bridge.engine import lifecycle
from sla_bridge.engine.alerts import NO_SEVERITY, SEVERITIES, UNKNOWN_SEVERITY, AlertNotice
from sla_bridge.engine.ledger import month_of
from sla_bridge.notify import NO_RECIPIENT, SUPPRESSED
from sla_bridge.retention import clients_without_contract
from sla_bridge.service import Observer, SlaService
from sla_bridge.storage.schema import Incident, Maintenance, Notification
from sla_bridge.storage.windows import in_progress, window_of
from sla_bridge.webhook import REPLACED, TRUNCATED, bounded

ACK_BUCKETS = (60, 300, 900, 1800, 3600, 2 * 3600, 4 * 3600, 8 * 3600, 24 * 3600, 48 * 3600,
               96 * 3600)


# Why the webhook refused a delivery: a closed list, so that the label stays bounded.
REFUSAL_REASONS = ("unauthenticated", "forbidden", "too_large", "not_json", "invalid_payload",
                   "other")
# The alertname of an alert with an unknown severity is anyone's text: cut, and only so many.
ALERTNAME_CHARS = 64
MAX_UNKNOWN_ALERTNAMES = 100
OTHER_ALERTNAMES = "_other"
_SEVERITY_LABELS = frozenset((*SEVERITIES, NO_SEVERITY, UNKNOWN_SEVERITY))


def _client_label(client: str | None) -> str:
    return client or "_internal"


def severity_label(severity: str | None) -> str:
    """A stored severity as a metric label: rows stored before severities were bounded may hold
    any text, which must not become a series of its own."""
    return severity if severity in _SEVERITY_LABELS else UNKNOWN_SEVERITY


class WithoutCreated(Collector):
    """The collectors of ``registry`` without the ``_created`` samples prometheus_client adds to
    every counter and histogram: Prometheus stores each as a series of its own, and nothing here
    reads them."""

    def __init__(self, registry: CollectorRegistry):
        self.registry = registry

    def collect(self):
        for family in self.registry.collect():
            family.samples = [sample for sample in family.samples
                              if not sample.name.endswith("_created")]
            yield family


class ClientSeverityCounter(Collector):
    """A counter by client and severity whose series exist from the start for every client of
    the inventory, so that increase() sees a client's first incident. One count per pair in a
    dict rather than a prometheus_client child per series: 10,000 clients made 60,000 children
    of two counters, 1.8 s of the bridge's start."""

    LABELS = ("client", "severity")

    def __init__(self, name: str, documentation: str, clients: list[str]):
        self.name = name
        self.documentation = documentation
        self.clients = list(clients)
        self._counts: dict[tuple[str, str], float] = {}
        self._lock = threading.Lock()

    def inc(self, client: str, severity: str) -> None:
        with self._lock:
            self._counts[client, severity] = self._counts.get((client, severity), 0.0) + 1

    def describe(self):
        yield CounterMetricFamily(self.name, self.documentation, labels=self.LABELS)

    def collect(self):
        family = CounterMetricFamily(self.name, self.documentation, labels=self.LABELS)
        with self._lock:
            counts = dict(self._counts)
        for severity in SEVERITIES:
            for client in self.clients:
                family.add_metric((client, severity), counts.pop((client, severity), 0.0))
        for labels, value in counts.items():  # other clients (none) and severities, as they came
            family.add_metric(labels, value)
        yield family


class BridgeMetrics(Observer):
    def __init__(self, registry: CollectorRegistry, clients: list[str], started_at: dt.datetime):
        exposed, registry = registry, CollectorRegistry()
        exposed.register(WithoutCreated(registry))
        self.incidents = ClientSeverityCounter(
            "owl_incidents", "Incidents opened, by client and severity.", clients)
        self.breaches = ClientSeverityCounter(
            "owl_sla_breaches", "Incidents whose response deadline passed without an "
            "acknowledgement.", clients)
        registry.register(self.incidents)
        registry.register(self.breaches)
        self.time_to_ack = Histogram("owl_incident_time_to_acknowledge_seconds",
                                     "From clock start to the first acknowledgement.",
                                     ["severity"], buckets=ACK_BUCKETS, registry=registry)
        self.watchdog = Gauge("owl_bridge_watchdog_last_received_timestamp_seconds",
                              "When Alertmanager last delivered the Watchdog to the bridge (the "
                              "bridge's start until it first does).", registry=registry)
        self.watchdog.set(started_at.timestamp())
        self.refusals = Counter("owl_bridge_deliveries_refused",
                                "Webhook deliveries the bridge answered with a 4xx (Alertmanager "
                                "does not retry them).", ["status", "reason"], registry=registry)
        self.altered = Counter("owl_bridge_alert_values_altered",
                               "Label and annotation values changed to be stored (NUL or lone "
                               "surrogate replaced, over-long value truncated).", ["reason"],
                               registry=registry)
        self.unknown_severity = Counter("owl_bridge_alerts_unknown_severity",
                                        "Alerts received with a severity the contract does not "
                                        "know, stored without SLA, by alert rule.",
                                        ["alertname"], registry=registry)
        self._unknown_alertnames: set[str] = set()
        self.truncated_alerts = Counter("owl_bridge_truncated_alerts",
                                        "Alerts Alertmanager's max_alerts left out of "
                                        "deliveries.", registry=registry)
        self.truncated_fetched = Counter("owl_bridge_truncated_alerts_fetched",
                                         "Alerts left out of a delivery by max_alerts, fetched "
                                         "from Alertmanager's API.", registry=registry)
        for reason in (REPLACED, TRUNCATED):
            self.altered.labels(reason)
        for status, reason in ((400, "invalid_payload"), (401, "unauthenticated"),
                               (413, "too_large")):
            self.refusals.labels(str(status), reason)
        for severity in SEVERITIES:
            self.time_to_ack.labels(severity)

    def created(self, incident: Incident) -> None:
        self.incidents.inc(_client_label(incident.client), severity_label(incident.severity))

    def delivery_refused(self, status: int, reason: str) -> None:
        self.refusals.labels(str(status), reason if reason in REFUSAL_REASONS else "other").inc()

    def delivery_stored(self, notices: list[AlertNotice], altered: dict[str, int]) -> None:
        """An accepted delivery: what had to change to be stored, and unknown severities."""
        for reason, count in altered.items():
            self.altered.labels(reason).inc(count)
        for notice in notices:
            if notice.unknown_severity:
                self.unknown_severity.labels(self._unknown_alertname(notice.alertname)).inc()

    def truncated(self, left_out: int, fetched: int) -> None:
        self.truncated_alerts.inc(left_out)
        self.truncated_fetched.inc(fetched)

    def _unknown_alertname(self, alertname: str) -> str:
        label = bounded(alertname, ALERTNAME_CHARS)
        if label not in self._unknown_alertnames:
            if len(self._unknown_alertnames) >= MAX_UNKNOWN_ALERTNAMES:
                return OTHER_ALERTNAMES
            self._unknown_alertnames.add(label)
        return label

    def heartbeat(self, at: dt.datetime) -> None:
        self.watchdog.set(at.timestamp())

    def breached(self, incident: Incident) -> None:
        self.breaches.inc(_client_label(incident.client), severity_label(incident.severity))

    def acknowledged(self, incident: Incident) -> None:
        seconds = (incident.acknowledged_at - incident.started_at).total_seconds()
        self.time_to_ack.labels(severity_label(incident.severity)).observe(max(seconds, 0))


class StateCollector(Collector):
    """Open incidents, deadlines, this month's penalties, maintenance and contracts.

    "This month" is the calendar month in ``timezone``, the provider's, as in the ledgers.
    """

    def __init__(self, service: SlaService, sites: dict[str, list[str]], timezone: ZoneInfo):
        self.service = service
        self.sites = sites  # client -> its site ids, for windows that cover every target
        self.timezone = timezone

    def collect(self):
        now = self.service.clock()
        month = month_of(now, self.timezone)
        yield from self._open_incidents(now)
        yield from self._penalties(month)
        yield self._month_incidents(month, now)
        yield from self._maintenance(now)
        yield self._unsent_notifications()
        yield self._contracts()
        yield self._monitoring_ends()
        yield self._without_contract()

    def _open_incidents(self, now):
        """By client and severity: the unresolved incidents; those awaiting an acknowledgement
        (SLA pending, deadline ahead) and their nearest deadline; those past their deadline."""
        counts = GaugeMetricFamily("owl_incidents_open", "Incidents not yet resolved.",
                                   labels=["client", "severity"])
        awaiting = GaugeMetricFamily(
            "owl_incidents_awaiting_acknowledgement",
            "Unresolved incidents whose SLA is pending, their response deadline still ahead.",
            labels=["client", "severity"])
        next_deadline = GaugeMetricFamily(
            "owl_incident_next_deadline_timestamp_seconds",
            "The nearest response deadline of the incidents awaiting acknowledgement.",
            labels=["client", "severity"])
        past = GaugeMetricFamily(
            "owl_incidents_open_past_deadline",
            "Unresolved incidents whose response deadline passed without an acknowledgement "
            "in time (breached).", labels=["client", "severity"])
        with self.service.db.read() as session:
            grouped = session.execute(
                select(Incident.client, Incident.severity, func.count())
                .where(Incident.state != "resolved")
                .group_by(Incident.client, Incident.severity)).all()
            # a pending one past its deadline is breached already (lifecycle.status_as_of)
            ahead = and_(Incident.sla == lifecycle.PENDING, Incident.deadline >= now)
            with_sla = session.execute(
                select(Incident.client, Incident.severity, func.count(),
                       func.sum(case((ahead, 1), else_=0)),
                       func.min(case((ahead, Incident.deadline))))
                .where(Incident.state != "resolved", Incident.deadline.is_not(None),
                       Incident.sla.in_((lifecycle.PENDING, lifecycle.BREACHED)))
                .group_by(Incident.client, Incident.severity)).all()
        open_counts, awaiting_counts, past_counts = (defaultdict(int) for _ in range(3))
        nearest = {}
        for client, severity, count in grouped:
            open_counts[_client_label(client), severity_label(severity)] += count
        for client, severity, count, pending, deadline in with_sla:
            labels = _client_label(client), severity_label(severity)
            awaiting_counts[labels] += pending
            past_counts[labels] += count - pending
            if deadline is not None:  # several stored severities may share a label
                nearest[labels] = min(nearest.get(labels, deadline), deadline)
        for family, values in ((counts, open_counts), (awaiting, awaiting_counts),
                               (past, past_counts)):
            for labels, count in sorted(values.items()):
                if count:
                    family.add_metric(list(labels), count)
        for labels, deadline in sorted(nearest.items()):
            next_deadline.add_metric(list(labels), deadline.timestamp())
        yield counts
        yield awaiting
        yield next_deadline
        yield past

    def _penalties(self, month):
        rate = GaugeMetricFamily("owl_sla_penalty_rate",
                                 "This month's applied penalty rate (after the cap).",
                                 labels=["client"])
        amount = GaugeMetricFamily("owl_sla_penalty_amount_euros",
                                   "This month's penalty total.", labels=["client"])
        used = GaugeMetricFamily("owl_sla_penalty_cap_used_ratio",
                                 "Share of the monthly penalty cap used.", labels=["client"])
        ledgers = self.service.ledgers_of_month(month)
        lines = GaugeMetricFamily(
            "owl_sla_ledger_lines_amount_euros",
            "This month's penalty ledger lines of the severity, summed, before the cap.",
            labels=["client", "severity"])
        for ledger in ledgers:
            by_severity = defaultdict(Decimal)
            for line in ledger.lines:
                if line.kind == "breach":  # the cap and rounding adjustments are in the total
                    by_severity[severity_label(line.severity)] += line.amount
            for severity, total in sorted(by_severity.items()):
                lines.add_metric([ledger.client, severity], float(total))
            rate.add_metric([ledger.client], float(ledger.applied_rate))
            amount.add_metric([ledger.client], float(ledger.total))
            used.add_metric([ledger.client], float(ledger.applied_rate / ledger.cap_rate)
                            if ledger.cap_rate else 0.0)
        yield rate
        yield amount
        yield used
        yield lines

    def _month_incidents(self, month, now):
        family = GaugeMetricFamily("owl_sla_month_incidents",
                                   "This month's incidents by severity and SLA status (none: "
                                   "no series).",
                                   labels=["client", "severity", "sla"])
        with self.service.db.read() as session:
            # the month's rows of every client, not an IN list of the inventory's clients:
            # PostgreSQL refuses more than 65,535 parameters
            rows = session.execute(
                select(Incident.client, Incident.severity, Incident.sla, Incident.deadline)
                .where(Incident.month == month)).all()
        counts = defaultdict(int)
        for client, severity, sla, deadline in rows:
            if client in self.service.terms:
                counts[client, severity_label(severity),
                       lifecycle.status_as_of(sla, deadline, now)] += 1
        for labels, count in sorted(counts.items()):  # only the statuses that have incidents
            family.add_metric(list(labels), count)
        return family

    def _maintenance(self, now):
        family = GaugeMetricFamily("owl_maintenance_windows_active",
                                   "Maintenance windows in progress.", labels=["client"])
        with self.service.db.read() as session:
            rows = session.scalars(select(Maintenance).where(in_progress(now))).all()
        active = defaultdict(int)
        covered = GaugeMetricFamily(
            "owl_maintenance_site_covered",
            "1 while a planned window (announced 48 h ahead) covers the site: availability "
            "leaves these minutes out.", labels=["client", "site"])
        covered_sites = set()
        for row in rows:
            active[row.client] += 1
            window = window_of(row)
            covered_sites.update((row.client, site) for site in self.sites.get(row.client, [])
                                 if window.covers(row.client, (site,), now))
        for client in sorted(self.service.terms):
            family.add_metric([client], active.get(client, 0))
        for client, site in sorted(covered_sites):
            covered.add_metric([client, site], 1)
        yield family
        yield covered

    def _unsent_notifications(self):
        """Messages still to go out; those deliberately not sent (suppressed, no recipient)
        are not counted."""
        family = GaugeMetricFamily("owl_notifications_unsent",
                                   "Client notifications not accepted by the SMTP server yet.",
                                   labels=["client", "kind"])
        deliberate = or_(Notification.error.startswith(SUPPRESSED),
                         Notification.error.startswith(NO_RECIPIENT))
        with self.service.db.read() as session:
            rows = session.execute(
                select(Notification.client, Notification.kind, func.count())
                .where(Notification.sent_at.is_(None),
                       or_(Notification.error.is_(None), ~deliberate))
                .group_by(Notification.client, Notification.kind)).all()
        for client, kind, count in rows:
            family.add_metric([client, kind], count)
        return family

    def _contracts(self):
        family = InfoMetricFamily("owl_client_contract", "The client's contract, to join on.",
                                  labels=["client"])
        for client, terms in sorted(self.service.terms.items()):
            family.add_metric([client], {"tier": str(terms.tier),
                                         "support_24_7": str(terms.support_24_7).lower(),
                                         "status": terms.status})
        return family

    def _monitoring_ends(self):
        family = GaugeMetricFamily(
            "owl_client_monitoring_end_timestamp_seconds",
            "When monitoring stops for the client (termination or end of trial), in Unix time.",
            labels=["client"])
        for client, terms in sorted(self.service.terms.items()):
            if (end := terms.monitoring_end) is not None:
                family.add_metric([client], end.timestamp())
        return family

    def _without_contract(self):
        family = GaugeMetricFamily(
            "owl_client_data_without_contract",
            "1 for a client whose data is kept though it left the inventory unterminated.",
            labels=["client"])
        for client in clients_without_contract(self.service.db, self.service.terms):
            family.add_metric([client], 1)
        return family
