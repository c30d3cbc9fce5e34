"""Alert storm against the SLA bridge behind its production WSGI server.

    .venv/bin/python bench/bridge_storm.py [--database postgresql://...] [--redeliver]

Generates an inventory of a few hundred clients and 10,000 distinct firing alerts, grouped the way
the rendered Alertmanager config groups them (``owl.render.alertmanager.GROUP_BY``) and sent in
Alertmanager webhook v4 payloads of up to 100 alerts by 20 concurrent senders. The bridge runs in
a separate process, served by ``sla_bridge.server.serve`` (waitress, same threads, same scheduled
jobs) with one extra route added by this benchmark only: ``POST /bench/noop``, which reads the
body, parses it as JSON and answers 200 with a small JSON body, and does nothing else.

The same payloads go first to the no-op endpoint (the reference: what the server, Flask and the
load generator cost on this machine, in this run), then to ``/api/v1/alerts``; ``--redeliver``
sends every payload once more, as the second Alertmanager of an HA pair would. Afterwards the
database is read to check that every alert was stored once.

Targets (exit status 0 only when all pass): every alert stored once; rate at least half the
no-op endpoint's; p99 latency under 250 ms; with ``--redeliver``, nothing new stored.
See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import inspect
import json
import math
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

UTC = dt.UTC
TOKEN = "bench-storm-webhook-token"
NOOP_PATH = "/bench/noop"
ALERTS_PATH = "/api/v1/alerts"
MAX_ATTEMPTS = 8  # Alertmanager retries a failed delivery with backoff; so do we

# Targets (issue "storm benchmark").
MIN_RATE_RATIO = 0.5
MAX_P99_SECONDS = 0.250

# alertname -> (target kind, severity, job, weight in the storm)
ALERT_KINDS = {
    "SiteDown": ("site", "critical", "blackbox_http", 30),
    "SiteSlow": ("site", "major", "blackbox_http", 15),
    "TlsCertificateExpiringSoon": ("site", "minor", "blackbox_http", 8),
    "TlsCertificateExpiring": ("site", "major", "blackbox_http", 7),
    "ServerUnreachable": ("server", "critical", "blackbox_ssh", 20),
    "TargetDown": ("server", "major", "node", 20),
}
SUMMARIES = {
    "SiteDown": "Site {target} of client {client} is down",
    "SiteSlow": "Site {target} of client {client} is slow",
    "TlsCertificateExpiringSoon":
        "TLS certificate of site {target} ({client}) expires within 21 days",
    "TlsCertificateExpiring": "TLS certificate of site {target} ({client}) expires within 7 days",
    "ServerUnreachable": "Server {target} of client {client} is unreachable",
    "TargetDown": "node_exporter on server {target} of client {client} is down",
}
RUNBOOK = "https://github.com/owl-systems/owl-monitoring/blob/main/docs/runbooks.md#"


# --- the inventory ------------------------------------------------------------------------------

@dataclass(frozen=True)
class BenchClient:
    id: str
    tier: int
    site: str
    url: str
    cms: str
    shop: str | None
    server: str
    address: str


def make_clients(count: int, rng: random.Random) -> list[BenchClient]:
    clients = []
    for number in range(1, count + 1):
        tier = rng.choices((0, 1, 2, 3, 4), weights=(5, 35, 30, 20, 10))[0]
        cms, shop = rng.choice((("wordpress", "woocommerce"), ("wordpress", None),
                                ("drupal", None), ("prestashop", "prestashop"), ("other", None)))
        clients.append(BenchClient(
            id=f"client-{number:03d}", tier=tier, site="shop" if shop else "www",
            url=f"https://www.client-{number:03d}.example", cms=cms, shop=shop,
            server=f"web{rng.randint(1, 3)}",
            address=f"10.{number // 250}.{number % 250}.10"))
    return clients


def inventory_yaml(clients: list[BenchClient], today: dt.date) -> str:
    fees = {0: "0", 1: "450.00", 2: "800.00", 3: "1200.00", 4: "2500.00"}
    lines = ["provider:", "  name: OWL SYSTEMS", "  timezone: Europe/Paris", "clients:"]
    for index, client in enumerate(clients):
        if client.tier == 0:
            status, start, support = "trial", today.replace(day=1), False
        else:
            status, start, support = "active", dt.date(2025, 1, 1), \
                client.tier >= 3 or index % 7 == 0
        shop = f", shop: {client.shop}" if client.shop else ""
        lines += [
            f"  - id: {client.id}",
            f"    name: Client {client.id[-3:]} SARL",
            (f"    contract: {{tier: {client.tier}, monthly_fee: \"{fees[client.tier]}\", "
             f"support_24_7: {str(support).lower()}, quote: DEV-{client.id[-3:]}, "
             f"start: {start.isoformat()}, status: {status}}}"),
            f"    sites: [{{id: {client.site}, url: \"{client.url}\", cms: {client.cms}{shop}}}]",
            f"    servers: [{{id: {client.server}, address: {client.address}}}]",
        ]
    return "\n".join(lines) + "\n"


# --- the alerts ---------------------------------------------------------------------------------

def go_time(at: dt.datetime, nanoseconds: int) -> str:
    """RFC 3339 with nine fractional digits, as Alertmanager (Go) writes it."""
    return f"{at.astimezone(UTC):%Y-%m-%dT%H:%M:%S}.{nanoseconds:09d}Z"


def make_alert(client: BenchClient, alertname: str, instance_number: int, starts_at: str,
               namespace: str) -> dict:
    kind, severity, job, _ = ALERT_KINDS[alertname]
    labels = {"alertname": alertname, "client": client.id, "severity": severity, "job": job,
              "tier": str(client.tier)}
    if kind == "site":
        # several probed URLs per site, so that one group holds several distinct alerts
        labels |= {"site": client.site, "cms": client.cms,
                   "instance": f"{client.url}/{namespace}{instance_number}"}
        if client.shop:
            labels["shop"] = client.shop
        target = client.site
    else:
        port = {"blackbox_ssh": 22, "node": 9100}[job]
        labels |= {"server": client.server,
                   "instance": f"{client.address}:{port}/{namespace}{instance_number}"}
        target = client.server
    canonical = "\x00".join(f"{k}\x01{v}" for k, v in sorted(labels.items()))
    summary = SUMMARIES[alertname].format(target=target, client=client.id)
    return {
        "status": "firing", "labels": labels,
        "annotations": {"summary": summary,
                        "description": f"{labels['instance']}: {summary.lower()} (storm bench).",
                        "runbook_url": RUNBOOK + alertname.lower()},
        "startsAt": starts_at, "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://127.0.0.1:9090/graph?g0.expr=probe_success",
        "fingerprint": hashlib.sha256(canonical.encode()).hexdigest()[:16],
    }


def make_groups(clients: list[BenchClient], total: int, rng: random.Random, now: dt.datetime,
                namespace: str) -> dict[tuple, list[dict]]:
    """``total`` distinct firing alerts, by Alertmanager group (client, alertname, site, server).

    Clients weigh unevenly (a few large infrastructures, many small sites), so groups range from
    one alert to several hundred.
    """
    from owl.render.alertmanager import GROUP_BY

    weights = [rng.paretovariate(1.3) for _ in clients]
    names = list(ALERT_KINDS)
    name_weights = [ALERT_KINDS[name][3] for name in names]
    next_instance: Counter = Counter()
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for _ in range(total):
        client = rng.choices(clients, weights=weights)[0]
        alertname = rng.choices(names, weights=name_weights)[0]
        number = next_instance[(client.id, alertname)]
        next_instance[(client.id, alertname)] += 1
        starts = now - dt.timedelta(seconds=rng.uniform(5, 900))
        alert = make_alert(client, alertname, number,
                           go_time(starts.replace(microsecond=0), rng.randrange(10 ** 9)),
                           namespace)
        key = tuple(alert["labels"].get(name, "") for name in GROUP_BY)
        groups[key].append(alert)
    return groups


def webhook_bodies(groups: dict[tuple, list[dict]], batch_max: int,
                   rng: random.Random) -> list[tuple[bytes, int]]:
    """Alertmanager webhook v4 payloads of up to ``batch_max`` alerts, in a shuffled order."""
    from owl.render.alertmanager import BRIDGE_RECEIVER, GROUP_BY

    bodies = []
    for key, alerts in groups.items():
        group_labels = {name: value for name, value in zip(GROUP_BY, key) if value}
        group_key = "{}/{}:{" + ", ".join(f'{k}="{v}"' for k, v in sorted(group_labels.items())) \
            + "}"
        for start in range(0, len(alerts), batch_max):
            batch = alerts[start:start + batch_max]
            common = {k: v for k, v in batch[0]["labels"].items()
                      if all(a["labels"].get(k) == v for a in batch)}
            payload = {
                "version": "4", "groupKey": group_key, "truncatedAlerts": 0, "status": "firing",
                "receiver": BRIDGE_RECEIVER, "groupLabels": group_labels, "commonLabels": common,
                "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093",
                "alerts": batch,
            }
            bodies.append((json.dumps(payload).encode(), len(batch)))
    rng.shuffle(bodies)
    return bodies


# --- the server (a separate process) ------------------------------------------------------------

def serve_main(args) -> int:
    """``--serve``: the bridge as ``owl bridge`` runs it, plus the benchmark's no-op route."""
    import logging

    from flask import jsonify, request

    from owl.inventory import load_inventory
    from sla_bridge import server
    from sla_bridge.app import BridgeConfig

    # as owl_commands.bridge._run_bridge configures it
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.WARNING)

    def noop():
        """Reads the body and parses the JSON; nothing else (no token, no validation, no DB)."""
        payload = request.get_json(silent=True)
        if not isinstance(payload, dict):
            return jsonify(error="the body must be a JSON object"), 400
        return jsonify(received=len(payload.get("alerts") or []), created=0, updated=0,
                       duplicates=0)

    real_create_app = server.create_app

    def create_app_with_noop(config):
        app = real_create_app(config)
        app.add_url_rule(NOOP_PATH, "bench_noop", noop, methods=["POST"])
        return app

    # serve() itself builds the app, the waitress server and the jobs: only the route is added
    server.create_app = create_app_with_noop
    config = BridgeConfig(args.database, load_inventory(args.inventory),
                          os.environ["OWL_WEBHOOK_TOKEN"])
    server.serve(config, args.listen, threads=args.threads)
    return 0


