"""Scale benchmark: the stack's costs at 1,000 / 5,000 / 10,000 clients (issue 15, item 2).

    .venv-test/bin/python bench/scale.py                           # 1,000, 5,000 and 10,000
    .venv-test/bin/python bench/scale.py --clients 1000 --events 50000 --skip prometheus

For each client count: a generated inventory (2 sites and 1 server a client, tiers 0-4 mixed,
trials, terminated and suspended contracts, some 24/7), then

- ``owl config render`` in a subprocess: wall time, peak RSS, Prometheus rules, scrape targets;
- a month (November 2026) of incidents, 12 a client, stored through the bridge's service
  (``SlaService.ingest`` of ``parse_alert`` notices, in time order, as ``sla_bridge/replay.py``
  feeds them), a few left open;
- ``owl bridge`` on that database: wall time from the start of the process to the first 200
  from ``/healthz``, its RSS then;
- ``/metrics`` with the scrape token: series (sample lines), bytes, scrape time (3 scrapes);
- ``owl ledger --month 2026-11`` for every client (and for one client: the fixed cost of a
  command, the reference);
- ``owl sla export-events`` of that database and ``owl sla replay`` of the export;
- ``owl sla replay`` of ``--events`` events (default 1,000,000), written directly in the
  ``owl-events/1`` format ``sla_bridge/replay.py`` reads (the contract events of the real export,
  then firing/resolved alert pairs over the month): at the largest client count only;
- the real ``prometheus`` with the rendered ``prometheus.yml`` (targets unreachable: the sites do
  not exist and the stack's addresses point at closed ports), RSS after two scrape intervals,
  targets discovered and ``count(up)``; bytes per target, also above an empty Prometheus
  measured in the same run.

Targets (issue 15, at 10,000 clients on the 2-core machine): render < 10 s, start-up < 2 s,
/metrics <= 20 series a client and a scrape < 2 s, all ledgers < 2 s, replay of 1 M events
< 60 s. They are checked at every client count (a pass below 10,000 is only a hint). Exit
status 0 only when every checked target passes. SQLite unless ``--database`` names a PostgreSQL
database whose ``public`` schema the script may drop (as bridge_storm.py). See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import heapq
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

UTC = dt.UTC
MONTH = "2026-11"
MONTH_START = dt.datetime(2026, 10, 31, 23, 0, tzinfo=UTC)  # 1 November, Europe/Paris
MONTH_END = dt.datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
NOW_DAY = "2026-12-03"
INCIDENTS_PER_CLIENT = 12
OPEN_SHARE = 0.02  # incidents still firing at the end of the month
WEBHOOK_TOKEN = "bench-scale-webhook-token"
SCRAPE_TOKEN = "bench-scale-scrape-token"
PARTS = ("render", "bridge", "metrics", "ledger", "replay-month", "replay", "prometheus")

TARGETS = {  # name -> (limit, unit); at 10,000 clients
    "render_s": (10.0, "s"),
    "startup_s": (2.0, "s"),
    "series_per_client": (20.0, ""),
    "scrape_s": (2.0, "s"),
    "ledger_all_s": (2.0, "s"),
    "replay_1m_s": (60.0, "s"),
}

# alertname -> (target kind, severity, job, weight)
ALERT_KINDS = {
    "SiteDown": ("site", "critical", "blackbox_http", 25),
    "SiteSlow": ("site", "major", "blackbox_http", 20),
    "TlsCertificateExpiringSoon": ("site", "minor", "blackbox_http", 10),
    "CmsOutdated": ("site", "minor", "owl", 10),
    "ServerUnreachable": ("server", "critical", "blackbox_ssh", 15),
    "TargetDown": ("server", "major", "node", 10),
    "DiskAlmostFull": ("server", "major", "node", 10),
}
_NAMES = list(ALERT_KINDS)
_WEIGHTS = [ALERT_KINDS[name][3] for name in _NAMES]


def owl_bin() -> str:
    return str(Path(sys.executable).parent / "owl")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- the inventory ------------------------------------------------------------------------------

def client_id(number: int) -> str:
    return f"client-{number:05d}"


def client_tier(number: int) -> int:
    return random.Random(number).choices((0, 1, 2, 3, 4), weights=(5, 35, 30, 20, 10))[0]


def inventory_yaml(clients: int) -> str:
    """As examples/inventory.yml looks: provider, then clients with 2 sites and a server each."""
    fees = {0: "0", 1: "450.00", 2: "800.00", 3: "1200.00", 4: "2500.00"}
    cms = (("wordpress", "woocommerce"), ("wordpress", None), ("drupal", None),
           ("prestashop", "prestashop"), ("joomla", None), ("other", None))
    lines = [
        "provider:",
        "  name: OWL SYSTEMS",
        "  timezone: Europe/Paris",
        "  calendar: {hours: {mon-fri: \"09:00-18:00\"}, holidays: {country: FR}}",
        "  receivers:",
        "    pager: {email: astreinte@owl-systems.example}",
        "    ticket: {email: support@owl-systems.example}",
        "  smtp: {host: 127.0.0.1, port: 9, sender: monitoring@owl-systems.example}",
        # closed ports: nothing of the stack answers, nothing on this machine is reached
        "  stack: {prometheus: 127.0.0.1:1, alertmanager: 127.0.0.1:2,",
        "          blackbox_exporter: 127.0.0.1:3, exporter: 127.0.0.1:4, bridge: 127.0.0.1:5}",
        "clients:",
    ]
    for number in range(1, clients + 1):
        rng = random.Random(number)
        tier = client_tier(number)
        if tier == 0:
            status = ("status: trial, start: 2026-11-15" if number % 3 else
                      "status: terminated, terminated_on: 2026-10-31, start: 2026-10-01")
        elif number % 17 == 0:
            status = "status: terminated, terminated_on: 2026-12-31, start: 2025-03-01"
        elif number % 41 == 0:
            status = "status: suspended, suspended_since: 2026-11-20, start: 2025-09-01"
        else:
            status = f"status: active, start: 202{4 + number % 3}-0{1 + number % 9}-01"
        support = str(tier >= 3 or number % 7 == 0).lower()
        site_cms, shop = rng.choice(cms)
        shop_key = f", shop: {shop}" if shop else ""
        octets = f"{number // 250 % 250}.{number % 250}"
        lines += [
            f"  - id: {client_id(number)}",
            f"    name: Client {number} SARL",
            f"    contacts: {{email: [contact@client-{number}.example]}}",
            f"    contract: {{tier: {tier}, monthly_fee: \"{fees[tier]}\", support_24_7: {support},"
            f" quote: DEV-2026-{number:05d}, {status}}}",
            "    sites:",
            f"      - {{id: www, url: \"https://www.client-{number}.example/\", cms: {site_cms}}}",
            f"      - {{id: shop, url: \"https://shop.client-{number}.example/\", cms: "
            f"{site_cms}{shop_key}}}",
            "    servers:",
            f"      - {{id: web1, address: 10.{number // 62500}.{octets},"
            f" node_exporter: \"10.{number // 62500}.{octets}:9100\"}}",
        ]
    return "\n".join(lines) + "\n"


# --- alerts and events --------------------------------------------------------------------------

def alert_dict(number: int, alertname: str, serial: int, status: str, starts: dt.datetime,
               ends: dt.datetime | None) -> dict:
    kind, severity, job, _ = ALERT_KINDS[alertname]
    client = client_id(number)
    labels = {"alertname": alertname, "client": client, "severity": severity, "job": job,
              "tier": str(client_tier(number))}
    if kind == "site":
        site = "www" if serial % 2 else "shop"
        labels |= {"site": site, "instance": f"https://{site}.client-{number}.example/"}
    else:
        labels |= {"server": "web1", "instance": f"10.{number // 62500}.{number // 250 % 250}."
                   f"{number % 250}:{9100 if job == 'node' else 22}"}
    # one fingerprint per incident (a refiring alert within reopen_window would reopen it)
    fingerprint = hashlib.sha256(f"{client}/{alertname}/{serial}".encode()).hexdigest()[:16]
    return {"status": status, "labels": labels,
            "annotations": {"summary": f"{alertname} on {labels['instance']}",
                            "runbook_url": "https://owl.example/runbooks#" + alertname.lower()},
            "startsAt": f"{starts:%Y-%m-%dT%H:%M:%S}Z",
            "endsAt": f"{ends:%Y-%m-%dT%H:%M:%S}Z" if ends else "0001-01-01T00:00:00Z",
            "fingerprint": fingerprint}


def month_alerts(clients: int, per_client: float, seed: int):
    """(received_at, alert dict) of ``per_client`` incidents a client over the month, oldest
    first, streamed (a heap holds only the incidents still open)."""
    rng = random.Random(seed)
    total = int(clients * per_client)
    span = (MONTH_END - MONTH_START).total_seconds()
    # sorted start offsets without sorting a million floats: exponential gaps
    gap = span / (total + 1)
    pending: list = []
    offset = 0.0
    for serial in range(total):
        offset += rng.expovariate(1 / gap)
        starts = MONTH_START + dt.timedelta(seconds=min(offset, span - 60))
        while pending and pending[0][0] <= starts:
            yield heapq.heappop(pending)
        number = rng.randint(1, clients)
        alertname = rng.choices(_NAMES, _WEIGHTS)[0]
        starts = starts.replace(microsecond=0)
        received = starts + dt.timedelta(seconds=rng.randint(30, 90))
        yield received, serial, alert_dict(number, alertname, serial, "firing", starts, None)
        if rng.random() < OPEN_SHARE:
            continue
        ends = starts + dt.timedelta(seconds=int(rng.lognormvariate(7.5, 1.2)) + 60)
        resolved = alert_dict(number, alertname, serial, "resolved", starts, ends)
        heapq.heappush(pending, (ends + dt.timedelta(seconds=rng.randint(30, 300)), serial,
                                 resolved))
    while pending:
        yield heapq.heappop(pending)


def fill_month(database: str, inventory_path: Path, clients: int) -> dict:
    """A month of incidents through the bridge's service, as replay.py feeds them."""
    from owl.inventory import load_inventory
    from sla_bridge.contract_terms import terms_from_inventory
    from sla_bridge.replay import ReplayClock
    from sla_bridge.service import SlaService
    from sla_bridge.storage.database import Database
    from sla_bridge.webhook import parse_alert

    started = time.perf_counter()
    db = Database(database)
    db.upgrade()
    clock = ReplayClock(MONTH_START - dt.timedelta(days=1))
    service = SlaService(db, terms_from_inventory(load_inventory(inventory_path)), clock)
    service.record_contracts()
    batch, notices = [], 0
    for received, _serial, alert in month_alerts(clients, INCIDENTS_PER_CLIENT, seed=clients):
        batch.append(parse_alert(alert, 0, received))
        if len(batch) == 100:
            clock.now = batch[-1].received_at
            service.ingest(batch)
            notices += len(batch)
            batch = []
    if batch:
        clock.now = batch[-1].received_at
        service.ingest(batch)
        notices += len(batch)
    clock.now = dt.datetime.now(UTC)
    service.refresh_statuses()
    db.dispose()
    return {"incidents": clients * INCIDENTS_PER_CLIENT, "notices": notices,
            "fill_s": time.perf_counter() - started}


