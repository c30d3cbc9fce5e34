"""The inventory: who the clients are, what their contracts say, and what is monitored.

One YAML file is the single source of truth; everything else (Prometheus targets, alert routing,
SLA deadlines, dashboards) is derived from it. Loading validates the whole file and reports every
problem with the file, line and field, and what was expected.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pydantic
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from owl.tsdb_retention import DEFAULT as DEFAULT_RETENTION
from owl.tsdb_retention import Retention
from owl.yamlsource import UnbuildableScalar, YamlSourceError, load_yaml

SHOP_CMS = {"woocommerce": "wordpress", "prestashop": "prestashop", "magento": "magento"}

_ID = r"^[a-z0-9][a-z0-9_-]{0,62}$"
_DURATION = re.compile(r"^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$")


class InventoryError(ValueError):
    """Every problem found in an inventory, one per line, each naming file, line and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _money(value):
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{value!r} is a float, which is not exact: "
                         'write the amount as a quoted string such as "1200.00"')
    if isinstance(value, (int, Decimal)):
        return Decimal(value)
    if isinstance(value, str):
        try:
            amount = Decimal(value)
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal amount such as \"1200.00\"") from None
        if not amount.is_finite() or amount < 0:
            raise ValueError(f"{value!r} must be a finite amount, zero or more")
        try:
            cents = amount.quantize(Decimal("0.01"))
        except InvalidOperation:  # more digits than decimal's precision, 28
            raise ValueError(f"{value!r} is too large an amount") from None
        if amount != cents:
            raise ValueError(f"{value!r} has more than two decimal places")
        return amount
    raise ValueError(f"expected a decimal amount as a quoted string, got {type(value).__name__}")


def _rate(value):
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError(f"{value!r} is a float, which is not exact: "
                         'write the rate as a quoted string such as "0.015"')
    if isinstance(value, (int, str, Decimal)):
        try:
            rate = Decimal(str(value))
        except InvalidOperation:
            raise ValueError(f"{value!r} is not a decimal rate such as \"0.015\"") from None
        if not rate.is_finite() or not Decimal(0) <= rate <= Decimal(1):
            raise ValueError(f"{value!r} must be a rate between 0 and 1 (\"0.03\" is 3 %)")
        return rate
    raise ValueError(f"expected a decimal rate as a quoted string, got {type(value).__name__}")


def parse_duration(value) -> dt.timedelta:
    """Prometheus-style duration: ``4h``, ``30m``, ``1d12h``, ``90s``."""
    if isinstance(value, dt.timedelta):
        return value
    if not isinstance(value, str) or not value or not (match := _DURATION.match(value)):
        raise ValueError(f"{value!r} is not a duration such as \"4h\", \"30m\" or \"2d\"")
    try:
        days, hours, minutes, seconds = (int(part or 0) for part in match.groups())
        return dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
    except (OverflowError, ValueError):  # timedelta's range; int's limit of 4300 digits
        raise ValueError(f"{value!r} is longer than a duration can be") from None


def format_duration(value: dt.timedelta) -> str:
    """The inverse of :func:`parse_duration`, in the form Prometheus and Alertmanager accept."""
    seconds = int(value.total_seconds())
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def _timezone(value):
    if not isinstance(value, str):
        raise ValueError(f"expected an IANA timezone name such as \"Europe/Paris\", got {value!r}")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not a known IANA timezone "
                         "(for example \"Europe/Paris\")") from None
    return value


def _secret_file(value):
    if not isinstance(value, str) or not value:
        raise ValueError("expected the path of a file holding the secret")
    return value


