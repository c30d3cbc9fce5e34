"""One probe cycle of the owl exporter over 1,000 fixture sites, compared with whatweb.

    .venv/bin/python bench/exporter_cycle.py [--sites 1000] [--whatweb-sample 50] [--workdir DIR]

Three processes, so that each one's CPU and memory are its own:

- the **sites** (``--serve``): every site of the benchmark on its own port of 127.0.0.1, served
  by one asyncio process from the fixture sites of ``tests/fixtures/sites`` (the same files, the
  same ``headers.json``, ``statuses.json`` and ``fallback.html`` rules), a mix of WordPress,
  Drupal, Joomla, PrestaShop, Magento and a static site (:data:`MIX`);
- the **exporter** (``--probe``): the real :class:`exporters.app.Exporter` on an inventory of
  those sites (100 clients of tiers 1 to 4, ten sites each), with the vulnerability database of
  the test fixtures, its scheduler started as ``owl exporter`` starts it; the cycle ends when every
  (probe kind, site) job has run once. It prints wall time, CPU seconds and peak RSS. It runs
  twice: with every kind (the cycle), then with the ``cms`` kind alone (detection only, what
  whatweb does);
- **whatweb** (Debian package) on a sample of the same sites, in one invocation
  (``--aggression 1``: one request per site plus redirects), CPU from the children's rusage.

Agreement: for each sampled site, whether whatweb and the exporter name the same CMS (or both
none), and how often each finds the CMS the fixture really runs. Exit status 0 when every target
is met: cycle under 60 s, peak RSS under 300 MB, less CPU per site than whatweb.
"""

from __future__ import annotations

import argparse
import datetime as dt
import asyncio
import json
import mimetypes
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SITES_DIR = ROOT / "tests" / "fixtures" / "sites"
VULNDB_DIR = ROOT / "tests" / "fixtures" / "vulndb"
# fixture folder -> (CMS it runs, weight in the mix)
MIX = {
    "wordpress-6.8.1": ("wordpress", 14), "wordpress-5.8.1": ("wordpress", 8),
    "wordpress-hardened": ("wordpress", 6), "wordpress-assets-only": ("wordpress", 4),
    "wordpress-feed-only": ("wordpress", 4), "wordpress-meta-only": ("wordpress", 4),
    "drupal-10.4.2": ("drupal", 6), "drupal-7.57": ("drupal", 4), "drupal-10": ("drupal", 4),
    "joomla-4.2.7": ("joomla", 5), "joomla-5.3.4": ("joomla", 5),
    "prestashop-8.2.3": ("prestashop", 6), "prestashop-1.6": ("prestashop", 4),
    "magento-2.4": ("magento", 6), "magento-1.9": ("magento", 4),
    "not-wordpress": (None, 6),
}
TARGETS = {"wall_seconds": 60.0, "peak_rss_mb": 300.0}
WHATWEB_CMS = {"WordPress": "wordpress", "Drupal": "drupal", "Joomla": "joomla",
               "PrestaShop": "prestashop", "Magento": "magento"}


def site_folders(count: int) -> list[str]:
    """``count`` folders in the proportions of :data:`MIX`, interleaved (deterministic)."""
    cycle = [name for name, (_, weight) in MIX.items() for _ in range(weight)]
    spread = sorted(range(len(cycle)), key=lambda i: (i * 7919) % len(cycle))
    return [cycle[spread[i % len(cycle)]] for i in range(count)]


# --- the sites -------------------------------------------------------------------------------

def _load_site(folder: Path) -> dict:
    files = {}
    for path in folder.rglob("*"):
        if path.is_file():
            relative = path.relative_to(folder).as_posix()
            if relative.startswith("dot-git/"):
                relative = ".git/" + relative[len("dot-git/"):]
            files["/" + relative] = path.read_bytes()
    read = lambda name: json.loads(files.pop("/" + name)) if "/" + name in files else {}  # noqa
    site = {"headers": read("headers.json"), "statuses": read("statuses.json"),
            "fallback": files.pop("/fallback.html", None), "files": files}
    files["/"] = files.pop("/index.html")
    if "/feed.xml" in files:
        files["/feed/"] = files.pop("/feed.xml")
    return site


def _answer(site: dict, path: str) -> bytes:
    path = path.split("?", 1)[0]
    body = site["files"].get(path)
    status, content_type = 200, "text/html; charset=UTF-8"
    if body is None:
        if site["fallback"] is None:
            status, body = 404, b"<h1>Not Found</h1>"
        else:
            body = site["fallback"]
    else:
        status = site["statuses"].get(path, 200)
        if path == "/feed/":
            content_type = "application/rss+xml; charset=UTF-8"
        elif path != "/":
            content_type = mimetypes.guess_type(path)[0] or "text/plain"
    head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Other'}",
            f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    head += [f"{name}: {value}" for name, value in site["headers"].items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


async def _serve(count: int, ports_file: Path):
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1]))
    loaded = {name: _load_site(SITES_DIR / name) for name in MIX}

    def handler_for(site):
        async def handle(reader, writer):
            try:
                while True:
                    request = await reader.readuntil(b"\r\n\r\n")
                    path = request.split(b" ", 2)[1].decode("latin-1")
                    writer.write(_answer(site, path))
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, IndexError,
                    asyncio.LimitOverrunError):
                pass
            finally:
                writer.close()
        return handle

    servers, ports = [], []
    for name in site_folders(count):
        server = await asyncio.start_server(handler_for(loaded[name]), "127.0.0.1", 0,
                                            backlog=64)
        servers.append(server)
        ports.append(server.sockets[0].getsockname()[1])
    ports_file.write_text(json.dumps(ports))
    await asyncio.Event().wait()


