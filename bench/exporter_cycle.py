"""One probe cycle of the owl exporter over 1,000 fixture sites, compared with whatweb.

    .venv/bin/python bench/exporter_cycle.py [--sites 1000] [--whatweb-sample 50] [--workdir DIR]

Three processes, so that each one's CPU and memory are its own:

- the **sites** (``--serve``): every site of the benchmark on its own port of 127.0.0.1, served
  by one asyncio process from the fixture sites of ``tests/fixtures/sites`` (the same files, the
  same ``headers.json``, ``statuses.json`` and ``fallback.html`` rules), a mix of WordPress,
  Drupal, Joomla, PrestaShop, Magento and a static site (:data:`MIX`). A fifth of the sites are
  shops: WooCommerce on WordPress pages, PrestaShop and Magento; each shop's API is one of the
  fake shops of ``tests/fixtures/shops`` (imported, one instance per site: it records every
  call), mounted under the platform's API path (:data:`SHOP_APIS`) next to the site's pages.
  The same process serves a payment provider's script and a control port that tells what the
  fake shops recorded;
- the **exporter** (``--probe``): the real :class:`exporters.app.Exporter` on an inventory of
  those sites (100 clients of tiers 1 to 4, ten sites each; shops of tier 3 and up have a
  ``checkout``), with the vulnerability database of the test fixtures, its scheduler started as
  ``owl exporter`` starts it; the cycle ends when every (probe kind, site) job has run once. It
  prints wall time, CPU seconds and peak RSS. It runs three times: with every kind of
  ``exporters.kinds.PROBES`` that applies (the cycle: ``cms`` and ``content`` everywhere,
  ``vulnerabilities`` and ``tls`` on tier 2 and up, ``shop`` on the checkouts), again with every
  probe fetching for itself (as before issue 14's item 4: no shared ``FetchCache``), then with
  the ``cms`` kind alone (detection only, what whatweb does);

Most sites (:data:`HTTPS_SHARE`) are served over HTTPS with a certificate from a CA made at bench
start; the exporter trusts it as its system trust store (``SSL_CERT_FILE``, ``REQUESTS_CA_BUNDLE``).
The sites' server counts each site's HTTP requests, connections and TLS handshakes per run.
- **whatweb** (Debian package) on a sample of the same sites, in one invocation
  (``--aggression 1``: one request per site plus redirects), CPU from the children's rusage.

After the cycle, from the calls the fake shops recorded: every shop with a checkout was probed,
no other shop was, every test cart was left empty, and no order endpoint was ever called.

Agreement: for each sampled site, whether whatweb and the exporter name the same CMS (or both
none), and how often each finds the CMS the fixture really runs. Exit status 0 when every target
is met (cycle under 60 s, peak RSS under 300 MB, less CPU per site than whatweb) and the shops
check passes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import json
import mimetypes
import random
import resource
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import NamedTuple
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SITES_DIR = ROOT / "tests" / "fixtures" / "sites"
VULNDB_DIR = ROOT / "tests" / "fixtures" / "vulndb"


class Kind(NamedTuple):
    folder: str  # fixture site whose pages it serves
    cms: str | None  # CMS it runs (None: a static site)
    shop: str | None  # shop platform, for a shop
    weight: int  # sites of this kind per 200
    checkout: bool = False  # a shop the ``shop`` probe can run on (given a tier-3+ client)


# kind of site -> what it is; weights per 200 sites. A fifth are shops, in proportions close to
# the open-source platforms' shares among small shops (WooCommerce 60 %, PrestaShop 25 %,
# Magento 15 %). Every PrestaShop and Magento site is a shop; PrestaShop 1.6 and Magento 1 have
# no checkout (the probe's flows need PrestaShop 1.7+ and Magento 2).
MIX = {
    "wordpress-6.8.1": Kind("wordpress-6.8.1", "wordpress", None, 30),
    "wordpress-5.8.1": Kind("wordpress-5.8.1", "wordpress", None, 18),
    "wordpress-hardened": Kind("wordpress-hardened", "wordpress", None, 12),
    "wordpress-assets-only": Kind("wordpress-assets-only", "wordpress", None, 10),
    "wordpress-feed-only": Kind("wordpress-feed-only", "wordpress", None, 10),
    "wordpress-meta-only": Kind("wordpress-meta-only", "wordpress", None, 10),
    "drupal-10.4.2": Kind("drupal-10.4.2", "drupal", None, 12),
    "drupal-7.57": Kind("drupal-7.57", "drupal", None, 9),
    "drupal-10": Kind("drupal-10", "drupal", None, 9),
    "joomla-4.2.7": Kind("joomla-4.2.7", "joomla", None, 12),
    "joomla-5.3.4": Kind("joomla-5.3.4", "joomla", None, 12),
    "not-wordpress": Kind("not-wordpress", None, None, 16),
    "woocommerce/wordpress-6.8.1": Kind("wordpress-6.8.1", "wordpress", "woocommerce", 16, True),
    "woocommerce/wordpress-5.8.1": Kind("wordpress-5.8.1", "wordpress", "woocommerce", 8, True),
    "prestashop-8.2.3": Kind("prestashop-8.2.3", "prestashop", "prestashop", 8, True),
    "prestashop-1.6": Kind("prestashop-1.6", "prestashop", "prestashop", 2),
    "magento-2.4": Kind("magento-2.4", "magento", "magento", 5, True),
    "magento-1.9": Kind("magento-1.9", "magento", "magento", 1),
}
# shop platform -> (fake shop class in tests/fixtures/shops, where its API answers: requests
# whose path and query start with it go to the fake, the others to the site's pages, the
# checkout of the inventory: the fake's test product and payment methods)
SHOP_APIS = {
    "woocommerce": ("tests.fixtures.shops.woocommerce:FakeWooCommerce", "/wp-json/wc/",
                    {"product": "42", "payment_methods": ["bacs", "stripe"]}),
    "prestashop": ("tests.fixtures.shops.prestashop:FakePrestaShop", "/index.php",
                   {"product": "7"}),
    "magento": ("tests.fixtures.shops.magento:FakeMagento", "/rest/",
                {"product": "MUG-OWL", "payment_methods": ["checkmo", "stripe_payments"]}),
}
CHECKOUT_MIN_TIER = 3
PROVIDER_PATH = "/v3/"  # the payment provider's script, as js.stripe.com/v3/
MIX_SEED = 4
# HTTPS: most client sites are served over HTTPS (an assumption, not a measured share); those get
# the ``tls`` probe on tier 2 and up. Their servers' TLS setup (one self-signed CA made at bench
# start, a leaf for 127.0.0.1 signed by it): ``modern`` is Python's server defaults (TLS 1.2+,
# ECDHE suites, CBC among them); ``legacy`` also accepts RSA key exchange (no forward secrecy),
# as older shared hosting still does.
HTTPS_SHARE = 0.9
LEGACY_TLS_SHARE = 0.2  # of the HTTPS sites
HTTPS_SEED = 7
TARGETS = {"wall_seconds": 60.0, "peak_rss_mb": 300.0}
WHATWEB_CMS = {"WordPress": "wordpress", "Drupal": "drupal", "Joomla": "joomla",
               "PrestaShop": "prestashop", "Magento": "magento"}


def site_folders(count: int) -> list[str]:
    """``count`` kinds of :data:`MIX` in its proportions (largest remainder), shuffled with a
    fixed seed: every kind spread over the clients and so over the tiers."""
    total = sum(kind.weight for kind in MIX.values())
    quotas = {name: count * kind.weight / total for name, kind in MIX.items()}
    numbers = {name: int(quota) for name, quota in quotas.items()}
    for name in sorted(quotas, key=lambda n: numbers[n] - quotas[n])[:count - sum(
            numbers.values())]:
        numbers[name] += 1
    names = [name for name in MIX for _ in range(numbers[name])]
    random.Random(MIX_SEED).shuffle(names)
    return names


def site_schemes(count: int) -> list[str | None]:
    """Per site: None (plain HTTP), ``"modern"`` or ``"legacy"`` (HTTPS, its TLS setup), drawn
    with a fixed seed in the shares :data:`HTTPS_SHARE` and :data:`LEGACY_TLS_SHARE`."""
    draw = random.Random(HTTPS_SEED)
    schemes = []
    for _ in range(count):
        https, legacy = draw.random() < HTTPS_SHARE, draw.random() < LEGACY_TLS_SHARE
        schemes.append(("legacy" if legacy else "modern") if https else None)
    return schemes


def site_url(port: int, scheme: str | None) -> str:
    return f"{'https' if scheme else 'http'}://127.0.0.1:{port}/"


def make_certificates(folder: Path) -> dict[str, str]:
    """A CA and a leaf for 127.0.0.1 (RSA 2048, SHA-256, as most sites' certificates), written
    to ``folder``: the paths of ``ca`` (the bundle the probes trust), ``cert`` and ``key``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID
    import ipaddress

    now = dt.datetime.now(dt.timezone.utc)
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "owl bench CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(days=1)).not_valid_after(now + dt.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    folder.mkdir(parents=True, exist_ok=True)
    paths = {"ca": folder / "ca.pem", "cert": folder / "leaf.pem", "key": folder / "leaf.key"}
    paths["ca"].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths["cert"].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths["key"].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()))
    return {name: str(path) for name, path in paths.items()}


