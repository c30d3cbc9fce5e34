"""``owl up``: render the configuration and run the whole stack on 127.0.0.1 until stopped.

Prometheus, Alertmanager, blackbox_exporter and node_exporter are the real Debian binaries; the
owl exporter, the SLA bridge and the demo site are this package's own commands. Everything the
stack writes (configuration, data, logs, tokens) lives under one state folder.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

import requests

from owl import ports
from owl.clock import utc_now
from owl.inventory import Inventory, Smtp
from owl.render.profile import host_port
from owl.render.prometheus import prometheus_flags
from owl.state import StatePaths, add_state_option
from owl_commands import mailcatcher
from owl_commands.bridge import create_token
from owl_commands.common import inventory_or_exit

DEMO_SITE_ADDRESS = "127.0.0.1:9182"
NODE_EXPORTER_ADDRESS = "127.0.0.1:9100"
READY_TIMEOUT_SECONDS = 60
LOG_TAIL_LINES = 20

# binary -> Debian package providing it
DEBIAN_PACKAGES = {
    "prometheus": "prometheus",
    "prometheus-alertmanager": "prometheus-alertmanager",
    "prometheus-blackbox-exporter": "prometheus-blackbox-exporter",
    "prometheus-node-exporter": "prometheus-node-exporter",
}


@dataclasses.dataclass(frozen=True)
class Service:
    """One process of the stack and the URL that says it is ready."""

    name: str
    args: list[str]
    ready_url: str
    url: str

    @property
    def listen_address(self) -> str:
        return urllib.parse.urlsplit(self.ready_url).netloc


def missing_binaries(names) -> list[str]:
    return [name for name in names if shutil.which(name) is None]


def _owl(*args: str) -> list[str]:
    # -P: the working directory stays off sys.path, so a checkout never shadows the installed owl
    return [sys.executable, "-P", "-m", "owl_commands.cli", *args]


def services(inventory: Inventory, paths: StatePaths, inventory_path: Path, demo_site: str,
             node_exporter: str | None) -> list[Service]:
    stack = inventory.provider.stack
    config = paths.config
    listed = [
        Service("prometheus", [
            "prometheus", f"--config.file={config / 'prometheus' / 'prometheus.yml'}",
            f"--storage.tsdb.path={paths.root / 'prometheus-data'}",
            f"--web.listen-address={stack.prometheus}", "--web.enable-lifecycle",
            f"--web.external-url=http://{stack.prometheus}/", *prometheus_flags(stack)],
            f"http://{stack.prometheus}/-/ready", f"http://{stack.prometheus}/"),
        Service("alertmanager", [
            "prometheus-alertmanager",
            f"--config.file={config / 'alertmanager' / 'alertmanager.yml'}",
            f"--storage.path={paths.root / 'alertmanager-data'}",
            f"--web.listen-address={stack.alertmanager}", "--cluster.listen-address=",
            f"--web.external-url=http://{stack.alertmanager}/"],
            f"http://{stack.alertmanager}/-/ready", f"http://{stack.alertmanager}/"),
        Service("blackbox_exporter", [
            "prometheus-blackbox-exporter",
            f"--config.file={config / 'blackbox' / 'blackbox.yml'}",
            f"--web.listen-address={stack.blackbox_exporter}"],
            f"http://{stack.blackbox_exporter}/-/healthy", f"http://{stack.blackbox_exporter}/"),
        Service("owl-bridge", _owl(
            "bridge", "--inventory", str(inventory_path), "--database", paths.database_url,
            "--web.listen-address", stack.bridge,
            "--webhook.token-file", str(paths.webhook_token_file),
            "--scrape.token-file", str(paths.scrape_token_file),
            "--web.secret-file", str(paths.web_secret_file)),
            f"http://{stack.bridge}/readyz", f"http://{stack.bridge}/"),
        Service("demo-site", _owl(
            "demo", "site", "--web.listen-address", demo_site, "--state", str(paths.root)),
            f"http://{demo_site}/", f"http://{demo_site}/"),
        Service("owl-exporter", _owl(
            "exporter", "--inventory", str(inventory_path), "--web.listen-address",
            stack.exporter, "--storage.path", str(paths.root / "exporter-data")),
            f"http://{stack.exporter}/healthz", f"http://{stack.exporter}/metrics"),
    ]
    if node_exporter:
        listed.append(Service("node_exporter", [
            "prometheus-node-exporter", f"--web.listen-address={node_exporter}"],
            f"http://{node_exporter}/metrics", f"http://{node_exporter}/metrics"))
    catcher = mail_catcher(inventory.provider.smtp, paths)
    if catcher:
        listed.insert(0, catcher)  # first: the others may send mail as soon as they are up
    return listed


def mail_catcher(smtp: Smtp, paths: StatePaths) -> Service | None:
    """The demo's mail catcher at the inventory's SMTP address, if ``owl up`` can serve it."""
    address = host_port(smtp.host, smtp.port)
    refused = mailcatcher.refusal(smtp)
    if refused:
        print(f"no mail catcher: {refused}; mail goes to {address}, as the inventory says",
              flush=True)
        return None
    health = f"127.0.0.1:{mailcatcher.free_local_port()}"
    return Service("mail", _owl(
        "demo", "mail", "--smtp.listen-address", address, "--web.listen-address", health,
        "--state", str(paths.root)),
        f"http://{health}/healthz", f"{mailcatcher.mail_folder(paths.root)}/ (SMTP {address})")


def render_config(inventory: Inventory, paths: StatePaths) -> None:
    from owl.render import RenderOptions, render, write_rendered
    from owl.render.webhook_token import ensure_token_file

    today = inventory.today(utc_now())
    options = RenderOptions(paths.config, today, webhook_token_file=paths.webhook_token_file,
                            scrape_token_file=paths.scrape_token_file)
    ensure_token_file(paths.webhook_token_file)
    ensure_token_file(paths.scrape_token_file, what="scrape")
    ensure_token_file(paths.web_secret_file, what="web")
    write_rendered(render(inventory, options), paths.config)


def operator_token(paths: StatePaths) -> str:
    """The demo operator's token: created once, kept in the state folder so it can be shown."""
    if paths.operator_token_file.exists():
        return paths.operator_token_file.read_text().strip()
    from sla_bridge.storage.database import Database

    db = Database(paths.database_url)
    db.upgrade()
    token = create_token(db, "operator", "demo")
    db.dispose()
    _write_secret(paths.operator_token_file, token)
    return token


