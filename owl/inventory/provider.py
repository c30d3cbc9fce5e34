"""The provider: its timezone and calendar, on-call receivers, SMTP, the stack and the probes."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import Field, model_validator

from owl.inventory.contract import Calendar
from owl.inventory.fields import Duration, SecretFile, StrictModel, TimezoneName, WebAddress
from owl.inventory.high_availability import HighAvailability, balancer_apart
from owl.inventory.long_term_store import LongTermStore, PrometheusShard, shards_apart
from owl.tsdb_retention import DEFAULT as DEFAULT_RETENTION
from owl.tsdb_retention import Retention

DEFAULT_TIMEZONE = "Europe/Paris"
DEFAULT_BRIDGE = "127.0.0.1:9180"


class Smtp(StrictModel):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "monitoring@owl-systems.example"
    username: str | None = None
    password_file: SecretFile | None = None
    starttls: bool = False


class Receiver(StrictModel):
    """Where on-call notifications go: an email address, a webhook, or both."""

    email: str | None = None
    webhook_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    webhook_token_file: SecretFile | None = None

    @model_validator(mode="after")
    def _has_destination(self):
        if not self.email and not self.webhook_url:
            raise ValueError("a receiver needs an email or a webhook_url")
        return self


class Receivers(StrictModel):
    """On-call receivers by contract channel (section 5a)."""

    pager: Receiver | None = None
    phone_email: Receiver | None = None
    ticket: Receiver | None = None
    watchdog: Receiver | None = None  # a dead man's switch that expects the Watchdog every minute


class Stack(StrictModel):
    """Where the parts of the stack listen, as Prometheus and Alertmanager reach them; and the
    bridge's console as on-call engineers' browsers reach it (``console_url``, default
    ``http://`` + ``bridge``, without trailing slash)."""

    prometheus: str = "127.0.0.1:9090"
    alertmanager: str = "127.0.0.1:9093"
    blackbox_exporter: str = "127.0.0.1:9115"
    exporter: str = "127.0.0.1:9181"
    bridge: str = DEFAULT_BRIDGE
    console_url: WebAddress = f"http://{DEFAULT_BRIDGE}"
    scrape_interval: Duration = dt.timedelta(seconds=30)
    evaluation_interval: Duration = dt.timedelta(seconds=30)
    retention: Retention = DEFAULT_RETENTION  # how long Prometheus keeps samples
    ha: HighAvailability | None = None  # the replicas of --profile ha; bridge is the balancer
    # the global view every Prometheus writes to, and the shards of --shards N
    long_term_store: LongTermStore | None = None
    shards: list[PrometheusShard] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _console_on_the_bridge(cls, data):
        """Without ``console_url``, the console is the bridge's own address."""
        if isinstance(data, dict) and data.get("console_url") is None \
                and isinstance(data.get("bridge", DEFAULT_BRIDGE), str):
            data = {**data, "console_url": f"http://{data.get('bridge', DEFAULT_BRIDGE)}"}
        return data

    @model_validator(mode="after")
    def _balancer_apart_from_the_bridges(self):
        balancer_apart(self.bridge, self.prometheus, self.alertmanager, self.ha)
        return self

    @model_validator(mode="after")
    def _shards_apart(self):
        shards_apart(self.shards)
        return self

    @property
    def query_url(self) -> str:
        """The Prometheus query API the dashboards and the reports read: the long-term
        store's when there is one, else Prometheus'."""
        if self.long_term_store is not None:
            return self.long_term_store.query_url
        return f"http://{self.prometheus}"


# How often each probe kind runs unless the inventory says otherwise; the exporter's probes
# default to the same intervals.
DEFAULT_PROBE_INTERVALS = {
    "cms": dt.timedelta(hours=6),
    "vulnerabilities": dt.timedelta(hours=12),
    "shop": dt.timedelta(minutes=15),
    "backup": dt.timedelta(hours=1),
    "domain": dt.timedelta(days=1),
    "content": dt.timedelta(minutes=15),  # a replaced home page seen within the hour
    "tls": dt.timedelta(hours=12),  # TLS settings change with a deploy or a renewal, rarely
}
PROBE_KINDS = tuple(DEFAULT_PROBE_INTERVALS)


class ProbeSchedule(StrictModel):
    """How often a probe kind runs: ``interval``, or per tier where ``by_tier`` says."""

    interval: Duration
    by_tier: dict[Literal[0, 1, 2, 3, 4], Duration] = Field(default_factory=dict)


def _default_schedule(kind: str) -> ProbeSchedule:
    return ProbeSchedule(interval=DEFAULT_PROBE_INTERVALS[kind])


class Probes(StrictModel):
    """Schedules per probe kind, and the local data the probes read."""

    cms: ProbeSchedule = _default_schedule("cms")
    vulnerabilities: ProbeSchedule = _default_schedule("vulnerabilities")
    shop: ProbeSchedule = _default_schedule("shop")
    backup: ProbeSchedule = _default_schedule("backup")
    domain: ProbeSchedule = _default_schedule("domain")
    content: ProbeSchedule = _default_schedule("content")
    tls: ProbeSchedule = _default_schedule("tls")
    cms_catalogue: str | None = None  # file of latest/supported versions; default: shipped
    vulnerability_db: str | None = None  # normalized (OSV-style) database file
    # feed name (wordfence, friendsofphp, cisa-kev) -> URL replacing its public address
    vulnerability_feeds: dict[Literal["wordfence", "friendsofphp", "cisa-kev"],
                              Annotated[str, Field(pattern=r"^https?://\S+$")]] = \
        Field(default_factory=dict)
    wordfence_api_key_file: str | None = None  # the Wordfence Intelligence API key, in a file
    # how often the exporter refreshes the catalogue and the database from upstream; null: never
    data_refresh: Duration | None = dt.timedelta(days=1)
    rdap_server: str = Field(default="https://rdap.org/", pattern=r"^https?://\S+$")


class Reports(StrictModel):
    """The monthly client reports: produced and emailed on the first working day of the
    provider's calendar after each month, at ``send_at`` (provider's time), to each client's
    contacts and to ``recipients``, the provider's own copy. ``send_at`` is quoted in YAML
    ("08:00"): unquoted, YAML 1.1 reads 08:00 as a number of minutes."""

    send_at: str = Field(default="08:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$")
    recipients: list[str] = Field(default_factory=list)

    @property
    def send_time(self) -> dt.time:
        return dt.time.fromisoformat(self.send_at)


class Provider(StrictModel):
    name: str = Field(min_length=1)
    timezone: TimezoneName = DEFAULT_TIMEZONE
    calendar: Calendar = Field(default_factory=Calendar)
    receivers: Receivers = Field(default_factory=Receivers)
    smtp: Smtp = Field(default_factory=Smtp)
    stack: Stack = Field(default_factory=Stack)
    probes: Probes = Field(default_factory=Probes)
    reports: Reports = Field(default_factory=Reports)