# --- the exporter ----------------------------------------------------------------------------

def _inventory_text(ports: list[int], vulndb: Path) -> str:
    import yaml

    clients = []
    for number in range(0, len(ports), 10):
        index = number // 10
        clients.append({
            "id": f"client{index:03d}", "name": f"Client {index}",
            "contract": {"tier": index % 4 + 1, "monthly_fee": "500.00", "quote": f"B-{index}",
                         "start": dt.date(2025, 1, 1)},
            "sites": [{"id": f"site{n:04d}", "url": f"http://127.0.0.1:{ports[n]}/"}
                      for n in range(number, min(number + 10, len(ports)))]})
    return yaml.safe_dump({"provider": {"name": "OWL BENCH", "probes": {
        "vulnerability_db": str(vulndb)}}, "clients": clients}, sort_keys=False)


def _probe(inventory_path: Path, kinds: str, out: Path):
    """Run one cycle in this process; write its figures and what each site was found to run."""
    from exporters.app import Exporter
    from owl.inventory import load_inventory

    inventory = load_inventory(inventory_path)
    exporter = Exporter(inventory)
    if kinds != "all":
        exporter.scheduler.kinds = tuple(k for k in exporter.scheduler.kinds if k.name == kinds)
    jobs = sum(1 for target in exporter.targets() for kind in exporter.scheduler.kinds
               if kind.applies_to(target))
    cpu_start, wall_start = time.process_time(), time.monotonic()
    exporter.start()
    while len(exporter.cache.runs()) < jobs:
        time.sleep(0.05)
    wall = time.monotonic() - wall_start
    cpu = time.process_time() - cpu_start
    exporter.stop()
    runs = exporter.cache.runs()
    found = {run.target.site.url: (run.result.data.detection.cms
                                   if run.result.data.detection else None)
             for run in runs if run.probe == "cms" and run.result.success}
    out.write_text(json.dumps({
        "jobs": jobs, "failed": sum(not run.result.success for run in runs),
        "errors": sorted({run.result.error for run in runs if not run.result.success})[:5],
        "wall": wall, "cpu": cpu, "peak_rss_mb":
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "found": found}))


def _run_probe_process(workdir: Path, inventory: Path, kinds: str) -> dict:
    out = workdir / f"probe-{kinds}.json"
    subprocess.run([sys.executable, __file__, "--probe", str(inventory), "--kinds", kinds,
                    "--out", str(out)], check=True)
    return json.loads(out.read_text())


# --- whatweb ---------------------------------------------------------------------------------

def _whatweb(urls: list[str], workdir: Path) -> tuple[dict[str, str | None], float]:
    log = workdir / "whatweb.json"
    log.unlink(missing_ok=True)  # whatweb appends to an existing log
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["whatweb", "--color=never", "--no-errors", "--quiet", "--aggression", "1",
                    f"--log-json={log}", *urls], check=True, timeout=600)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    found: dict[str, str | None] = {}
    for entry in json.loads(log.read_text() or "[]"):
        if not entry or "target" not in entry:
            continue
        cms = next((ours for theirs, ours in WHATWEB_CMS.items()
                    if theirs in entry.get("plugins", {})), None)
        if found.get(entry["target"]) is None:  # a redirect gives several entries
            found[entry["target"]] = cms
    return found, cpu


# --- the benchmark ---------------------------------------------------------------------------

def _vulndb(workdir: Path) -> Path:
    from exporters.vulndb.friendsofphp import read_friendsofphp
    from exporters.vulndb.kev import mark_exploited, read_kev
    from exporters.vulndb.model import Database, dump_database, merged
    from exporters.vulndb.wordfence import read_wordfence

    database = Database(updated=dt.datetime.now(dt.timezone.utc))
    for records, _ in (read_wordfence(VULNDB_DIR / "wordfence.json"),
                       read_friendsofphp(VULNDB_DIR / "friendsofphp")):
        database = merged(database, records, database.updated)
    database, _ = mark_exploited(database, read_kev(VULNDB_DIR / "kev.json"))
    path = workdir / "vulndb.json"
    path.write_text(dump_database(database))
    return path


