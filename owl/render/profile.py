"""Where the parts of the stack are, as the rendered files must name them.

One code path serves two profiles; only this small :class:`Profile` differs:

- ``local``: the parts run as processes on one host. Addresses come from the inventory's
  ``provider.stack``; file paths are relative to the rendered file that names them (Prometheus and
  Alertmanager resolve relative paths against their configuration file's directory), so the
  rendered directory can be moved as a whole.
- ``compose``: the parts run as docker-compose services. Addresses are service names and file paths
  are where docker-compose mounts the rendered directories inside the containers
  (:data:`COMPOSE_MOUNTS`).
"""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass
from pathlib import Path

from owl.inventory import Stack

PROFILES = ("local", "compose", "ha", "external")  # ha: local, with replicas (owl.render.ha);
# external: the parts a provider's own Prometheus and Alertmanager merge (owl.render.external)

# The webhook token file, relative to the output directory, unless --webhook.token-file says else.
DEFAULT_TOKEN_FILE = "secrets/bridge-webhook-token"
# The token Prometheus scrapes the bridge's /metrics with, unless --scrape.token-file says else.
DEFAULT_SCRAPE_TOKEN_FILE = "secrets/bridge-scrape-token"
# The key the bridge signs its pages' CSRF cookie with, so forms survive restarts and replicas.
DEFAULT_WEB_SECRET_FILE = "secrets/bridge-web-secret"
# Where Grafana reads provisioned dashboards, in both profiles.
GRAFANA_DASHBOARDS_DIR = "/var/lib/grafana/dashboards"

# docker-compose service name and port of each part of the stack (keys as in provider.stack).
COMPOSE_SERVICES = {
    "prometheus": "prometheus:9090",
    "alertmanager": "alertmanager:9093",
    "blackbox_exporter": "blackbox_exporter:9115",
    "exporter": "owl-exporter:9181",
    "bridge": "owl-bridge:9180",
}
# What docker-compose mounts where: rendered path (relative to the output directory) -> path in
# the containers. The tokens are mounted as compose secrets; with --webhook.token-file or
# --scrape.token-file, the secret's source is that file instead.
COMPOSE_MOUNTS = {
    "prometheus": "/etc/prometheus",
    "alertmanager": "/etc/alertmanager",
    "blackbox": "/etc/blackbox_exporter",
    "grafana/provisioning": "/etc/grafana/provisioning",
    "grafana/dashboards": GRAFANA_DASHBOARDS_DIR,
    DEFAULT_TOKEN_FILE: "/run/secrets/bridge-webhook-token",
    DEFAULT_SCRAPE_TOKEN_FILE: "/run/secrets/bridge-scrape-token",
    DEFAULT_WEB_SECRET_FILE: "/run/secrets/bridge-web-secret",
}


@dataclass(frozen=True)
class Profile:
    """Addresses of the stack's parts and paths of rendered files, as the parts see them."""

    prometheus: str
    alertmanager: str
    blackbox_exporter: str
    exporter: str
    bridge: str
    prometheus_dir: str  # directory of prometheus.yml as Prometheus sees it; "" means relative
    bridge_token_file: str  # the webhook token file as Alertmanager sees it
    scrape_token_file: str  # the bridge's scrape token file as Prometheus sees it

    def in_prometheus_dir(self, relative: str) -> str:
        """A path under ``DIR/prometheus/`` as written in prometheus.yml."""
        return posixpath.join(self.prometheus_dir, relative)


def build_profile(name: str, stack: Stack, out_dir: Path, token_file: Path,
                  scrape_token_file: Path | None = None) -> Profile:
    """The profile ``name`` for a render into ``out_dir`` with the webhook token in
    ``token_file`` and the scrape token in ``scrape_token_file`` (default: under ``out_dir``)."""
    if name == "compose":
        return Profile(**COMPOSE_SERVICES, prometheus_dir=COMPOSE_MOUNTS["prometheus"],
                       bridge_token_file=COMPOSE_MOUNTS[DEFAULT_TOKEN_FILE],
                       scrape_token_file=COMPOSE_MOUNTS[DEFAULT_SCRAPE_TOKEN_FILE])
    if name in ("local", "ha"):
        scrape_token_file = scrape_token_file or Path(out_dir) / DEFAULT_SCRAPE_TOKEN_FILE
        return Profile(prometheus=stack.prometheus, alertmanager=stack.alertmanager,
                       blackbox_exporter=stack.blackbox_exporter, exporter=stack.exporter,
                       bridge=stack.bridge, prometheus_dir="",
                       bridge_token_file=_as_seen_from(token_file, out_dir, "alertmanager"),
                       scrape_token_file=_as_seen_from(scrape_token_file, out_dir, "prometheus"))
    if name == "external":  # their Prometheus and Alertmanager read our files where they lie
        scrape_token_file = scrape_token_file or Path(out_dir) / DEFAULT_SCRAPE_TOKEN_FILE
        return Profile(prometheus=stack.prometheus, alertmanager=stack.alertmanager,
                       blackbox_exporter=stack.blackbox_exporter, exporter=stack.exporter,
                       bridge=stack.bridge,
                       prometheus_dir=Path(os.path.abspath(out_dir), "prometheus").as_posix(),
                       bridge_token_file=Path(os.path.abspath(token_file)).as_posix(),
                       scrape_token_file=Path(os.path.abspath(scrape_token_file)).as_posix())
    raise ValueError(f"unknown profile {name!r} (expected one of: {', '.join(PROFILES)})")


def _as_seen_from(path: Path, out_dir: Path, subdir: str) -> str:
    """``path`` relative to ``out_dir/subdir`` when it lies inside ``out_dir``, else absolute."""
    path, out_dir = Path(os.path.abspath(path)), Path(os.path.abspath(out_dir))
    if path.is_relative_to(out_dir):
        return Path(os.path.relpath(path, out_dir / subdir)).as_posix()
    return path.as_posix()


def host_port(address: str, port: int) -> str:
    """``host:port``, with an IPv6 address in brackets."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"
