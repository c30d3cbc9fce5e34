"""``owl exporter``: run the probes of the inventory's monitored targets and serve ``/metrics``.

The exporter's own modules are imported when it runs, so that other ``owl`` commands do not load
APScheduler, requests and waitress.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import tempfile
from pathlib import Path

from exporters.sharding import Shard, parse_shard
from owl_commands.common import inventory_or_exit

log = logging.getLogger(__name__)
LOG_LEVELS = ("debug", "info", "warning", "error")


def register(subparsers):
    """``owl exporter``, and the commands that maintain its data files: ``owl catalogue``,
    ``owl vulndb``; and its content baselines: ``owl baseline``."""
    from exporters.catalogue.command import register as register_catalogue
    from exporters.content_command import register as register_baseline
    from exporters.vulndb.command import register as register_vulndb

    register_catalogue(subparsers)
    register_vulndb(subparsers)
    register_baseline(subparsers)
    parser = subparsers.add_parser(
        "exporter", help="run the owl probes and serve their metrics to Prometheus",
        description="Probe the sites and servers of the monitored clients of an inventory and "
        "serve the results on /metrics (liveness on /healthz).")
    parser.add_argument("--inventory", required=True, metavar="FILE", help="the inventory file")
    parser.add_argument("--web.listen-address", dest="listen_address", metavar="HOST:PORT",
                        help="where to serve (default: provider.stack.exporter of the inventory)")
    parser.add_argument("--shard", type=_shard, default=Shard(), metavar="I/N",
                        help="probe only shard I of N (1 <= I <= N); targets are split by "
                        "crc32 of client/id, so N instances with 1/N .. N/N cover each target "
                        "exactly once (default: 1/1, everything)")
    parser.add_argument("--storage.path", dest="storage_path", type=Path, metavar="DIR",
                        help="keep the probes' state (last backup checks and restore tests, "
                        "home-page baselines) in DIR, created if missing, so that a restart does "
                        "not run them all again; one DIR per instance (default: memory only)")
    parser.add_argument("--log.level", dest="log_level", choices=LOG_LEVELS, default="info",
                        help="log messages of this level and above (default: %(default)s)")
    parser.set_defaults(handler=run)


def _shard(text: str) -> Shard:
    try:
        return parse_shard(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def listen_address(text: str) -> str:
    """``HOST:PORT`` for waitress; Prometheus' ``:PORT`` means every interface."""
    return f"0.0.0.0{text}" if text.startswith(":") else text


def storage_problem(folder: Path) -> str | None:
    """Why ``folder`` (created if missing) cannot hold the exporter's state; None if it can.
    Writing is tried now rather than at the first result worth keeping, hours later."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return f"cannot use --storage.path {folder}: {exc}"
    return None


def run(args) -> int:
    from waitress import create_server

    from exporters.app import Exporter

    inventory = inventory_or_exit(args.inventory)
    logging.basicConfig(level=args.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.log_level != "debug":
        logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per job run is noise
    address = listen_address(args.listen_address or inventory.provider.stack.exporter)
    problem = args.storage_path and storage_problem(args.storage_path)
    if problem:
        print(problem, file=sys.stderr)
        return 1
    exporter = Exporter(inventory, shard=args.shard, storage_path=args.storage_path)
    try:
        server = create_server(exporter.app, listen=address, threads=4)
    except (OSError, ValueError) as exc:
        print(f"cannot listen on {address}: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _exit)
    exporter.start()
    log.info("owl exporter: shard %s, %d targets, serving on %s", args.shard,
             len(exporter.targets()), address)
    try:
        server.run()
    finally:
        exporter.stop()
        server.close()
    return 0


def _exit(signum, frame):
    raise SystemExit(0)