def default_threads() -> int:
    from sla_bridge.server import serve

    return inspect.signature(serve).parameters["threads"].default


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def reset_postgres(url: str) -> None:
    """Drop and recreate the public schema, as tests/support/databases.py does."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


class BridgeProcess:
    def __init__(self, inventory: Path, database: str, threads: int, log_path: Path):
        import requests

        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        env = dict(os.environ, OWL_WEBHOOK_TOKEN=TOKEN)
        with open(log_path, "wb") as log:  # the child keeps its own descriptor
            self.process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "--serve", "--inventory",
                 str(inventory), "--database", database, "--listen", f"127.0.0.1:{self.port}",
                 "--threads", str(threads)],
                env=env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 120
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bridge exited ({self.process.returncode}):\n"
                                   + self.log_tail())
            try:
                if requests.get(self.base + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the bridge did not answer /healthz within 120 s:\n"
                                   + self.log_tail())
            time.sleep(0.2)

    def cpu_seconds(self) -> float | None:
        """User + system CPU of the server process (all its threads), from /proc."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- the load generator -------------------------------------------------------------------------

def machine_busy() -> tuple[int, int]:
    """(busy, total) jiffies of all CPUs, from /proc/stat."""
    try:
        values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


@dataclass
class RunResult:
    name: str
    alerts: int
    requests: int
    wall: float
    latencies: list[float]
    statuses: Counter
    retries: int
    failed: int  # deliveries that never got a 200
    counts: Counter  # summed response fields: received, created, updated, duplicates
    server_cpu: float | None
    client_cpu: float
    machine_busy: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.alerts / self.wall

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def send_all(name: str, url: str, bodies: list[tuple[bytes, int]], senders: int,
             bridge: BridgeProcess) -> RunResult:
    """Deliver every body once, ``senders`` at a time; latency is per delivery, retries included."""
    import requests

    work: queue.Queue = queue.Queue()
    for index in range(len(bodies)):
        work.put(index)
    latencies = [0.0] * len(bodies)
    statuses: Counter = Counter()
    counts: Counter = Counter()
    retries = failed = 0
    lock = threading.Lock()
    ready = threading.Barrier(senders + 1)
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json",
               "User-Agent": "Alertmanager/0.25.0"}

    def sender():
        nonlocal retries, failed
        session = requests.Session()
        session.headers.update(headers)
        session.get(bridge.base + "/healthz", timeout=10)  # open the keep-alive connection
        ready.wait()
        while True:
            try:
                index = work.get_nowait()
            except queue.Empty:
                return
            body = bodies[index][0]
            started = time.perf_counter()
            for attempt in range(1, MAX_ATTEMPTS + 1):
                try:
                    response = session.post(url, data=body, timeout=60)
                    status = response.status_code
                except requests.RequestException as exc:
                    response, status = None, type(exc).__name__
                with lock:
                    statuses[status] += 1
                if status == 200:
                    break
                if attempt < MAX_ATTEMPTS:
                    with lock:
                        retries += 1
                    time.sleep(min(0.05 * 2 ** attempt, 2.0))
            latencies[index] = time.perf_counter() - started
            with lock:
                if status == 200:
                    counts.update({k: v for k, v in response.json().items()
                                   if isinstance(v, int)})
                else:
                    failed += 1

    threads = [threading.Thread(target=sender, daemon=True) for _ in range(senders)]
    for thread in threads:
        thread.start()
    ready.wait()
    cpu_before, server_before, busy_before = time.process_time(), bridge.cpu_seconds(), \
        machine_busy()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    server_after, busy_after = bridge.cpu_seconds(), machine_busy()
    busy = None
    if busy_after[1] > busy_before[1]:
        busy = (busy_after[0] - busy_before[0]) / (busy_after[1] - busy_before[1])
    return RunResult(
        name=name, alerts=sum(n for _, n in bodies), requests=len(bodies), wall=wall,
        latencies=latencies, statuses=statuses, retries=retries, failed=failed, counts=counts,
        server_cpu=(server_after - server_before) if server_before is not None else None,
        client_cpu=time.process_time() - cpu_before, machine_busy=busy)