def server_contexts(certificates: dict[str, str]) -> dict[str, "ssl.SSLContext"]:
    """The sites' TLS setups (:data:`HTTPS_SHARE`): ``modern`` and ``legacy``."""
    import ssl

    contexts = {}
    for name in ("modern", "legacy"):
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(certificates["cert"], certificates["key"])
        if name == "legacy":
            context.set_ciphers("DEFAULT:kRSA:!aNULL:!eNULL:@SECLEVEL=1")
        contexts[name] = context
    return contexts


def tier_of(index: int) -> int:
    """The contract tier of the client of site ``index`` (ten sites a client)."""
    return index // 10 % 4 + 1


def has_checkout(folders: list[str], index: int) -> bool:
    return MIX[folders[index]].checkout and tier_of(index) >= CHECKOUT_MIN_TIER


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


def _fake_class(platform: str) -> type:
    import importlib

    module, name = SHOP_APIS[platform][0].split(":")
    return getattr(importlib.import_module(module), name)


def _wsgi_answer(app, port: int, method: str, target: str, headers: list[tuple[str, str]],
                 body: bytes) -> bytes:
    """Call the WSGI ``app`` (a fake shop) for one request; its HTTP/1.1 answer."""
    path, _, query = target.partition("?")
    environ = {"REQUEST_METHOD": method, "SCRIPT_NAME": "",
               "PATH_INFO": unquote(path, "latin-1"), "QUERY_STRING": query,
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": str(port),
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1",
               "wsgi.version": (1, 0), "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
               "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False}
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            environ[key] = value
        else:
            key = "HTTP_" + key
            environ[key] = f"{environ[key]}, {value}" if key in environ else value
    started = []
    chunks = app(environ, lambda status, response_headers, exc_info=None:
                 started.append((status, response_headers)))
    try:
        answer = b"".join(chunks)
    finally:
        getattr(chunks, "close", lambda: None)()
    status, response_headers = started[0]
    head = [f"HTTP/1.1 {status}", f"Content-Length: {len(answer)}"]
    head += [f"{name}: {value}" for name, value in response_headers
             if name.lower() not in ("content-length", "transfer-encoding", "connection")]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + answer


async def _read_request(reader) -> tuple[str, str, list[tuple[str, str]], bytes]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
    request_line, *lines = head[:-4].split("\r\n")
    method, target, _ = request_line.split(" ", 2)
    headers = [tuple(part.strip() for part in line.split(":", 1)) for line in lines if ":" in line]
    length = next((int(value) for name, value in headers if name.lower() == "content-length"), 0)
    body = await reader.readexactly(length) if length else b""
    return method, target, headers, body


def _shop_summary(shops: dict[int, object], platform_of: dict[int, str]) -> dict:
    """What each fake shop recorded (site index -> counts), for the check after the cycle."""
    summary = {}
    for index, shop in shops.items():
        with shop.lock:
            calls: dict[str, int] = {}
            for call in shop.calls:
                calls[call.endpoint] = calls.get(call.endpoint, 0) + 1
            carts = getattr(shop, "carts", None) or getattr(shop, "sessions", {})
            summary[str(index)] = {"platform": platform_of[index], "calls": calls, "order_calls": len(shop.order_calls()),
                                   "orders": len(shop.orders), "carts": len(carts),
                                   "nonempty_carts": shop.nonempty_carts()}
    return summary


async def _serve(count: int, ports_file: Path, certificates: dict[str, str]):
    resource.setrlimit(resource.RLIMIT_NOFILE, (20000, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1]))
    loaded = {kind.folder: _load_site(SITES_DIR / kind.folder) for kind in MIX.values()}
    shops: dict[int, object] = {}  # site index -> its fake shop
    platform_of: dict[int, str] = {}
    provider_hits = [0]
    schemes = site_schemes(count)
    contexts = server_contexts(certificates)
    # per site: HTTP requests answered, TCP connections, TLS handshakes completed
    counts = {name: [0] * count for name in ("requests", "connections", "tls_handshakes")}

    def counted(index, handle):
        """``handle`` for site ``index``, counting its connections and (HTTPS) handshakes."""
        context = contexts[schemes[index]] if schemes[index] else None

        async def accept(reader, writer):
            counts["connections"][index] += 1
            if context is not None:
                try:
                    await writer.start_tls(context)
                except (OSError, ssl.SSLError, ConnectionError, asyncio.TimeoutError):
                    writer.transport.abort()
                    return
                counts["tls_handshakes"][index] += 1
            await handle(reader, writer)
        return accept

    async def answer_each(reader, writer, respond):
        try:
            while True:
                writer.write(respond(*await _read_request(reader)))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, ValueError,
                asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def handler_for(index, site, shop=None, api="", port_of=lambda: 0):
        requests = counts["requests"]
        if shop is None:
            async def handle(reader, writer):
                try:
                    while True:
                        request = await reader.readuntil(b"\r\n\r\n")
                        path = request.split(b" ", 2)[1].decode("latin-1")
                        requests[index] += 1
                        writer.write(_answer(site, path))
                        await writer.drain()
                except (asyncio.IncompleteReadError, ConnectionError, IndexError,
                        asyncio.LimitOverrunError):
                    pass
                finally:
                    writer.close()
            return handle

        def respond(method, target, headers, body):
            requests[index] += 1
            if target.startswith(api):
                return _wsgi_answer(shop, port_of(), method, target, headers, body)
            return _answer(site, target)
        return lambda reader, writer: answer_each(reader, writer, respond)

    def provider(method, target, headers, body):
        provider_hits[0] += 1
        script = b"/* payment provider */ window.Provider = function () {};"
        status = "200 OK" if target.startswith(PROVIDER_PATH) else "404 Not Found"
        return (f"HTTP/1.1 {status}\r\nContent-Type: text/javascript\r\n"
                f"Content-Length: {len(script)}\r\n\r\n").encode() + script

    def control(method, target, headers, body):
        document = json.dumps({"shops": _shop_summary(shops, platform_of),
                               "provider_requests": provider_hits[0],
                               "counts": counts}).encode()
        return (f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(document)}\r\n\r\n").encode() + document

    servers, ports = [], []
    for index, name in enumerate(site_folders(count)):
        kind = MIX[name]
        shop, api, port = None, "", []
        if kind.shop:
            shop, api = _fake_class(kind.shop)(), SHOP_APIS[kind.shop][1]
            shops[index], platform_of[index] = shop, kind.shop
        server = await asyncio.start_server(
            counted(index, handler_for(index, loaded[kind.folder], shop, api,
                                       lambda port=port: port[0])),
            "127.0.0.1", 0, backlog=128)
        port.append(server.sockets[0].getsockname()[1])
        if shop is not None:
            shop.url = site_url(port[0], schemes[index])
        servers.append(server)
        ports.append(port[0])
    extra = {}
    for name, respond in (("provider", provider), ("control", control)):
        server = await asyncio.start_server(
            lambda reader, writer, respond=respond: answer_each(reader, writer, respond),
            "127.0.0.1", 0, backlog=64)
        servers.append(server)
        extra[name] = server.sockets[0].getsockname()[1]
    ports_file.write_text(json.dumps({"sites": ports, **extra}))
    await asyncio.Event().wait()


