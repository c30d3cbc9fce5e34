"""Serving the bridge: waitress (a production WSGI server) plus the bridge's scheduled jobs."""

from __future__ import annotations

import logging
import signal

from apscheduler.schedulers.background import BackgroundScheduler
from waitress.server import create_server

from sla_bridge.app import BridgeConfig, create_app
from sla_bridge.retention import delete_due_clients

log = logging.getLogger("owl.bridge")
# A breach must show within a minute of its deadline even when no request comes in.
STATUS_REFRESH_SECONDS = 15
# Alerts hidden by maintenance silences reach the bridge only through this job (maintenance.py).
SILENCED_SYNC_SECONDS = 30
NOTIFICATION_RETRY_SECONDS = 120


def start_jobs(bridge) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(bridge.service.refresh_statuses, "interval",
                      seconds=STATUS_REFRESH_SECONDS, id="refresh_statuses",
                      max_instances=1, coalesce=True)
    scheduler.add_job(lambda: delete_due_clients(bridge.db, bridge.service.terms, bridge.clock(),
                                                 bridge.service.calendars),
                      "interval", hours=1, id="delete_terminated_clients", max_instances=1,
                      coalesce=True, next_run_time=bridge.clock())
    scheduler.add_job(bridge.silence_sync.run, "interval", seconds=SILENCED_SYNC_SECONDS,
                      id="sync_silenced_alerts", max_instances=1, coalesce=True)
    scheduler.add_job(bridge.notifier.retry, "interval", seconds=NOTIFICATION_RETRY_SECONDS,
                      id="retry_notifications", max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler


def serve(config: BridgeConfig, listen: str, threads: int = 16) -> None:
    """Serve until SIGTERM or SIGINT, then stop taking requests and finish the jobs."""
    app = create_app(config)
    bridge = app.extensions["owl"]
    scheduler = start_jobs(bridge)
    server = create_server(app, listen=listen, threads=threads, ident="owl-sla-bridge",
                           clear_untrusted_proxy_headers=True)

    def _stop(signum, _frame):
        log.info("stopping on signal %s", signum)
        server.close()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("owl bridge listening on %s", listen)
    try:
        server.run()
    except OSError:
        if server.socket is not None and server.socket.fileno() != -1:
            raise  # a real socket error, not the one close() causes
    finally:
        scheduler.shutdown(wait=True)
        bridge.notifier.close()
        bridge.db.dispose()