def bench(args) -> int:
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="owl-exporter-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    ports_file = workdir / "ports.json"
    ports_file.unlink(missing_ok=True)
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(ports_file),
                               "--sites", str(args.sites)])
    try:
        deadline = time.monotonic() + 60
        while not ports_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        ports = json.loads(ports_file.read_text())
        folders = site_folders(args.sites)
        inventory = workdir / "inventory.yml"
        inventory.write_text(_inventory_text(ports, _vulndb(workdir)))
        cycle = _run_probe_process(workdir, inventory, "all")
        detection = _run_probe_process(workdir, inventory, "cms")
        sample = sorted(random.Random(args.seed).sample(range(args.sites),
                                                        min(args.whatweb_sample, args.sites)))
        urls = [f"http://127.0.0.1:{ports[i]}/" for i in sample]
        whatweb = None
        if shutil.which("whatweb"):
            _, startup = _whatweb(urls[:1], workdir)  # Ruby and plugin loading, one site
            found, cpu = _whatweb(urls, workdir)
            whatweb = (found, cpu, startup)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return report(args, cycle, detection, whatweb, folders, ports, sample, urls)


def report(args, cycle, detection, whatweb, folders, ports, sample, urls) -> int:
    sites = args.sites
    mix = ", ".join(f"{cms or 'none'} {n}" for cms, n in _counts(folders))
    print(f"sites: {sites} ({mix})")
    for name, run in (("full cycle (cms + vulnerabilities)", cycle),
                      ("detection only (cms kind)", detection)):
        print(f"{name}: {run['jobs']} jobs, {run['failed']} failed, wall {run['wall']:.1f} s, "
              f"CPU {run['cpu']:.1f} s = {1000 * run['cpu'] / sites:.1f} ms/site, "
              f"peak RSS {run['peak_rss_mb']:.0f} MB")
        for error in run["errors"]:
            print(f"  e.g. {error}")
    truth = {f"http://127.0.0.1:{ports[i]}/": MIX[folders[i]][0] for i in range(sites)}
    ours_right = sum(cycle["found"].get(url) == cms for url, cms in truth.items())
    print(f"exporter: right CMS on {ours_right}/{sites} sites ({100 * ours_right / sites:.1f} %)")
    passed = (cycle["wall"] < TARGETS["wall_seconds"]
              and cycle["peak_rss_mb"] < TARGETS["peak_rss_mb"])
    if whatweb is None:
        print("whatweb: not installed (Debian package whatweb): no comparison")
        return 1
    found, cpu, startup = whatweb
    agree = sum(found.get(url) == cycle["found"].get(url) for url in urls)
    theirs_right = sum(found.get(url) == truth[url] for url in urls)
    ours_sample = sum(cycle["found"].get(url) == truth[url] for url in urls)
    whatweb_per_site = cpu / len(urls)
    print(f"whatweb on {len(urls)} sampled sites: CPU {cpu:.1f} s = "
          f"{1000 * whatweb_per_site:.1f} ms/site; same CMS as the exporter on {agree}/"
          f"{len(urls)} ({100 * agree / len(urls):.0f} %); right CMS: whatweb {theirs_right}, "
          f"exporter {ours_sample}")
    print(f"whatweb on one site (startup: Ruby, plugins): CPU {startup:.2f} s; per further site "
          f"{1000 * (cpu - startup) / max(1, len(urls) - 1):.1f} ms")
    differing = {}
    for index, url in zip(sample, urls):
        if found.get(url) != cycle["found"].get(url):
            key = (folders[index], found.get(url), cycle["found"].get(url))
            differing[key] = differing.get(key, 0) + 1
    for (folder, theirs, ours), count in sorted(differing.items()):
        print(f"  differs on {count} x {folder}: whatweb {theirs}, exporter {ours}")
    ratio_cycle = cycle["cpu"] / sites / whatweb_per_site
    ratio_detect = detection["cpu"] / sites / whatweb_per_site
    print(f"CPU per site, exporter / whatweb: full cycle {ratio_cycle:.2f}, "
          f"detection only {ratio_detect:.2f}")
    passed = passed and ratio_cycle < 1
    print(f"targets: cycle < {TARGETS['wall_seconds']:.0f} s, peak RSS < "
          f"{TARGETS['peak_rss_mb']:.0f} MB, less CPU per site than whatweb: "
          f"{'all met' if passed else 'NOT MET'}")
    return 0 if passed else 1


def _counts(folders):
    counts = {}
    for folder in folders:
        cms = MIX[folder][0]
        counts[cms] = counts.get(cms, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--whatweb-sample", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1, help="of the whatweb sample")
    parser.add_argument("--workdir", help="keep the inventory, database and logs there")
    parser.add_argument("--serve", metavar="PORTS_FILE", help=argparse.SUPPRESS)
    parser.add_argument("--probe", metavar="INVENTORY", help=argparse.SUPPRESS)
    parser.add_argument("--kinds", default="all", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.sites, Path(args.serve)))
        return 0
    if args.probe:
        import logging
        logging.basicConfig(level=logging.WARNING)
        _probe(Path(args.probe), args.kinds, Path(args.out))
        return 0
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
