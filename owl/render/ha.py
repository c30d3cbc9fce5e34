"""``owl config render --profile ha``: the stack's replicas, from ``provider.stack.ha``.

The ``ha`` profile renders what ``local`` does (same targets, rules, alertmanager.yml, blackbox,
Grafana), with the single ``prometheus/prometheus.yml`` and ``prometheus/flags`` replaced by
one configuration and one flags file per Prometheus replica, plus the Alertmanager cluster's
flags and the balancer in front of the bridges (docs/ha.md)::

    prometheus/prometheus-<r>.yml   replica r (a, b, ...): external label replica="<r>", which
                                    alert_relabel_configs drops again, so that both replicas'
                                    alerts are identical and Alertmanager keeps one; alerts to
                                    every Alertmanager; the stack jobs scrape every replica and
                                    every cluster member; the bridge through the balancer
    prometheus/flags-<r>            its flags: listen address, external URL, retention
    alertmanager/flags-<m>          member m (a, b, c, ...): listen and gossip addresses, the
                                    other members as --cluster.peer, --cluster.peer-timeout
    haproxy/haproxy.cfg             the balancer: provider.stack.bridge in front of ha.bridges
                                    (round robin, each checked on GET /healthz), stack.prometheus
                                    and stack.alertmanager in front of the replicas and members
                                    (the first ready one), for Grafana, reports and silences

Each part reads its flags with ``@FILE`` (``prometheus @prometheus/flags-a
--config.file=prometheus/prometheus-a.yml``), as docker-compose reads ``prometheus/flags``.
Every member of the cluster reads the same ``alertmanager/alertmanager.yml``.
"""

from __future__ import annotations

import copy
import datetime as dt
import string

from owl.inventory import Inventory, Stack, format_duration
from owl.inventory.high_availability import ClusteredAlertmanager, HighAvailability
from owl.render.profile import Profile
from owl.render.prometheus import CONFIG_PATH, FLAGS_PATH, prometheus_config, prometheus_flags
from owl.render.serialize import GENERATED_HEADER, to_yaml

PROFILE = "ha"
REPLICA_LABEL = "replica"
HAPROXY_PATH = "haproxy/haproxy.cfg"
BRIDGE_HEALTH_PATH = "/healthz"
# how often HAProxy checks each server, and after how many failed (passed) checks it takes it
# out of (back into) the rotation: a killed replica is out within 2 s
CHECK_INTERVAL, CHECK_FALL, CHECK_RISE = "1s", 2, 2
# the bridge's /metrics grows with the clients (16 s at 50,000): the balancer waits for it
SERVER_TIMEOUT = "60s"


class HaRenderError(ValueError):
    """The inventory cannot be rendered with the ha profile; the message names the field."""


def replica_names(count: int) -> list[str]:
    """``a``, ``b``, ... ``z``, then ``r27``, ``r28``...: short, and valid as label values."""
    return [string.ascii_lowercase[i] if i < 26 else f"r{i + 1}" for i in range(count)]


def high_availability(stack: Stack) -> HighAvailability:
    """``provider.stack.ha``, which the profile needs."""
    if stack.ha is None:
        raise HaRenderError("--profile ha needs provider.stack.ha in the inventory: the "
                            "addresses of the Prometheus replicas, of the Alertmanager cluster "
                            "and of the bridge replicas (see docs/ha.md)")
    return stack.ha


def render_ha(files: dict[str, str], inventory: Inventory, profile: Profile,
              today: dt.date) -> dict[str, str]:
    """``files`` (the render of the profile) with the single Prometheus' configuration and
    flags replaced by the replicas', and the cluster's flags and the balancer added."""
    stack = inventory.provider.stack
    ha = high_availability(stack)
    base = prometheus_config(inventory, profile, inventory.monitored_clients(today))
    rendered = {path: text for path, text in files.items() if path not in (CONFIG_PATH,
                                                                            FLAGS_PATH)}
    for name, address in zip(replica_names(len(ha.prometheus)), ha.prometheus):
        rendered[replica_config_path(name)] = to_yaml(replica_config(base, name, ha))
        rendered[f"prometheus/flags-{name}"] = flags_text(
            "Prometheus replica", name, replica_flags(stack, address))
    for name, member in zip(replica_names(len(ha.alertmanager)), ha.alertmanager):
        rendered[f"alertmanager/flags-{name}"] = flags_text(
            "Alertmanager cluster member", name, alertmanager_flags(ha, member))
    rendered[HAPROXY_PATH] = haproxy_config(stack, ha)
    return rendered