Money = Annotated[Decimal, BeforeValidator(_money)]
Rate = Annotated[Decimal, BeforeValidator(_rate)]
Duration = Annotated[dt.timedelta, BeforeValidator(parse_duration)]
TimezoneName = Annotated[str, BeforeValidator(_timezone)]
Identifier = Annotated[str, Field(pattern=_ID)]
SecretFile = Annotated[str, BeforeValidator(_secret_file)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Holidays(_Model):
    """French public holidays from the ``holidays`` library; ``subdivision`` such as ``"57"``."""

    country: str = "FR"
    subdivision: str | None = None

    @model_validator(mode="after")
    def _known(self):
        import holidays

        try:
            holidays.country_holidays(self.country, subdiv=self.subdivision, years=2025)
        except NotImplementedError:
            raise ValueError(f"country {self.country!r} is not known to the holidays library") \
                from None
        except Exception as exc:  # the library raises several types for bad subdivisions
            raise ValueError(f"subdivision {self.subdivision!r}: {exc}") from None
        return self


class Calendar(_Model):
    """Opening hours ("horaires d'ouverture") and the holidays that close them.

    ``hours`` maps days (``mon-fri``, ``sat``, ``mon,wed``) to ranges (``"09:00-12:00,14:00-18:00"``).
    """

    hours: dict[str, str] = Field(default_factory=lambda: {"mon-fri": "09:00-18:00"})
    holidays: Holidays = Field(default_factory=Holidays)
    timezone: TimezoneName | None = None

    @model_validator(mode="after")
    def _parse_hours(self):
        from owl.businesstime import parse_weekly_hours

        parse_weekly_hours(self.hours)
        return self


class ResponseTimes(_Model):
    critical: Duration = dt.timedelta(hours=4)
    major: Duration = dt.timedelta(hours=24)
    minor: Duration = dt.timedelta(hours=48)


class PenaltyRates(_Model):
    critical: Rate = Decimal("0.03")
    major: Rate = Decimal("0.015")
    minor: Rate = Decimal("0.005")


class BackupPolicy(_Model):
    """From the quote (section 8): how often backups run and are checked, and how many are kept."""

    period: Duration = dt.timedelta(days=1)
    grace: Duration = dt.timedelta(hours=6)
    retention: int = Field(default=7, ge=1)
    check_period: Duration = dt.timedelta(days=7)
    restore_test_period: Duration = dt.timedelta(days=30)


class Contract(_Model):
    tier: Literal[0, 1, 2, 3, 4]
    monthly_fee: Money
    currency: Literal["EUR"] = "EUR"
    support_24_7: bool = False
    quote: str = Field(min_length=1)
    start: dt.date
    status: Literal["trial", "active", "suspended", "terminated"] = "active"
    suspended_since: dt.datetime | dt.date | None = None
    terminated_on: dt.date | None = None
    calendar: Calendar | None = None
    response_times: ResponseTimes = Field(default_factory=ResponseTimes)
    penalty_rates: PenaltyRates = Field(default_factory=PenaltyRates)
    penalty_cap: Rate = Decimal("0.05")
    reopen_window: Duration = dt.timedelta(minutes=30)
    backups: BackupPolicy | None = None

    @model_validator(mode="after")
    def _status_fields(self):
        if self.status == "suspended" and self.suspended_since is None:
            raise ValueError("status 'suspended' needs suspended_since (the date it started)")
        if self.status == "terminated" and self.terminated_on is None:
            raise ValueError("status 'terminated' needs terminated_on (the termination date)")
        if self.status == "trial" and self.tier != 0:
            raise ValueError(f"status 'trial' is tier 0 (Découverte), not tier {self.tier}")
        if self.tier == 0 and self.status in ("active", "suspended"):
            raise ValueError("tier 0 (Découverte) is a one-month trial: status must be "
                             "'trial' or 'terminated'")
        return self

    def unmonitored_reason(self, today: dt.date) -> str | None:
        """Why the contract is not monitored on ``today``, or ``None`` when it is.

        Monitoring stops on the termination day, and for a tier-0 trial on ``trial_end`` (a
        trial started on 1 June is monitored up to 30 June included). A suspended contract
        stays monitored: only notifications stop (sla-rules.md, section 6).
        """
        if self.status == "terminated" and today >= self.terminated_on:
            return f"terminated on {self.terminated_on.isoformat()}"
        if self.trial_end is not None and today >= self.trial_end:
            return f"tier-0 trial over since {self.trial_end.isoformat()}"
        return None

    @property
    def trial_end(self) -> dt.date | None:
        """Tier 0 monitors for one month from ``start`` only."""
        if self.tier != 0:
            return None
        month = self.start.month % 12 + 1
        year = self.start.year + (self.start.month == 12)
        day = min(self.start.day, _days_in_month(year, month))
        return dt.date(year, month, day)


def _days_in_month(year: int, month: int) -> int:
    nxt = dt.date(year + month // 12, month % 12 + 1, 1)
    return (nxt - dt.timedelta(days=1)).day


class Contacts(_Model):
    email: list[str] = Field(default_factory=list)


class Checkout(_Model):
    """The e-commerce critical path to exercise (tier 3 and up): add a test product to a cart,
    check the payment methods offered, empty the cart. Never an order."""

    product: str = Field(min_length=1)  # the platform's id or SKU of a cheap test product
    payment_methods: list[str] = Field(default_factory=list)  # ids expected at checkout
    payment_provider_url: str | None = Field(default=None, pattern=r"^https?://\S+$")


class Site(_Model):
    id: Identifier
    url: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$")
    cms: Literal["wordpress", "drupal", "joomla", "prestashop", "magento", "other"] = "other"
    shop: Literal["woocommerce", "prestashop", "magento"] | None = None
    checkout: Checkout | None = None
    domain: str | None = Field(default=None, pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")

    @property
    def registered_domain(self) -> str:
        """The domain whose registration is watched: ``domain``, else the URL's host without a
        leading ``www.``."""
        if self.domain:
            return self.domain
        host = self.url.split("://", 1)[1].split("/", 1)[0].split(":", 1)[0].lower()
        return host.removeprefix("www.")

    @model_validator(mode="after")
    def _shop_runs_on_cms(self):
        if self.shop and self.cms != SHOP_CMS[self.shop]:
            raise ValueError(f"shop {self.shop!r} runs on cms {SHOP_CMS[self.shop]!r}, "
                             f"not {self.cms!r}")
        if self.checkout and not self.shop:
            raise ValueError("checkout needs shop (the platform whose cart is exercised)")
        return self


class Backup(_Model):
    """A backup repository of a server (section 8), checked against the contract's policy."""

    id: Identifier
    tool: Literal["restic", "borg", "status_file"]
    repository: str = Field(min_length=1)  # restic/borg repository, or the JSON status file
    password_file: SecretFile | None = None  # restic and borg: never the password itself
    restore_sample: str | None = None  # a path inside the snapshots, restored to test them

    @model_validator(mode="after")
    def _restic_needs_its_password(self):
        if self.tool == "restic" and not self.password_file:
            raise ValueError("a restic repository needs password_file")
        return self


class Server(_Model):
    id: Identifier
    address: str = Field(min_length=1)
    ssh_port: int | None = Field(default=22, ge=1, le=65535)  # None: no SSH banner probe
    node_exporter: str | None = Field(default=None, pattern=r"^[^\s:]+:\d{1,5}$")
    backups: list[Backup] = Field(default_factory=list)


class Client(_Model):
    id: Identifier
    name: str = Field(min_length=1)
    contract: Contract
    contacts: Contacts = Field(default_factory=Contacts)
    sites: list[Site] = Field(default_factory=list)
    servers: list[Server] = Field(default_factory=list)


class Smtp(_Model):
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = "monitoring@owl-systems.example"
    username: str | None = None
    password_file: SecretFile | None = None
    starttls: bool = False


class Receiver(_Model):
    """Where on-call notifications go: an email address, a webhook, or both."""

    email: str | None = None
    webhook_url: str | None = Field(default=None, pattern=r"^https?://\S+$")
    webhook_token_file: SecretFile | None = None

    @model_validator(mode="after")
    def _has_destination(self):
        if not self.email and not self.webhook_url:
            raise ValueError("a receiver needs an email or a webhook_url")
        return self


class Receivers(_Model):
    """On-call receivers by contract channel (section 5a)."""

    pager: Receiver | None = None
    phone_email: Receiver | None = None
    ticket: Receiver | None = None
    watchdog: Receiver | None = None  # a dead man's switch that expects the Watchdog every minute


class Stack(_Model):
    """Where the parts of the stack listen, as Prometheus and Alertmanager reach them."""

    prometheus: str = "127.0.0.1:9090"
    alertmanager: str = "127.0.0.1:9093"
    blackbox_exporter: str = "127.0.0.1:9115"
    exporter: str = "127.0.0.1:9181"
    bridge: str = "127.0.0.1:9180"
    scrape_interval: Duration = dt.timedelta(seconds=30)
    evaluation_interval: Duration = dt.timedelta(seconds=30)
    retention: Retention = DEFAULT_RETENTION  # how long Prometheus keeps samples


PROBE_KINDS = ("cms", "vulnerabilities", "shop", "backup", "domain")


class ProbeSchedule(_Model):
    """How often a probe kind runs: ``interval``, or per tier where ``by_tier`` says."""

    interval: Duration
    by_tier: dict[Literal[0, 1, 2, 3, 4], Duration] = Field(default_factory=dict)


class Probes(_Model):
    """Schedules per probe kind, and the local data the probes read."""

    cms: ProbeSchedule = ProbeSchedule(interval=dt.timedelta(hours=6))
    vulnerabilities: ProbeSchedule = ProbeSchedule(interval=dt.timedelta(hours=12))
    shop: ProbeSchedule = ProbeSchedule(interval=dt.timedelta(minutes=15))
    backup: ProbeSchedule = ProbeSchedule(interval=dt.timedelta(hours=1))
    domain: ProbeSchedule = ProbeSchedule(interval=dt.timedelta(days=1))
    cms_catalogue: str | None = None  # file of latest/supported versions; default: shipped
    vulnerability_db: str | None = None  # normalized (OSV-style) database file
    rdap_server: str = Field(default="https://rdap.org/", pattern=r"^https?://\S+$")


class Provider(_Model):
    name: str = Field(min_length=1)
    timezone: TimezoneName = "Europe/Paris"
    calendar: Calendar = Field(default_factory=Calendar)
    receivers: Receivers = Field(default_factory=Receivers)
    smtp: Smtp = Field(default_factory=Smtp)
    stack: Stack = Field(default_factory=Stack)
    probes: Probes = Field(default_factory=Probes)


class Inventory(_Model):
    provider: Provider
    clients: list[Client] = Field(default_factory=list)

    def client(self, client_id: str) -> Client | None:
        return next((c for c in self.clients if c.id == client_id), None)

    def calendar_for(self, client: Client) -> Calendar:
        return client.contract.calendar or self.provider.calendar

    def timezone_for(self, client: Client) -> str:
        return self.calendar_for(client).timezone or self.provider.timezone

    def today(self, now: dt.datetime) -> dt.date:
        """The date at ``now`` (aware) in the provider's timezone."""
        return now.astimezone(ZoneInfo(self.provider.timezone)).date()

    def monitored_clients(self, today: dt.date) -> list[Client]:
        """The clients monitored on ``today``, in inventory order."""
        return [c for c in self.clients if c.contract.unmonitored_reason(today) is None]

    def summary(self) -> str:
        sites = sum(len(c.sites) for c in self.clients)
        servers = sum(len(c.servers) for c in self.clients)
        return (f"{len(self.clients)} clients, {sites} sites, {servers} servers "
                f"({self.provider.name}, {self.provider.timezone})")


def _duplicate_ids(inventory_data) -> list[tuple[tuple, str]]:
    """Ids must be unique: clients globally, sites and servers within their client."""
    problems = []
    if not isinstance(inventory_data, dict) or not isinstance(inventory_data.get("clients"), list):
        return problems
    seen_clients: dict[str, int] = {}
    for index, client in enumerate(inventory_data["clients"]):
        if not isinstance(client, dict):
            continue
        client_id = client.get("id")
        if isinstance(client_id, str):
            if client_id in seen_clients:
                problems.append(((("clients", index, "id")),
                                 f"duplicate client id {client_id!r} "
                                 f"(also clients[{seen_clients[client_id]}])"))
            seen_clients.setdefault(client_id, index)
        targets: dict[str, str] = {}
        for kind in ("sites", "servers"):
            listed = client.get(kind)
            for position, target in enumerate(listed if isinstance(listed, list) else []):
                target_id = target.get("id") if isinstance(target, dict) else None
                if not isinstance(target_id, str):
                    continue
                where = f"{kind}[{position}]"
                if target_id in targets:
                    problems.append(((("clients", index, kind, position, "id")),
                                     f"duplicate target id {target_id!r} in client "
                                     f"{client_id!r} (also {targets[target_id]})"))
                targets.setdefault(target_id, where)
    return problems


def _describe(error: dict) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if isinstance(error.get("input"), UnbuildableScalar):
        return error["input"].problem
    if kind in ("value_error", "assertion_error"):
        return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "literal_error":
        return msg.replace("Input should be", "expected")
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} does not have the expected form ({msg.split(' ', 1)[1]})"
    return f"{msg.replace('Input should be', 'expected')}, got {error['input']!r}"


def _format_path(path: tuple) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "(top level)"


def _known_keys(path: tuple) -> str:
    """For an unknown key, the keys that were expected at that place."""
    model = Inventory
    for step in path[:-1]:
        if isinstance(step, int) or model is None:
            continue
        field = model.model_fields.get(step)
        model = _model_in(field.annotation) if field else None
    if model is None:
        return ""
    return " (expected one of: " + ", ".join(model.model_fields) + ")"


def _model_in(annotation):
    import typing

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def parse_inventory(text: str, filename: str = "<inventory>") -> Inventory:
    """Validate inventory YAML text; raise :class:`InventoryError` listing every problem."""
    try:
        document = load_yaml(text, filename)
    except YamlSourceError as exc:
        raise InventoryError([str(exc)]) from None
    if not isinstance(document.data, dict):
        raise InventoryError([f"{filename}:1: expected a mapping with 'provider' and 'clients'"])

    problems: list[tuple[tuple, str]] = []
    inventory = None
    try:
        inventory = Inventory.model_validate(document.data)
    except pydantic.ValidationError as exc:
        for error in exc.errors():
            path = tuple(error["loc"])
            message = _describe(error)
            if error["type"] == "extra_forbidden":
                message += _known_keys(path)
            problems.append((path, message))
    problems.extend(_duplicate_ids(document.data))
    if problems:
        located = sorted(((document.line_of(path) or 1, _format_path(path), message)
                          for path, message in problems), key=lambda item: item[0])
        raise InventoryError([f"{filename}:{line}: {where}: {message}"
                              for line, where, message in located])
    return inventory


def load_inventory(path: str | Path) -> Inventory:
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InventoryError([f"{path}: cannot read the inventory: {exc.strerror}"]) from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise InventoryError([f"{path}:{line}: the inventory is not UTF-8 text "
                              f"({exc.reason})"]) from None
    return parse_inventory(text, str(path))