# --- checking what was stored -------------------------------------------------------------------

@dataclass
class Stored:
    incidents: int
    alert_events: int
    missing: int
    duplicated: int
    unexpected: int


def stored(database: str, expected: set[str]) -> Stored:
    from sqlalchemy import func, select

    from sla_bridge.storage.database import Database
    from sla_bridge.storage.schema import Event, Incident

    db = Database(database)
    try:
        with db.read() as session:
            per_fingerprint = dict(session.execute(
                select(Incident.fingerprint, func.count()).group_by(Incident.fingerprint)).all())
            alert_events = session.scalar(
                select(func.count()).select_from(Event).where(Event.kind == "alert"))
    finally:
        db.dispose()
    return Stored(incidents=sum(per_fingerprint.values()), alert_events=alert_events,
                  missing=len(expected - per_fingerprint.keys()),
                  duplicated=sum(1 for n in per_fingerprint.values() if n > 1),
                  unexpected=len(per_fingerprint.keys() - expected))


# --- the report ---------------------------------------------------------------------------------

def row(result: RunResult) -> str:
    ms = 1000
    cells = [f"{result.name:<22}", f"{result.rate:>9.0f}", f"{result.requests / result.wall:>7.0f}",
             f"{result.percentile(0.5) * ms:>8.1f}", f"{result.percentile(0.99) * ms:>8.1f}",
             f"{max(result.latencies) * ms:>8.1f}", f"{result.wall:>7.2f}"]
    if result.server_cpu is not None:
        cells += [f"{result.server_cpu * ms / result.alerts:>9.3f}",
                  f"{result.server_cpu / result.wall:>6.2f}"]
    else:
        cells += [f"{'?':>9}", f"{'?':>6}"]
    cells.append(f"{result.client_cpu / result.wall:>9.2f}")
    cells.append(f"{result.machine_busy * 100:>8.0f}%" if result.machine_busy is not None
                 else f"{'?':>9}")
    return "".join(cells)