def replica_config_path(name: str) -> str:
    return f"prometheus/prometheus-{name}.yml"


def replica_config(base: dict, name: str, ha: HighAvailability) -> dict:
    """The single Prometheus' configuration as replica ``name`` runs it."""
    config = copy.deepcopy(base)
    config["global"]["external_labels"] = {REPLICA_LABEL: name}
    config["alerting"] = {
        # external labels are added to alerts: without this, each replica's alert would be a
        # different alert to Alertmanager, notified twice
        "alert_relabel_configs": [{"action": "labeldrop", "regex": REPLICA_LABEL}],
        "alertmanagers": [{"static_configs": [{"targets": [m.address for m in ha.alertmanager]}]}],
    }
    targets = {"prometheus": ha.prometheus, "alertmanager": [m.address for m in ha.alertmanager]}
    for job in config["scrape_configs"]:
        if job["job_name"] in targets:
            job["static_configs"] = [{"targets": list(targets[job["job_name"]])}]
    return config


def replica_flags(stack: Stack, address: str) -> list[str]:
    return [f"--web.listen-address={address}", f"--web.external-url=http://{address}/",
            *prometheus_flags(stack)]


def alertmanager_flags(ha: HighAvailability, member: ClusteredAlertmanager) -> list[str]:
    """A member's flags: where it listens and gossips, and every other member as a peer."""
    return [f"--web.listen-address={member.address}",
            f"--web.external-url=http://{member.address}/",
            f"--cluster.listen-address={member.cluster}",
            f"--cluster.advertise-address={member.cluster}",
            *(f"--cluster.peer={other.cluster}" for other in ha.alertmanager if other != member),
            f"--cluster.peer-timeout={format_duration(ha.peer_timeout)}"]


def flags_text(what: str, name: str, flags: list[str]) -> str:
    lines = [f"# {what} {name}'s flags from the inventory's provider.stack.ha: @FILE", *flags]
    return "\n".join(lines) + "\n"


def haproxy_config(stack: Stack, ha: HighAvailability) -> str:
    """HAProxy in front of the replicas, HTTP, each server checked every second (out after 2
    failures, back after 2 passes); a request whose server refuses the connection is sent to
    another one.

    - ``stack.bridge``: round robin over the bridges, checked on /healthz (which fails when the
      bridge cannot write to its database);
    - ``stack.prometheus``: the first Prometheus replica that is ready, the next when it is not
      (both hold the same series but for the gaps of their own restarts: queries keep to one);
    - ``stack.alertmanager``: the first ready member (silences made on one are gossiped to all).
    """
    names = replica_names
    sections = [
        _proxied("owl-bridge", stack.bridge, "roundrobin", BRIDGE_HEALTH_PATH,
                 zip(names(len(ha.bridges)), ha.bridges)),
        _proxied("prometheus", stack.prometheus, "first", "/-/ready",
                 zip(names(len(ha.prometheus)), ha.prometheus)),
        _proxied("alertmanager", stack.alertmanager, "first", "/-/ready",
                 ((n, m.address) for n, m in zip(names(len(ha.alertmanager)), ha.alertmanager))),
    ]
    return GENERATED_HEADER + "\n".join([
        "global",
        "    log stdout format raw local0 info",
        "",
        "defaults",
        "    mode http",
        "    log global",
        "    option httplog",
        "    timeout connect 2s",
        "    timeout client 60s",
        f"    timeout server {SERVER_TIMEOUT}",
        "    retries 3",
        "    option redispatch",
        f"    default-server inter {CHECK_INTERVAL} fall {CHECK_FALL} rise {CHECK_RISE}",
        *(line for section in sections for line in section),
    ]) + "\n"


def _proxied(name: str, listen: str, balance: str, health: str, servers) -> list[str]:
    """A frontend on ``listen`` and its backend of ``servers`` (replica name, address)."""
    return ["",
            f"frontend {name}",
            f"    bind {listen}",
            f"    default_backend {name}-replicas",
            "",
            f"backend {name}-replicas",
            f"    balance {balance}",
            f"    option httpchk GET {health}",
            "    http-check expect status 200",
            *(f"    server {name}-{replica} {address} check" for replica, address in servers)]
