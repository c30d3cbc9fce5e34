"""Serving the bridge: waitress (a production WSGI server) plus the bridge's scheduled jobs."""

from __future__ import annotations

import gc
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
# The monthly reports go out within this of provider.reports.send_at (sla_bridge/reports).
REPORTS_MINUTES = 15

# Waitress tuned for Alertmanager, whose HTTP client (prometheus/common's http_config) keeps up to
# 1,000 idle keep-alive connections per host for 5 minutes (IdleConnTimeout). With waitress'
# defaults (100 connections, idle ones closed after 120 s) those idle connections filled the
# limit: waitress stops accepting until its cleanup closes some, and deliveries waited 12 to 31 s.
# - CONNECTION_LIMIT: two Alertmanager replicas' 1,000 idle connections each, with room for
#   Prometheus' scrapes and the API's users. Idle connections cost a socket, not a thread.
# - CHANNEL_TIMEOUT: longer than the client's 5 minutes, so the client closes an idle connection
#   first; a server closing it first races a POST that Go's client does not retry on its own.
# - poll() instead of select(), which cannot watch more than 1,024 descriptors. The process needs
#   a descriptor limit (ulimit -n, LimitNOFILE) above CONNECTION_LIMIT.
# - THREADS serve requests, not connections: 16 concurrent deliveries or API calls, below the
#   database pool (storage.database: 20 + 10 overflow), so no request waits for a connection.
CONNECTION_LIMIT = 2500
CHANNEL_TIMEOUT_SECONDS = 330
THREADS = 16


class ListenError(OSError):
    """The bridge's address cannot be listened on (taken, not this machine's); names it."""


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
    scheduler.add_job(bridge.web_sessions.purge, "interval", hours=1, id="purge_web_sessions",
                      max_instances=1, coalesce=True)
    scheduler.add_job(bridge.reports.run, "interval", minutes=REPORTS_MINUTES,
                      id="monthly_reports", max_instances=1, coalesce=True)
    scheduler.start()
    return scheduler


def serve(config: BridgeConfig, listen: str, threads: int = THREADS) -> None:
    """Serve until SIGTERM or SIGINT, then stop taking requests and finish the jobs."""
    # The app's objects (the inventory's terms, a metric child per client) live as long as the
    # process: built with the cyclic collector paused, then frozen out of its collections
    # (half the start-up at 5,000 clients went to collections that found nothing).
    gc.disable()
    try:
        app = create_app(config)
    finally:
        gc.freeze()
        gc.enable()
    bridge = app.extensions["owl"]
    try:
        server = create_server(app, listen=listen, threads=threads, ident="owl-sla-bridge",
                               clear_untrusted_proxy_headers=True,
                               connection_limit=CONNECTION_LIMIT,
                               channel_timeout=CHANNEL_TIMEOUT_SECONDS, asyncore_use_poll=True)
    except OSError as exc:
        bridge.db.dispose()
        raise ListenError(f"cannot listen on {listen}: {exc.strerror or exc}") from None
    scheduler = start_jobs(bridge)

    def _stop(signum, _frame):
        log.info("stopping on signal %s", signum)
        for handled in (signal.SIGTERM, signal.SIGINT):
            signal.signal(handled, signal.SIG_IGN)  # a second signal must not cut the clean-up short
        # server.run() takes SystemExit as its cue to let the requests in progress finish, with
        # the loop's trigger still open: closing the server from here would close that trigger
        # under the threads still answering, and their reply fail with EBADF.
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info("owl bridge listening on %s", listen)
    try:
        server.run()
    finally:
        server.close()
        scheduler.shutdown(wait=True)
        bridge.notifier.close()
        bridge.db.dispose()
