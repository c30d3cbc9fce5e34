"""``provider.stack.ha``: where the replicas of a highly available stack listen.

Read by ``owl config render --profile ha`` (owl.render.ha, docs/ha.md)::

    stack:
      bridge: 10.0.0.5:9180          # the balancer (HAProxy) in front of the bridge replicas
      prometheus: 10.0.0.5:9090      # ... of the Prometheus replicas (Grafana, reports)
      alertmanager: 10.0.0.5:9093    # ... of the Alertmanagers (the bridge's silences)
      ha:
        prometheus: [10.0.0.1:9090, 10.0.0.2:9090]
        alertmanager:
          - {address: 10.0.0.1:9093, cluster: 10.0.0.1:9094}
          - {address: 10.0.0.2:9093, cluster: 10.0.0.2:9094}
          - {address: 10.0.0.3:9093, cluster: 10.0.0.3:9094}
        bridges: [10.0.0.1:9180, 10.0.0.2:9180]

``stack.bridge``, ``stack.prometheus`` and ``stack.alertmanager`` are the balancer's (HAProxy)
addresses in front of the replicas: Alertmanager delivers to the bridges and Prometheus scrapes
them at ``bridge``; Grafana, the reports and the bridge query Prometheus at ``prometheus`` and
make silences at ``alertmanager``. Every address is ``host:port`` and appears once.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from typing import Annotated

from pydantic import AfterValidator, Field, model_validator

from owl.inventory.fields import Duration, StrictModel

# host (a name, an IPv4 address or an IPv6 one in brackets), a colon, a port
_HOST_PORT = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]):"
                        r"(\d{1,5})$")
MIN_PROMETHEUS, MIN_ALERTMANAGERS, MIN_BRIDGES = 2, 3, 2


def _host_port(value: str) -> str:
    match = _HOST_PORT.match(value)
    if not match or not 1 <= int(match.group(1)) <= 65535:
        raise ValueError(f"{value!r} is not an address such as \"10.0.0.1:9090\" "
                         "(host:port, an IPv6 host in brackets)")
    return value


HostPort = Annotated[str, AfterValidator(_host_port)]


def _ip_port(value: str) -> str:
    host = value.rpartition(":")[0].strip("[]")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        raise ValueError(f"{value!r}: the gossip address needs an IP address, not a host name "
                         "(Alertmanager's --cluster.listen-address and "
                         "--cluster.advertise-address take no name)") from None
    return value


class ClusteredAlertmanager(StrictModel):
    """One member of the Alertmanager cluster: its API (``address``, where Prometheus sends
    alerts) and its gossip address (``cluster``, where the other members reach it; an IP)."""

    address: HostPort
    cluster: Annotated[HostPort, AfterValidator(_ip_port)]


class HighAvailability(StrictModel):
    """Two (or more) Prometheus replicas scraping the same targets, an Alertmanager gossip
    cluster of three (or more), bridge replicas behind the balancer at ``stack.bridge``.

    ``peer_timeout``: how long each Alertmanager waits, per position in the cluster, for the
    one before it to notify before notifying itself (Alertmanager's ``--cluster.peer-timeout``).
    """

    prometheus: list[HostPort] = Field(min_length=MIN_PROMETHEUS)
    alertmanager: list[ClusteredAlertmanager] = Field(min_length=MIN_ALERTMANAGERS)
    bridges: list[HostPort] = Field(min_length=MIN_BRIDGES)
    peer_timeout: Duration = dt.timedelta(seconds=15)

    @model_validator(mode="after")
    def _each_address_once(self):
        seen: dict[str, str] = {}
        for field, address in self._addresses():
            if address in seen:
                raise ValueError(f"{field}: {address} is also {seen[address]}; every replica "
                                 "needs an address of its own")
            seen[address] = field
        if self.peer_timeout <= dt.timedelta(0):
            raise ValueError("peer_timeout must be more than 0s")
        return self

    def _addresses(self):
        yield from ((f"prometheus[{i}]", a) for i, a in enumerate(self.prometheus))
        for i, member in enumerate(self.alertmanager):
            yield f"alertmanager[{i}].address", member.address
            yield f"alertmanager[{i}].cluster", member.cluster
        yield from ((f"bridges[{i}]", a) for i, a in enumerate(self.bridges))


def balancer_apart(bridge: str, prometheus: str, alertmanager: str,
                   ha: HighAvailability | None) -> None:
    """With ``ha``, ``stack.bridge``, ``stack.prometheus`` and ``stack.alertmanager`` are the
    balancer's addresses in front of the replicas: never one of the replicas'."""
    if ha is None:
        return
    replicas = {address for _, address in ha._addresses()}
    for field, address in (("bridge", bridge), ("prometheus", prometheus),
                           ("alertmanager", alertmanager)):
        if address in replicas:
            raise ValueError(f"{field}: {address} is also a replica's address in ha; with ha, "
                             f"{field} is the balancer's address, in front of the replicas")