def write_events(path: Path, clients: int, events: int, contract_lines: list[str]) -> int:
    """``events`` events in the owl-events/1 format: the export's contract events, then alert
    events (firing, resolved) as the bridge records them (payload as ``notice_payload``)."""
    count = 0
    per_client = max(events - len(contract_lines), 0) / clients / (2 - OPEN_SHARE)
    with open(path, "w") as out:
        out.write(json.dumps({"format": "owl-events/1",
                              "exported_at": f"{NOW_DAY}T12:00:00Z"}) + "\n")
        for line in contract_lines:
            out.write(line + "\n")
            count += 1
        for received, serial, alert in month_alerts(clients, per_client, seed=7):
            payload = {key: alert[key] for key in
                       ("fingerprint", "status", "labels", "annotations", "startsAt")}
            payload["endsAt"] = alert["endsAt"] if alert["status"] == "resolved" else None
            count += 1
            out.write(json.dumps({
                "id": count, "kind": "alert", "at": f"{received:%Y-%m-%dT%H:%M:%S}Z",
                "client": alert["labels"]["client"], "actor": None, "incident_id": serial + 1,
                "payload": payload}, sort_keys=True) + "\n")
    return count


# --- processes ----------------------------------------------------------------------------------

def run_measured(command: list[str], log: Path, env: dict | None = None) -> dict:
    """Run to completion: wall time, peak RSS (wait4's rusage of this child alone), status."""
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT,
                                   env=env or os.environ)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    result = {"s": time.perf_counter() - started, "rss_mb": usage.ru_maxrss / 1024,
              "cpu_s": usage.ru_utime + usage.ru_stime, "rc": process.returncode}
    if process.returncode:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{' '.join(command)} exited {process.returncode}:\n{tail}")
    return result