def _write_secret(path: Path, value: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(value + "\n")


class Supervisor:
    """Starts the services in order, waits for each, and stops them all in reverse order."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.running: list[tuple[Service, subprocess.Popen]] = []
        self.stopping = False

    def start(self, service: Service) -> None:
        self.logs.mkdir(parents=True, exist_ok=True)
        log = open(self.logs / f"{service.name}.log", "ab")
        process = subprocess.Popen(service.args, stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.running.append((service, process))
        self._wait_ready(service, process)

    def _wait_ready(self, service: Service, process: subprocess.Popen) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while time.monotonic() < deadline and not self.stopping:
            if process.poll() is not None:
                raise RuntimeError(f"{service.name} exited with code {process.returncode}; "
                                   f"see {self.logs / (service.name + '.log')}")
            try:
                if requests.get(service.ready_url, timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.3)
        if not self.stopping:
            raise RuntimeError(f"{service.name} did not answer on {service.ready_url} within "
                               f"{READY_TIMEOUT_SECONDS}s; see {self.logs}")

    def first_exited(self) -> tuple[Service, int] | None:
        for service, process in self.running:
            if process.poll() is not None:
                return service, process.returncode
        return None

    def exit_report(self, service: Service, code: int) -> str:
        """Which component exited, with the end of its log."""
        log = self.logs / f"{service.name}.log"
        tail = _last_lines(log, LOG_TAIL_LINES)
        return (f"{service.name} exited with code {code}; stopping the stack\n"
                f"--- last lines of {log} ---\n{tail}")

    def stop_all(self) -> None:
        self.stopping = True
        for _service, process in reversed(self.running):
            if process.poll() is None:
                process.terminate()
        for _service, process in reversed(self.running):
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _last_lines(path: Path, count: int) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(lines[-count:]) or "(empty log)"


def taken_addresses(listed: list[Service]) -> list[str]:
    """One line per service whose listen address is already in use, naming what holds it."""
    problems = []
    for service in listed:
        address = service.listen_address
        if not ports.is_free(address):
            _host, port = ports.split_address(address)
            problems.append(f"{service.name}: {address} is already in use by "
                            f"{ports.holder(port)}")
    return problems


def _stop_on_signals(supervisor: Supervisor) -> None:
    def _handler(signum, _frame):
        supervisor.stopping = True

    signal.signal(signal.SIGINT, _handler)
    signal.signal(signal.SIGTERM, _handler)


def _print_ready(listed: list[Service], token: str, paths: StatePaths, console_url: str) -> None:
    print("owl-monitoring is up:")
    for service in listed:
        print(f"  {service.name:<18} {service.url}")
    print(f"  {'state folder':<18} {paths.root}")
    print(f"demo operator token: {token}")
    print(f"  sign in to the console at {console_url}/ with it")
    print("try: owl demo break   (the demo shop goes down; an incident opens within 2 minutes,")
    print("                       and its page mails a link that opens it in the console)")
    print("     owl demo repair  (it comes back; the incident resolves)")
    print("stop with Ctrl-C", flush=True)


def run(args) -> int:
    inventory = inventory_or_exit(args.inventory)
    node_exporter = None if args.node_exporter == "none" else args.node_exporter
    needed = [name for name in DEBIAN_PACKAGES if node_exporter or "node" not in name]
    missing = missing_binaries(needed)
    if missing:
        for name in missing:
            print(f"{name} is not installed: apt-get install {DEBIAN_PACKAGES[name]}",
                  file=sys.stderr)
        return 1
    paths = StatePaths(Path(args.state).resolve())
    listed = services(inventory, paths, Path(args.inventory).resolve(), args.demo_site,
                      node_exporter)
    taken = taken_addresses(listed)
    if taken:
        print("owl up cannot start: addresses it needs are taken", file=sys.stderr)
        for problem in taken:
            print(f"  {problem}", file=sys.stderr)
        print("stop what holds them (another `owl up`?), or move the stack's addresses in the "
              "inventory (provider.stack) or with the --*.listen-address options",
              file=sys.stderr)
        return 1
    paths.root.mkdir(parents=True, exist_ok=True)
    render_config(inventory, paths)
    token = operator_token(paths)
    supervisor = Supervisor(paths.logs)
    _stop_on_signals(supervisor)
    try:
        for service in listed:
            if supervisor.stopping:
                break
            supervisor.start(service)
        if not supervisor.stopping and not supervisor.first_exited():
            _print_ready(listed, token, paths, inventory.provider.stack.console_url)
        while not supervisor.stopping:
            exited = supervisor.first_exited()
            if exited:
                print(supervisor.exit_report(*exited), file=sys.stderr)
                return 1
            time.sleep(0.5)
        print("stopping", flush=True)
        return 0
    except RuntimeError as exc:
        print(exc, file=sys.stderr)
        return 1
    finally:
        supervisor.stop_all()


def register(subparsers) -> None:
    up = subparsers.add_parser("up", help="run the whole stack on 127.0.0.1 until Ctrl-C")
    up.add_argument("--inventory", required=True, metavar="FILE", help="the inventory file")
    add_state_option(up, "folder for configuration, data, logs and tokens")
    up.add_argument("--demo-site.listen-address", dest="demo_site", default=DEMO_SITE_ADDRESS,
                    metavar="HOST:PORT", help="where to run the demo sites (default %(default)s)")
    up.add_argument("--node-exporter.listen-address", dest="node_exporter",
                    default=NODE_EXPORTER_ADDRESS,
                    help="where to run node_exporter, or 'none' (default %(default)s)")
    up.set_defaults(handler=run)