# --- the exporter ----------------------------------------------------------------------------

def _site_entry(index: int, port: int, folders: list[str], provider_port: int,
                schemes: list[str | None]) -> dict:
    kind = MIX[folders[index]]
    site = {"id": f"site{index:04d}", "url": site_url(port, schemes[index]),
            "cms": kind.cms or "other"}
    if kind.shop:
        site["shop"] = kind.shop
        if has_checkout(folders, index):
            site["checkout"] = {**SHOP_APIS[kind.shop][2], "payment_provider_url":
                                f"http://127.0.0.1:{provider_port}{PROVIDER_PATH}"}
    return site


def _inventory_text(ports: list[int], folders: list[str], provider_port: int,
                    vulndb: Path) -> str:
    import yaml

    clients, schemes = [], site_schemes(len(ports))
    for number in range(0, len(ports), 10):
        index = number // 10
        clients.append({
            "id": f"client{index:03d}", "name": f"Client {index}",
            "contract": {"tier": tier_of(number), "monthly_fee": "500.00",
                         "quote": f"B-{index}", "start": dt.date(2025, 1, 1)},
            "sites": [_site_entry(n, ports[n], folders, provider_port, schemes)
                      for n in range(number, min(number + 10, len(ports)))]})
    return yaml.safe_dump({"provider": {"name": "OWL BENCH", "probes": {
        "vulnerability_db": str(vulndb)}}, "clients": clients}, sort_keys=False)


