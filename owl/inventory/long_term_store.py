"""``provider.stack.long_term_store`` and ``provider.stack.shards``: the global query view and
the Prometheus shards that write to it.

Read by ``owl config render`` (owl.render.prometheus, owl.render.shards, docs/sharding.md)::

    stack:
      long_term_store:
        remote_write_url: http://10.0.0.9:8428/api/v1/write   # where every Prometheus writes
        query_url: http://10.0.0.9:8428                       # its Prometheus query API
      shards:                         # for --shards N: N of them, shard 1 first
        - {prometheus: 10.0.0.1:9090}
        - {prometheus: 10.0.0.2:9090, exporter: 10.0.0.2:9181, blackbox_exporter: 10.0.0.2:9115}

``query_url`` is the base of a Prometheus-compatible query API (``query_url + /api/v1/query``):
VictoriaMetrics' own address, Thanos Query's, or Mimir's ``http://HOST:PORT/prometheus``. When the
store is set, Grafana's provisioned datasource and the monthly reports read from it.
"""

from __future__ import annotations

from owl.inventory.fields import StrictModel, WebAddress
from owl.inventory.high_availability import HostPort


class LongTermStore(StrictModel):
    """Where every Prometheus remote-writes its samples, and where the dashboards and the
    reports query them all (the global view)."""

    remote_write_url: WebAddress
    query_url: WebAddress


class PrometheusShard(StrictModel):
    """One Prometheus shard and the parts it scrapes its targets with: the owl exporter started
    with ``--shard I/N`` and a blackbox_exporter. ``exporter`` and ``blackbox_exporter`` default
    to ``provider.stack``'s, which suits one shard per host, each with its own on loopback."""

    prometheus: HostPort
    exporter: HostPort | None = None
    blackbox_exporter: HostPort | None = None


def shards_apart(shards: list[PrometheusShard]) -> None:
    """Every shard's Prometheus listens at an address of its own."""
    seen: dict[str, int] = {}
    for index, shard in enumerate(shards):
        if shard.prometheus in seen:
            raise ValueError(f"shards[{index}].prometheus: {shard.prometheus} is also "
                             f"shards[{seen[shard.prometheus]}].prometheus; every shard needs "
                             "an address of its own")
        seen[shard.prometheus] = index
