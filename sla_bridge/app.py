"""The Flask application factory and the bridge context it carries."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from flask import Flask
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from owl.clock import utc_now
from owl.inventory import Inventory
from sla_bridge.alertmanager import Alertmanager
from sla_bridge.api import (alerts, export, incidents, interventions, ledger, maintenances,
                            ops, reports)
from sla_bridge.api.common import ApiError, error_response
from sla_bridge.auth import TokenStore
from sla_bridge.ingest_batch import IngestBatcher
from sla_bridge.contract_terms import terms_from_inventory
from sla_bridge.maintenance import MaintenanceService, SilencedAlertSync
from sla_bridge.exposition import Exposition
from sla_bridge.metrics import BridgeMetrics, StateCollector
from sla_bridge.notify import Notifier
from sla_bridge.reports.build import ReportSources
from sla_bridge.reports.delivery import ReportJob, ReportProducer
from sla_bridge.reports.prometheus import Prometheus
from sla_bridge.service import IngestResult, SlaService
from sla_bridge.storage.database import Database
from sla_bridge.storage.probe import HealthProbe
from sla_bridge.web import WebConfig, error_page, init_web, is_page
from sla_bridge.web.sessions import WebSessions

log = logging.getLogger("owl.bridge")


@dataclass
class BridgeConfig:
    database_url: str
    inventory: Inventory
    webhook_token: str | None
    clock: Callable[[], dt.datetime] = utc_now
    max_body_bytes: int = 4 * 1024 * 1024
    migrate: bool = True
    alertmanager_url: str | None = None  # None: http:// + the inventory's stack.alertmanager
    prometheus_url: str | None = None  # None: the inventory's stack.query_url
    smtp_password: str | None = None
    scrape_token: str | None = None  # None: /metrics answers 401 to everyone
    # How long to wait for a database server that does not answer yet (0: fail at once).
    storage_wait_seconds: float = 0.0
    web: WebConfig = field(default_factory=WebConfig)  # the console's and the portal's pages


class Bridge:
    """Everything a request needs: database, service, tokens, metrics, clock."""

    def __init__(self, config: BridgeConfig):
        self.config = config
        self.clock = config.clock
        self.db = Database(config.database_url)
        self.db.wait_until_reachable(config.storage_wait_seconds)
        if config.migrate:
            self.db.upgrade()
        self.registry = CollectorRegistry()
        self.metrics = BridgeMetrics(self.registry, [c.id for c in config.inventory.clients],
                                     started_at=self.clock())
        self.service = SlaService(self.db, terms_from_inventory(config.inventory), self.clock,
                                  observer=self.metrics)
        self.service.record_contracts()
        self.deliveries = IngestBatcher(self.service)
        self.exposition = Exposition(self.registry)
        self.registry.register(StateCollector(
            self.service, {c.id: [site.id for site in c.sites] for c in config.inventory.clients},
            ZoneInfo(config.inventory.provider.timezone)))
        self.tokens = TokenStore(self.db, config.webhook_token, self.clock)
        self.health = HealthProbe(self.db, self.clock)
        self.web_sessions = WebSessions(self.db, self.clock, config.web.lifetimes)
        if config.scrape_token is None:
            log.warning("no scrape token (OWL_SCRAPE_TOKEN, --scrape.token-file): /metrics "
                        "refuses every scrape and Prometheus will report the bridge down")
        self.notifier = Notifier(self.db, config.inventory,
                                 lambda client: self.service.terms.get(client), self.clock,
                                 config.smtp_password)
        self.alertmanager = Alertmanager(
            config.alertmanager_url or f"http://{config.inventory.provider.stack.alertmanager}")
        self.maintenances = MaintenanceService(self.db, self.alertmanager, self.notifier,
                                               config.inventory, self.clock)
        self.silence_sync = SilencedAlertSync(self.db, self.service, self.alertmanager,
                                              config.inventory, self.clock, self.after_ingest)
        prometheus = Prometheus(config.prometheus_url or config.inventory.provider.stack.query_url)
        self.reports = ReportJob(
            self.db, config.inventory, self.notifier,
            ReportProducer(ReportSources(self.service, config.inventory, prometheus)), self.clock)

    def after_ingest(self, result: IngestResult) -> None:
        """Work that follows a committed delivery: tell clients of new security incidents.

        The delivery is stored already: if the notifications cannot be recorded now, the
        notifier's retry job records them, and Alertmanager still gets its 200.
        """
        if not result.new_security_incidents:
            return
        try:
            self.notifier.notify_security(result.new_security_incidents)
        except SQLAlchemyError:
            log.exception("security notifications not recorded; the retry job will do it")


def create_app(config: BridgeConfig) -> Flask:
    app = Flask("sla_bridge", static_folder=None)  # the pages' files: sla_bridge.web
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False
    bridge = app.extensions["owl"] = Bridge(config)
    api = [module.blueprint for module in (alerts, incidents, ledger, interventions, reports,
                                           export, maintenances, ops)]
    for blueprint in api:
        app.register_blueprint(blueprint)
    init_web(app, bridge, config.web, api)
    _register_errors(app)
    return app


def _register_errors(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.field)

    @app.errorhandler(OperationalError)
    def _storage_unavailable(exc):
        log.error("storage unavailable: %s", exc.__class__.__name__)
        return _error(503, "storage is unavailable; retry later")

    @app.errorhandler(SQLAlchemyError)
    def _storage_error(exc):
        log.exception("storage error")
        return _error(503, "storage error; retry later")

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        return _error(exc.code or 500, exc.description or exc.name)


def _error(status: int, message: str):
    """The API's JSON error, or for a page the page of that error (in French: the API's
    English message is not shown there)."""
    return error_page(status) if is_page() else error_response(status, message)