def _probe(inventory_path: Path, kinds: str, out: Path):
    """Run one cycle in this process; write its figures and what each site was found to run."""
    from exporters.app import Exporter
    from owl.inventory import load_inventory

    inventory = load_inventory(inventory_path)
    exporter = Exporter(inventory)
    if kinds == "all-unshared":
        # as before issue 14's item 4: every probe run fetches for itself (a cache of its own)
        exporter.context.fetches = None
        for kind in exporter.scheduler.kinds:
            if hasattr(kind.run, "fetches"):
                kind.run.fetches = None
    elif kinds != "all":
        wanted = kinds.split(",")
        exporter.scheduler.kinds = tuple(k for k in exporter.scheduler.kinds if k.name in wanted)
    per_kind: dict[str, int] = {}
    for target in exporter.targets():
        for kind in exporter.scheduler.kinds:
            if kind.applies_to(target):
                per_kind[kind.name] = per_kind.get(kind.name, 0) + 1
    jobs = sum(per_kind.values())
    cpu_start, wall_start = time.process_time(), time.monotonic()
    exporter.start()
    while len(exporter.cache.runs()) < jobs:
        time.sleep(0.05)
    wall = time.monotonic() - wall_start
    cpu = time.process_time() - cpu_start
    exporter.stop()
    runs = exporter.cache.runs()
    seconds: dict[str, float] = {}  # kind -> its runs' durations added up (thread seconds)
    for run in runs:
        seconds[run.probe] = seconds.get(run.probe, 0.0) + run.duration
    found = {run.target.site.url: (run.result.data.detection.cms
                                   if run.result.data.detection else None)
             for run in runs if run.probe == "cms" and run.result.success}
    shops = [run for run in runs if run.probe == "shop"]
    tls: dict[str, int] = {}  # what the tls runs found: chain errors, weak groups accepted
    for run in runs:
        if run.probe == "tls" and run.result.success:
            report = run.result.data
            found_here = [f"chain {report.chain_error or 'verified'}"] + [
                f"{group} " + {True: "accepted", False: "refused", None: "untested"}[accepted]
                for group, accepted in report.weak_ciphers.items()]
            for item in found_here:
                tls[item] = tls.get(item, 0) + 1
    out.write_text(json.dumps({
        "jobs": jobs, "per_kind": per_kind, "seconds_per_kind": seconds, "tls": tls,
        "failed": sum(not run.result.success for run in runs),
        "errors": sorted({f"{run.probe}: {run.result.error}" for run in runs
                          if not run.result.success})[:5],
        "shop_checkouts_passed": sum(run.result.data is not None
                                     and run.result.data.checkout_success for run in shops),
        "shop_carts_left": sum(run.result.data is not None
                               and run.result.data.cart_left_nonempty for run in shops),
        "shop_provider_up": sum(run.result.data is not None
                                and bool(run.result.data.payment_provider_up) for run in shops),
        "wall": wall, "cpu": cpu, "peak_rss_mb":
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "found": found}))


