"""A client and what is monitored for it: contacts, sites (CMS, shop, domain) and servers."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from owl.inventory.contract import Contract
from owl.inventory.fields import Identifier, SecretFile, StrictModel

# HOST:PORT, an IPv6 address in brackets ([2001:db8::10]:9104)
HOST_PORT = r"^(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+):\d{1,5}$"
SHOP_CMS = {"woocommerce": "wordpress", "prestashop": "prestashop", "magento": "magento"}


class Contacts(StrictModel):
    email: list[str] = Field(default_factory=list)


class Checkout(StrictModel):
    """The e-commerce critical path to exercise (tier 3 and up): add a test product to a cart,
    check the payment methods offered, empty the cart. Never an order."""

    product: str = Field(min_length=1)  # the platform's id or SKU of a cheap test product
    payment_methods: list[str] = Field(default_factory=list)  # ids expected at checkout
    payment_provider_url: str | None = Field(default=None, pattern=r"^https?://\S+$")


class Database(StrictModel):
    """A database a site runs on, watched through the field's exporter on its host (tier 2 and
    up, section 4c): Debian's ``prometheus-mysqld-exporter`` for ``mysql`` and ``mariadb``,
    ``prometheus-postgres-exporter`` for ``postgresql`` (docs/enroll-server.md). The exporter
    holds the database credentials on its host; ``exporter_password_file`` is the basic-auth
    password of the exporter's own web config (``--web.config.file``), for Prometheus' scrape.
    """

    id: Identifier
    engine: Literal["mysql", "mariadb", "postgresql"]
    exporter: str = Field(pattern=HOST_PORT)  # what Prometheus scrapes
    address: str | None = Field(default=None, pattern=HOST_PORT)  # where the database listens
    exporter_username: str | None = Field(default=None, min_length=1)
    exporter_password_file: SecretFile | None = None

    @model_validator(mode="after")
    def _basic_auth_is_whole(self):
        if (self.exporter_username is None) != (self.exporter_password_file is None):
            raise ValueError("exporter_username and exporter_password_file go together "
                             "(the exporter's basic auth)")
        return self

    @property
    def instance(self) -> str:
        """The series' ``instance``: the database's address, else its exporter's."""
        return self.address or self.exporter


class Site(StrictModel):
    id: Identifier
    url: str = Field(pattern=r"^https?://[^\s/]+(/\S*)?$")
    cms: Literal["wordpress", "drupal", "joomla", "prestashop", "magento", "other"] = "other"
    shop: Literal["woocommerce", "prestashop", "magento"] | None = None
    checkout: Checkout | None = None
    domain: str | None = Field(default=None, pattern=r"^[a-z0-9.-]+\.[a-z]{2,}$")
    database: Database | None = None  # one of its own, not on one of the client's servers

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


class Backup(StrictModel):
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


class Server(StrictModel):
    id: Identifier
    address: str = Field(min_length=1)
    ssh_port: int | None = Field(default=22, ge=1, le=65535)  # None: no SSH banner probe
    node_exporter: str | None = Field(default=None, pattern=r"^[^\s:]+:\d{1,5}$")
    backups: list[Backup] = Field(default_factory=list)
    databases: list[Database] = Field(default_factory=list)


class Client(StrictModel):
    id: Identifier
    name: str = Field(min_length=1)
    contract: Contract
    contacts: Contacts = Field(default_factory=Contacts)
    sites: list[Site] = Field(default_factory=list)
    servers: list[Server] = Field(default_factory=list)