HEADER = (f"{'':<22}{'alerts/s':>9}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}"
          f"{'wall s':>7}{'server CPU':>15}{'load gen':>9}{'machine':>9}\n"
          f"{'':<22}{'':>9}{'':>7}{'':>8}{'':>8}{'':>8}{'':>7}{'ms/alert':>9}{'cores':>6}"
          f"{'cores':>9}{'busy':>9}")


def describe_database(url: str) -> str:
    if url.startswith("sqlite"):
        return "SQLite (file in the work directory)"
    return url.split("@")[-1].join(("PostgreSQL ", ""))


def commit_of_tree() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, cwd=Path(__file__).resolve().parent, check=True)
        return head.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=10_000, help="distinct alerts (%(default)s)")
    parser.add_argument("--clients", type=int, default=300, help="clients (%(default)s)")
    parser.add_argument("--batch-max", type=int, default=100,
                        help="most alerts in one webhook request (%(default)s)")
    parser.add_argument("--senders", type=int, default=20,
                        help="concurrent senders (%(default)s)")
    parser.add_argument("--threads", type=int, default=None,
                        help="waitress threads (default: sla_bridge.server.serve's, 16)")
    parser.add_argument("--database", default=None,
                        help="SQLAlchemy URL; default a SQLite file in the work directory. "
                             "A postgresql:// database has its public schema DROPPED first.")
    parser.add_argument("--redeliver", action="store_true",
                        help="then send every batch again (an HA pair): nothing new is stored")
    parser.add_argument("--warmup", type=int, default=20,
                        help="warm-up requests to each endpoint, not timed (%(default)s)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (%(default)s)")
    parser.add_argument("--workdir", help="keep the inventory, database and server log here")
    # internal: the server process
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--inventory", help=argparse.SUPPRESS)
    parser.add_argument("--listen", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.threads is None:
        args.threads = default_threads()
    if args.serve:
        return serve_main(args)

    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="owl-bridge-storm-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        return run(args, workdir)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args, workdir: Path) -> int:
    rng = random.Random(args.seed)
    now = dt.datetime.now(UTC)
    clients = make_clients(args.clients, rng)
    inventory = workdir / "inventory.yml"
    inventory.write_text(inventory_yaml(clients, now.date()), encoding="utf-8")
    groups = make_groups(clients, args.alerts, rng, now, "p")
    bodies = webhook_bodies(groups, args.batch_max, rng)
    warmup_groups = make_groups(clients, args.warmup * 5, random.Random(args.seed + 1), now, "w")
    warmup = webhook_bodies(warmup_groups, args.batch_max, rng)[:args.warmup]
    expected = {a["fingerprint"] for alerts in groups.values() for a in alerts}
    warmup_fps = {json.loads(b)["alerts"][i]["fingerprint"]
                  for b, n in warmup for i in range(n)}
    if len(expected) != args.alerts or expected & warmup_fps:
        raise RuntimeError("generated alerts are not distinct")

    database = args.database or f"sqlite:///{workdir / 'bridge.db'}"
    if database.startswith("postgresql"):
        reset_postgres(database)
    sizes = sorted(n for _, n in bodies)
    print(f"bridge storm: {args.alerts} distinct firing alerts, {args.clients} clients, "
          f"{len(groups)} Alertmanager groups, {len(bodies)} webhook requests "
          f"(alerts per request: median {sizes[len(sizes) // 2]}, max {sizes[-1]}, "
          f"mean {args.alerts / len(bodies):.1f})")
    print(f"server: sla_bridge.server.serve (waitress, {args.threads} threads) in its own "
          f"process; {describe_database(database)}; {args.senders} concurrent senders; "
          f"{os.cpu_count()} CPUs; commit {commit_of_tree()}")

    bridge = BridgeProcess(inventory, database, args.threads, workdir / "bridge.log")
    print(f"server pid {bridge.process.pid}, log {bridge.log_path}", flush=True)
    try:
        if stored(database, set()).incidents:
            raise SystemExit(f"{database} already holds incidents: the storm needs an empty "
                             "database (the default SQLite file, or a PostgreSQL database whose "
                             "public schema this script drops)")
        send_all("warm-up", bridge.base + NOOP_PATH, warmup, args.senders, bridge)
        send_all("warm-up", bridge.base + ALERTS_PATH, warmup, args.senders, bridge)
        results = [send_all("no-op endpoint", bridge.base + NOOP_PATH, bodies, args.senders,
                            bridge)]
        results.append(send_all("POST /api/v1/alerts", bridge.base + ALERTS_PATH, bodies,
                                args.senders, bridge))
        after_storm = stored(database, expected | warmup_fps)
        if args.redeliver:
            results.append(send_all("redelivery", bridge.base + ALERTS_PATH, bodies,
                                    args.senders, bridge))
        after_all = stored(database, expected | warmup_fps)
    finally:
        bridge.stop()
    return report(args, results, after_storm, after_all, len(warmup_fps), workdir)


def report(args, results: list[RunResult], after_storm: Stored, after_all: Stored,
           warmup_alerts: int, workdir: Path) -> int:
    print()
    print(HEADER)
    for result in results:
        print(row(result))
    noop, real = results[0], results[1]
    ratio = real.rate / noop.rate
    print(f"\nrate ratio, /api/v1/alerts / no-op: {ratio:.2f}")
    for result in results:
        problems = {k: v for k, v in result.statuses.items() if k != 200}
        if problems or result.retries:
            print(f"{result.name}: non-200 answers {dict(problems)}, retries {result.retries}, "
                  f"deliveries that never succeeded {result.failed}")
    expected_total = args.alerts + warmup_alerts
    print(f"stored after the storm: {after_storm.incidents} incidents, "
          f"{after_storm.alert_events} alert events (expected {expected_total} each, "
          f"{warmup_alerts} of them from the warm-up); missing {after_storm.missing}, "
          f"stored more than once {after_storm.duplicated}, unexpected {after_storm.unexpected}")
    print(f"the bridge answered: created {real.counts['created']}, "
          f"duplicates {real.counts['duplicates']}, updated {real.counts['updated']}")

    checks = [
        ("every alert stored once",
         after_storm.missing == after_storm.duplicated == after_storm.unexpected == 0
         and after_storm.incidents == after_storm.alert_events == expected_total
         and real.failed == 0 and real.counts["created"] == args.alerts,
         f"{after_storm.incidents - warmup_alerts} of {args.alerts}"),
        (f"rate >= {MIN_RATE_RATIO} x no-op", ratio >= MIN_RATE_RATIO,
         f"{real.rate:.0f} vs {noop.rate:.0f} alerts/s, ratio {ratio:.2f}"),
        (f"p99 < {MAX_P99_SECONDS * 1000:.0f} ms", real.percentile(0.99) < MAX_P99_SECONDS,
         f"{real.percentile(0.99) * 1000:.0f} ms"),
    ]
    if args.redeliver:
        again = results[2]
        checks.append((
            "redelivery stores nothing new",
            again.failed == 0 and again.counts["created"] == again.counts["updated"] == 0
            and again.counts["duplicates"] == args.alerts
            and (after_all.incidents, after_all.alert_events)
            == (after_storm.incidents, after_storm.alert_events),
            (f"created {again.counts['created']}, duplicates {again.counts['duplicates']}, "
             f"incidents {after_storm.incidents} -> {after_all.incidents}")))
    print()
    for name, passed, detail in checks:
        print(f"{'PASS' if passed else 'FAIL'}  {name}: {detail}")
    if args.workdir:
        print(f"\nwork directory kept: {workdir}")
    return 0 if all(passed for _, passed, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