def _run_probe_process(workdir: Path, inventory: Path, kinds: str, cafile: str,
                       control_port: int) -> dict:
    """One cycle of ``kinds`` in an exporter process of its own, trusting the bench's CA (as a
    system trust store: ``SSL_CERT_FILE`` for the ``tls`` probe's verifying handshake,
    ``REQUESTS_CA_BUNDLE`` for the HTTP probes); with what the sites counted during it."""
    out = workdir / f"probe-{kinds}.json"
    before = _recorded(control_port)["counts"]
    subprocess.run([sys.executable, __file__, "--probe", str(inventory), "--kinds", kinds,
                    "--out", str(out)], check=True,
                   env={**os.environ, "SSL_CERT_FILE": cafile, "REQUESTS_CA_BUNDLE": cafile})
    after = _recorded(control_port)["counts"]
    result = json.loads(out.read_text())
    result["counts"] = {name: [a - b for a, b in zip(after[name], before[name])]
                        for name in after}
    return result


def _recorded(control_port: int) -> dict:
    """What the fake shops recorded so far (from the sites' process)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{control_port}/shops", timeout=30) as answer:
        return json.loads(answer.read())


def check_shops(recorded: dict, folders: list[str]) -> tuple[bool, list[str]]:
    """From the fakes' recorded calls: every shop with a checkout was probed and no other, every
    test cart is empty, no order endpoint was called and no order exists. (ok, lines to print)"""
    shops = {int(index): state for index, state in recorded["shops"].items()}
    expected = {index for index in shops if has_checkout(folders, index)}
    called = {index for index, state in shops.items() if state["calls"]}
    by_platform: dict[str, int] = {}
    for index in shops:
        platform = MIX[folders[index]].shop
        by_platform[platform] = by_platform.get(platform, 0) + 1
    probed: dict[str, int] = {}
    for index in expected:
        platform = MIX[folders[index]].shop
        probed[platform] = probed.get(platform, 0) + 1
    endpoints: dict[str, dict[str, int]] = {}  # platform -> endpoint of its fake -> calls
    for state in shops.values():
        counts = endpoints.setdefault(state["platform"], {})
        for endpoint, count in state["calls"].items():
            counts[endpoint] = counts.get(endpoint, 0) + count
    carts = sum(state["carts"] for state in shops.values())
    nonempty = sum(state["nonempty_carts"] for state in shops.values())
    order_calls = sum(state["order_calls"] for state in shops.values())
    orders = sum(state["orders"] for state in shops.values())
    unknown = sum(counts.get("(unknown)", 0) for counts in endpoints.values())
    ok = called == expected and nonempty == 0 and order_calls == 0 and orders == 0
    lines = [
        "shops: " + ", ".join(f"{platform} {n}" for platform, n in sorted(
            by_platform.items(), key=lambda item: -item[1]))
        + f"; with a checkout (tier {CHECKOUT_MIN_TIER}+): {len(expected)} ("
        + ", ".join(f"{platform} {n}" for platform, n in sorted(
            probed.items(), key=lambda item: -item[1])) + ")",
        (f"shops, recorded by the fakes: {len(called & expected)}/{len(expected)} with a "
         f"checkout called, {len(called - expected)} without one called; payment provider "
         f"{recorded['provider_requests']} requests"),
        *(f"  {platform} calls: " + ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))
          for platform, counts in sorted(endpoints.items()) if counts),
        (f"shops, after the cycle: {carts} test carts, {nonempty} left with items; "
         f"{order_calls} calls to an order endpoint, {orders} orders; "
         f"{unknown} calls to unknown endpoints: {'OK' if ok else 'FAILED'}"),
    ]
    missed = sorted(expected - called)[:5]
    if missed:
        lines.append(f"  never called: {', '.join(f'site{i:04d}' for i in missed)}")
    return ok, lines


# --- whatweb ---------------------------------------------------------------------------------

def _whatweb(urls: list[str], workdir: Path,
             cafile: str) -> tuple[dict[str, str | None], float]:
    log = workdir / "whatweb.json"
    log.unlink(missing_ok=True)  # whatweb appends to an existing log
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["whatweb", "--color=never", "--no-errors", "--quiet", "--aggression", "1",
                    f"--log-json={log}", *urls], check=True, timeout=600,
                   env={**os.environ, "SSL_CERT_FILE": cafile})
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
    certificates = make_certificates(workdir / "tls")
    server = subprocess.Popen([sys.executable, __file__, "--serve", str(ports_file),
                               "--sites", str(args.sites), "--tls", json.dumps(certificates)])
    try:
        deadline = time.monotonic() + 60
        while not ports_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        served = json.loads(ports_file.read_text())
        ports = served["sites"]
        folders = site_folders(args.sites)
        inventory = workdir / "inventory.yml"
        inventory.write_text(_inventory_text(ports, folders, served["provider"],
                                             _vulndb(workdir)))
        run = lambda kinds: _run_probe_process(workdir, inventory, kinds,  # noqa: E731
                                               certificates["ca"], served["control"])
        cycle = run("all")
        recorded = _recorded(served["control"])
        (workdir / "shops.json").write_text(json.dumps(recorded))
        unshared = run("all-unshared") if args.unshared else None
        detection = run("cms")
        alone = {kind: run(kind) for kind in args.per_kind.split(",")} if args.per_kind else {}
        sample = sorted(random.Random(args.seed).sample(range(args.sites),
                                                        min(args.whatweb_sample, args.sites)))
        schemes = site_schemes(args.sites)
        urls = [site_url(ports[i], schemes[i]) for i in sample]
        whatweb = None
        if shutil.which("whatweb"):
            _, startup = _whatweb(urls[:1], workdir, certificates["ca"])  # Ruby, plugins
            found, cpu = _whatweb(urls, workdir, certificates["ca"])
            whatweb = (found, cpu, startup)
    finally:
        server.terminate()
        server.wait(timeout=10)
    if args.json:
        Path(args.json).write_text(json.dumps({"cycle": cycle, "unshared": unshared,
                                               "detection": detection, "alone": alone}))
    return report(args, cycle, unshared, detection, alone, whatweb, folders, ports, sample,
                  urls, recorded)


def _per_site(counts: list[int], sites: list[int]) -> float:
    return sum(counts[i] for i in sites) / max(1, len(sites))


def report(args, cycle, unshared, detection, alone, whatweb, folders, ports, sample, urls,
           recorded) -> int:
    sites = args.sites
    mix = ", ".join(f"{cms or 'none'} {n}" for cms, n in _counts(folders))
    schemes = site_schemes(sites)
    https = [i for i in range(sites) if schemes[i]]
    print(f"sites: {sites} ({mix}); HTTPS {len(https)} (legacy TLS setup "
          f"{sum(s == 'legacy' for s in schemes)}), HTTP {sites - len(https)}")
    runs = [("full cycle (" + " + ".join(cycle["per_kind"]) + ")", cycle)]
    if unshared is not None:
        runs.append(("full cycle, each probe fetching for itself (before item 4)", unshared))
    runs.append(("detection only (cms kind)", detection))
    runs += [(f"{kind} kind alone", run) for kind, run in alone.items()]
    everyone = list(range(sites))
    for name, run in runs:
        kinds = ", ".join(f"{kind} {n}" for kind, n in run["per_kind"].items())
        print(f"{name}: {run['jobs']} jobs ({kinds}), {run['failed']} failed, "
              f"wall {run['wall']:.1f} s, CPU {run['cpu']:.1f} s = "
              f"{1000 * run['cpu'] / sites:.1f} ms/site, peak RSS {run['peak_rss_mb']:.0f} MB")
        counts = run["counts"]
        print(f"  per site: {_per_site(counts['requests'], everyone):.2f} HTTP requests, "
              f"{_per_site(counts['connections'], everyone):.2f} connections; per HTTPS site "
              f"{_per_site(counts['tls_handshakes'], https):.2f} TLS handshakes completed; "
              f"run time per kind (thread s): " + ", ".join(
                  f"{kind} {seconds:.1f}" for kind, seconds in run["seconds_per_kind"].items()))
        if run["tls"]:
            print("  tls runs: " + ", ".join(f"{item} {n}" for item, n in sorted(
                run["tls"].items())))
        for error in run["errors"]:
            print(f"  e.g. {error}")
    if unshared is not None:
        before = _per_site(unshared["counts"]["requests"], everyone)
        after = _per_site(cycle["counts"]["requests"], everyone)
        print(f"HTTP requests per site per cycle: {before:.2f} each probe for itself -> "
              f"{after:.2f} shared ({after / before:.2f})")
    shops_ok, lines = check_shops(recorded, folders)
    print(f"shop probe: {cycle['shop_checkouts_passed']}/{cycle['per_kind'].get('shop', 0)} "
          f"checkouts passed every step, {cycle['shop_provider_up']} payment providers up, "
          f"{cycle['shop_carts_left']} reported a cart left with items")
    for line in lines:
        print(line)
    truth = {site_url(ports[i], schemes[i]): MIX[folders[i]].cms for i in range(sites)}
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
          f"{'all met' if passed else 'NOT MET'}; shops: no order, every cart empty: "
          f"{'OK' if shops_ok else 'FAILED'}")
    return 0 if passed and shops_ok else 1


def _counts(folders):
    counts = {}
    for folder in folders:
        cms = MIX[folder].cms
        counts[cms] = counts.get(cms, 0) + 1
    return sorted(counts.items(), key=lambda item: -item[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sites", type=int, default=1000)
    parser.add_argument("--whatweb-sample", type=int, default=50)
    parser.add_argument("--seed", type=int, default=1, help="of the whatweb sample")
    parser.add_argument("--workdir", help="keep the inventory, database and logs there")
    parser.add_argument("--unshared", action=argparse.BooleanOptionalAction, default=True,
                        help="also run the cycle with every probe fetching for itself (as before "
                             "issue 14's item 4), for the requests per site")
    parser.add_argument("--per-kind", default="", metavar="KIND,...",
                        help="also run a cycle of each of these kinds alone (its own cost)")
    parser.add_argument("--json", metavar="FILE", help="write every run's figures there")
    parser.add_argument("--tls", help=argparse.SUPPRESS)
    parser.add_argument("--serve", metavar="PORTS_FILE", help=argparse.SUPPRESS)
    parser.add_argument("--probe", metavar="INVENTORY", help=argparse.SUPPRESS)
    parser.add_argument("--kinds", default="all", help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.sites, Path(args.serve), json.loads(args.tls)))
        return 0
    if args.probe:
        import logging
        logging.basicConfig(level=logging.WARNING)
        _probe(Path(args.probe), args.kinds, Path(args.out))
        return 0
    return bench(args)


if __name__ == "__main__":
    sys.exit(main())
