"""Every probe kind the exporter runs, and every collector it serves: one line each.

- :data:`PROBES`: functions ``make(context) -> ProbeKind``, ``context`` being the
  :class:`exporters.context.ProbeContext` (schedules per kind and tier from the inventory, data
  files). Use ``kind.scheduled(context.schedule(name))`` for the inventory's intervals.
- :data:`COLLECTORS`: classes (or functions) ``make(cache, context) -> Collector``, each reading the
  results of its kind from the :class:`exporters.probe.ResultCache`.

Adding a probe kind: its module under ``exporters/probes/``, its collector under
``exporters/collectors/``, and one line in each list below.
"""

from __future__ import annotations

from typing import Callable

from prometheus_client.registry import Collector

from exporters.collectors.backup import BackupCollector
from exporters.collectors.cms import CmsCollector
from exporters.collectors.content import ContentCollector
from exporters.collectors.datafiles import DataFilesCollector
from exporters.collectors.domain import DomainCollector
from exporters.collectors.probes import ProbeStatusCollector
from exporters.collectors.shop import ShopCollector
from exporters.collectors.tls import TlsCollector
from exporters.collectors.vulnerabilities import VulnerabilityCollector
from exporters.context import ProbeContext
from exporters.probe import ProbeKind, ResultCache
from exporters.probes.backup import backup_kind
from exporters.probes.cms import cms_kind
from exporters.probes.content import content_kind
from exporters.probes.domain import domain_kind
from exporters.probes.shop import shop_kind
from exporters.probes.tls import tls_kind
from exporters.probes.vulnerabilities import vulnerability_kind

PROBES: tuple[Callable[[ProbeContext], ProbeKind], ...] = (
    cms_kind,
    vulnerability_kind,
    backup_kind,
    shop_kind,
    domain_kind,
    tls_kind,
    content_kind,
)

COLLECTORS: tuple[Callable[[ResultCache, ProbeContext], Collector], ...] = (
    ProbeStatusCollector,
    DataFilesCollector,
    CmsCollector,
    VulnerabilityCollector,
    BackupCollector,
    ShopCollector,
    DomainCollector,
    TlsCollector,
    ContentCollector,
)


def probe_kinds(context: ProbeContext) -> tuple[ProbeKind, ...]:
    return tuple(make(context) for make in PROBES)


def collectors(cache: ResultCache, context: ProbeContext) -> list[Collector]:
    return [make(cache, context) for make in COLLECTORS]