def proc_status(pid: int, key: str) -> float | None:
    """A /proc/PID/status field in MB (VmRSS, VmHWM)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def wait_http(url: str, process: subprocess.Popen, timeout: float, log: Path) -> float:
    import requests

    started = time.perf_counter()
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"exited {process.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return time.perf_counter() - started
        except requests.RequestException:
            pass
        if time.perf_counter() - started > timeout:
            raise RuntimeError(f"{url} did not answer within {timeout} s")
        time.sleep(0.02)


# --- the parts ----------------------------------------------------------------------------------

def render_part(work: Path, inventory: Path, row: dict) -> Path:
    import yaml

    out = work / "rendered"
    result = run_measured([owl_bin(), "config", "render", "--inventory", str(inventory),
                           "--out", str(out), "--now", NOW_DAY,
                           "--scrape.token-file", str(work / "scrape-token"),
                           "--webhook.token-file", str(work / "webhook-token")],
                          work / "render.log")
    rules = sum(len(group.get("rules") or [])
                for path in sorted((out / "prometheus" / "rules").glob("*.yml"))
                for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []))
    targets = sum(len(group.get("targets") or [])
                  for path in sorted((out / "prometheus" / "targets").glob("*.json"))
                  for group in json.loads(path.read_text()))
    row.update(render_s=result["s"], render_rss_mb=result["rss_mb"], rules=rules,
               file_sd_targets=targets)
    return out


def bridge_part(work: Path, inventory: Path, database: str, row: dict, parts: set) -> None:
    import requests

    port = free_port()
    log = work / "bridge.log"
    env = dict(os.environ, OWL_WEBHOOK_TOKEN=WEBHOOK_TOKEN)
    env.pop("OWL_SCRAPE_TOKEN", None)
    started = time.perf_counter()
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [owl_bin(), "bridge", "--inventory", str(inventory), "--database", database,
             "--web.listen-address", f"127.0.0.1:{port}",
             "--scrape.token-file", str(work / "scrape-token"),
             "--storage.wait-timeout", "0"], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", process, 300, log)
        row["startup_s"] = time.perf_counter() - started
        row["startup_rss_mb"] = proc_status(process.pid, "VmHWM")
        base = f"http://127.0.0.1:{port}"
        if "metrics" in parts:
            headers = {"Authorization": f"Bearer {SCRAPE_TOKEN}"}
            times, body = [], b""
            for _ in range(3):
                begun = time.perf_counter()
                response = requests.get(base + "/metrics", headers=headers, timeout=120)
                times.append(time.perf_counter() - begun)
                response.raise_for_status()
                body = response.content
            families: Counter = Counter()
            for line in body.decode().splitlines():
                if line and not line.startswith("#"):
                    families[line.split("{", 1)[0].split(" ", 1)[0]] += 1
            series = sum(families.values())
            owl_series = sum(v for k, v in families.items() if k.startswith("owl_"))
            row.update(series=series, owl_series=owl_series, metrics_mb=len(body) / 1e6,
                       scrape_s=max(times), scrape_first_s=times[0], scrape_best_s=min(times),
                       series_per_client=series / row["clients"],
                       top_families=families.most_common(6),
                       bridge_rss_after_scrape_mb=proc_status(process.pid, "VmHWM"))
    finally:
        stop(process)


def ledger_part(work: Path, inventory: Path, database: str, row: dict) -> None:
    common = ["--month", MONTH, "--inventory", str(inventory), "--database", database]
    one = run_measured([owl_bin(), "ledger", *common, "--client", client_id(2),
                        "--format", "json"], work / "ledger-one.log")
    every = run_measured([owl_bin(), "ledger", *common, "--format", "json"],
                         work / "ledger-all.log")
    ledgers = json.loads((work / "ledger-all.log").read_text())
    row.update(ledger_all_s=every["s"], ledger_all_rss_mb=every["rss_mb"],
               ledger_one_s=one["s"], ledger_all_above_one_s=every["s"] - one["s"],
               ledgers=len(ledgers) if isinstance(ledgers, list) else None)


def export_part(work: Path, database: str, row: dict) -> Path:
    path = work / "month-events.jsonl"
    result = run_measured([owl_bin(), "sla", "export-events", "--database", database,
                           "--out", str(path)], work / "export.log")
    with open(path) as lines:
        count = sum(1 for _ in lines) - 1
    row.update(export_s=result["s"], export_events=count)
    return path


def replay_run(work: Path, inventory: Path, events: Path, name: str) -> dict:
    env = dict(os.environ, TMPDIR=str(work))  # the scratch database, removed by the replay
    return run_measured([owl_bin(), "sla", "replay", "--inventory", str(inventory),
                         "--events", str(events), "--month", MONTH], work / f"{name}.log", env)


def prometheus_part(work: Path, rendered: Path | None, row: dict, wait: float) -> dict:
    """RSS of the real prometheus with the config after ``wait`` seconds (None: an empty one)."""
    import requests

    data = work / ("prometheus-data" if rendered else "prometheus-empty-data")
    if rendered is None:
        config = work / "empty-prometheus.yml"
        config.write_text("global: {scrape_interval: 15s}\nscrape_configs: []\n")
    else:
        config = rendered / "prometheus" / "prometheus.yml"
    port = free_port()
    log = work / ("prometheus.log" if rendered else "prometheus-empty.log")
    with open(log, "wb") as out:
        process = subprocess.Popen(
            ["prometheus", f"--config.file={config}", f"--storage.tsdb.path={data}",
             f"--web.listen-address=127.0.0.1:{port}"], stdout=out, stderr=subprocess.STDOUT,
            cwd=config.parent)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_http(base + "/-/ready", process, 120, log)
        time.sleep(wait)

        def query(expr: str) -> float | None:
            result = requests.get(base + "/api/v1/query", params={"query": expr},
                                  timeout=60).json()["data"]["result"]
            return float(result[0]["value"][1]) if result else None

        # Prometheus' own metrics from its /metrics: the rendered config scrapes it at the
        # inventory's stack address, a closed port here
        own: Counter = Counter()
        for line in requests.get(base + "/metrics", timeout=60).text.splitlines():
            name = line.split("{", 1)[0].split(" ", 1)[0]
            if name in ("prometheus_sd_discovered_targets", "prometheus_tsdb_head_series"):
                own[name] += float(line.rsplit(" ", 1)[1])
        figures = {"rss_mb": proc_status(process.pid, "VmRSS"),
                   "hwm_mb": proc_status(process.pid, "VmHWM"),
                   "discovered": own.get("prometheus_sd_discovered_targets"),
                   "up": query("count(up)"), "up_1": query("count(up == 1)") or 0.0,
                   "head_series": own.get("prometheus_tsdb_head_series")}
    finally:
        stop(process)
        shutil.rmtree(data, ignore_errors=True)
    return figures


def scrape_interval_seconds(rendered: Path) -> float:
    import yaml

    config = yaml.safe_load((rendered / "prometheus" / "prometheus.yml").read_text())
    text = (config.get("global") or {}).get("scrape_interval", "1m")
    return float(text[:-1]) * {"s": 1, "m": 60}[text[-1]]


# --- the run ------------------------------------------------------------------------------------

def reset_postgres(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()


def run_count(clients: int, args, parts: set, workroot: Path, empty_prometheus: dict | None,
              largest: bool) -> dict:
    work = workroot / f"c{clients}"
    work.mkdir(parents=True, exist_ok=True)
    (work / "scrape-token").write_text(SCRAPE_TOKEN + "\n")
    (work / "webhook-token").write_text(WEBHOOK_TOKEN + "\n")
    inventory = work / "inventory.yml"
    inventory.write_text(inventory_yaml(clients))
    row: dict = {"clients": clients}
    say = lambda text: print(f"  [{clients}] {text}", flush=True)  # noqa: E731

    rendered = None
    if "render" in parts or "prometheus" in parts:
        rendered = render_part(work, inventory, row)
        say(f"render {row['render_s']:.1f} s, {row['render_rss_mb']:.0f} MB, {row['rules']} rules")

    if args.database:
        database = args.database
        reset_postgres(database)
    else:
        database = f"sqlite:///{work / 'bridge.db'}"
    needs_db = parts & {"bridge", "metrics", "ledger", "replay-month", "replay"}
    if needs_db:
        row.update(fill_month(database, inventory, clients))
        say(f"month filled: {row['incidents']} incidents, {row['notices']} notices in "
            f"{row['fill_s']:.1f} s")
    if parts & {"bridge", "metrics"}:
        bridge_part(work, inventory, database, row, parts)
        say(f"bridge start-up {row['startup_s']:.2f} s"
            + (f", /metrics {row['series']} series in {row['scrape_s']:.2f} s"
               if "series" in row else ""))
    if "ledger" in parts:
        ledger_part(work, inventory, database, row)
        say(f"ledgers {row['ledger_all_s']:.2f} s (one: {row['ledger_one_s']:.2f} s)")
    if parts & {"replay-month", "replay"}:
        export = export_part(work, database, row)
        say(f"export {row['export_events']} events in {row['export_s']:.1f} s")
        if "replay-month" in parts:
            result = replay_run(work, inventory, export, "replay-month")
            row.update(replay_month_s=result["s"], replay_month_rss_mb=result["rss_mb"],
                       replay_month_events_per_s=row["export_events"] / result["s"])
            say(f"replay of the month's export {result['s']:.1f} s, {result['rss_mb']:.0f} MB")
        if "replay" in parts and largest:
            contracts = [line.rstrip("\n") for line in open(export)
                         if '"kind": "contract"' in line]
            events_file = work / "events-synth.jsonl"
            count = write_events(events_file, clients, args.events, contracts)
            result = replay_run(work, inventory, events_file, "replay-synth")
            events_file.unlink()
            row.update(replay_events=count, replay_s=result["s"], replay_rss_mb=result["rss_mb"],
                       replay_events_per_s=count / result["s"],
                       replay_1m_s=result["s"] * 1_000_000 / count)
            say(f"replay of {count} events {result['s']:.1f} s, {result['rss_mb']:.0f} MB")
    if "prometheus" in parts and rendered is not None:
        wait = 2 * scrape_interval_seconds(rendered) + 10
        figures = prometheus_part(work, rendered, row, wait)
        targets = figures["discovered"] or figures["up"] or 0
        row.update({f"prom_{k}": v for k, v in figures.items()}, prom_wait_s=wait)
        if targets:
            row["prom_kb_per_target"] = figures["rss_mb"] * 1024 / targets
            if empty_prometheus:
                row["prom_kb_per_target_above_empty"] = \
                    (figures["rss_mb"] - empty_prometheus["rss_mb"]) * 1024 / targets
        say(f"prometheus {figures['rss_mb']:.0f} MB for {targets:.0f} targets "
            f"after {wait:.0f} s")
    if not args.keep:
        for name in ("bridge.db", "month-events.jsonl", "rendered"):
            path = work / name
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(
                missing_ok=True)
    return row


def verdict(row: dict, key: str) -> str:
    if row.get(key) is None:
        return ""
    return "PASS" if row[key] < TARGETS[key][0] or (
        key == "series_per_client" and row[key] <= TARGETS[key][0]) else "FAIL"


LINES = [  # (label, key, format, target key)
    ("owl config render", "render_s", "{:.2f} s", "render_s"),
    ("  render peak RSS", "render_rss_mb", "{:.0f} MB", None),
    ("  Prometheus rules", "rules", "{:d}", None),
    ("  file_sd targets", "file_sd_targets", "{:d}", None),
    ("month filled (service)", "fill_s", "{:.1f} s", None),
    ("  incidents / notices", "notices", "{:d}", None),
    ("bridge start-up to /healthz", "startup_s", "{:.2f} s", "startup_s"),
    ("  bridge peak RSS at start", "startup_rss_mb", "{:.0f} MB", None),
    ("/metrics series", "series", "{:d}", None),
    ("  series per client", "series_per_client", "{:.1f}", "series_per_client"),
    ("  /metrics size", "metrics_mb", "{:.1f} MB", None),
    ("  scrape (worst of 3)", "scrape_s", "{:.2f} s", "scrape_s"),
    ("  scrape (best of 3)", "scrape_best_s", "{:.2f} s", None),
    ("owl ledger, every client", "ledger_all_s", "{:.2f} s", "ledger_all_s"),
    ("  owl ledger, one client", "ledger_one_s", "{:.2f} s", None),
    ("  ledgers printed", "ledgers", "{:d}", None),
    ("owl sla export-events", "export_s", "{:.1f} s", None),
    ("  events exported", "export_events", "{:d}", None),
    ("replay of the month's export", "replay_month_s", "{:.1f} s", None),
    ("  replay RSS", "replay_month_rss_mb", "{:.0f} MB", None),
    ("  events/s", "replay_month_events_per_s", "{:.0f}", None),
    ("replay of generated events", "replay_s", "{:.1f} s", None),
    ("  events", "replay_events", "{:d}", None),
    ("  peak RSS", "replay_rss_mb", "{:.0f} MB", None),
    ("  scaled to 1,000,000 events", "replay_1m_s", "{:.0f} s", "replay_1m_s"),
    ("Prometheus RSS", "prom_rss_mb", "{:.0f} MB", None),
    ("  targets discovered", "prom_discovered", "{:.0f}", None),
    ("  count(up), up == 1", "prom_up", "{:.0f}", None),
    ("  head series", "prom_head_series", "{:.0f}", None),
    ("  KB per target", "prom_kb_per_target", "{:.1f}", None),
    ("  KB per target above empty", "prom_kb_per_target_above_empty", "{:.1f}", None),
]
LINEAR = ["render_s", "render_rss_mb", "fill_s", "startup_s", "series", "scrape_s",
          "ledger_all_above_one_s", "export_s", "replay_month_s", "prom_rss_mb"]


def report(rows: list[dict], empty: dict | None) -> bool:
    ok = True
    counts = [row["clients"] for row in rows]
    print("\n| figure | " + " | ".join(f"{c:,} clients" for c in counts) + " | target |")
    print("|---|" + "---|" * (len(counts) + 1))
    for label, key, fmt, target in LINES:
        if all(row.get(key) is None for row in rows):
            continue
        cells = []
        for row in rows:
            value = row.get(key)
            if value is None:
                cells.append("")
                continue
            text = fmt.format(int(value) if fmt == "{:d}" else value)
            if key == "prom_up" and row.get("prom_up_1") is not None:
                text += f", {row['prom_up_1']:.0f}"
            if target:
                mark = verdict(row, target)
                ok &= mark != "FAIL"
                text += f" {mark}"
            cells.append(text)
        limit = (f"{'<=' if target == 'series_per_client' else '<'} {TARGETS[target][0]:g}"
                 f" {TARGETS[target][1]}".rstrip() if target else "")
        print(f"| {label} | " + " | ".join(cells) + f" | {limit} |")
    if empty:
        print(f"\nempty Prometheus (no scrape config): {empty['rss_mb']:.0f} MB RSS")
    for row in rows:
        if row.get("top_families"):
            print(f"/metrics at {row['clients']:,}: " + ", ".join(
                f"{name} {count}" for name, count in row["top_families"]))
    if len(rows) > 1:
        base = rows[0]
        print(f"\nper-client cost relative to {base['clients']:,} clients "
              "(1.00 = linear, above = grows faster than the clients):")
        for key in LINEAR:
            ratios = [f"{row['clients']:,}: "
                      f"{(row[key] / row['clients']) / (base[key] / base['clients']):.2f}"
                      for row in rows[1:] if row.get(key) and base.get(key)]
            if ratios:
                print(f"  {key}: " + ", ".join(ratios))
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="1000,5000,10000",
                        help="client counts, comma-separated (default %(default)s)")
    parser.add_argument("--events", type=int, default=1_000_000,
                        help="events of the generated replay, at the largest count "
                             "(default %(default)s)")
    parser.add_argument("--skip", action="append", default=[],
                        help=f"parts to leave out, comma-separated: {', '.join(PARTS)}")
    parser.add_argument("--database", help="a PostgreSQL URL whose public schema is dropped "
                        "(default: SQLite in the work folder)")
    parser.add_argument("--json", help="write the figures to this file")
    parser.add_argument("--workdir", help="work folder (default: a temporary one, removed)")
    parser.add_argument("--keep", action="store_true", help="keep databases and rendered files")
    args = parser.parse_args()
    counts = [int(text.replace("_", "")) for text in args.clients.split(",")]
    skipped = {part.strip() for text in args.skip for part in text.split(",") if part.strip()}
    unknown = skipped - set(PARTS)
    if unknown:
        parser.error(f"unknown part(s) {sorted(unknown)}; parts: {', '.join(PARTS)}")
    parts = set(PARTS) - skipped
    if args.database and not args.database.startswith("postgresql://"):
        parser.error("--database takes a postgresql:// URL (SQLite is the default)")
    workroot = Path(args.workdir) if args.workdir else Path(
        tempfile.mkdtemp(prefix="owl-scale-"))
    workroot.mkdir(parents=True, exist_ok=True)
    print(f"scale benchmark: clients {counts}, parts {sorted(parts)}, "
          f"database {'PostgreSQL' if args.database else 'SQLite'}, work {workroot}", flush=True)
    rows, empty = [], None
    try:
        if "prometheus" in parts:
            empty = prometheus_part(workroot, None, {}, 40)
            print(f"  empty prometheus: {empty['rss_mb']:.0f} MB", flush=True)
        for clients in counts:
            rows.append(run_count(clients, args, parts, workroot, empty,
                                  largest=clients == max(counts)))
    finally:
        if not args.workdir and not args.keep:
            shutil.rmtree(workroot, ignore_errors=True)
    ok = report(rows, empty)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"date": dt.date.today().isoformat(), "command": " ".join(sys.argv),
             "empty_prometheus": empty, "rows": rows}, indent=2, default=str) + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
