"""Which advisories of the database affect what a probe found on a site."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from exporters import versions
from exporters.vulndb.model import Affected, Database, Vulnerability


@dataclass(frozen=True)
class Installed:
    """Something found on a site: ``component`` is ``core`` or the plugin/module name."""

    component: str
    ecosystem: str
    package: str
    version: str


@dataclass(frozen=True)
class Match:
    component: str
    vulnerability: Vulnerability


class Index:
    """The database indexed by (ecosystem, package), built once per database file."""

    def __init__(self, database: Database):
        self.database = database
        self._by_package: dict[tuple[str, str], list[tuple[Vulnerability, Affected]]] = \
            defaultdict(list)
        for vulnerability in database.vulnerabilities:
            for affected in vulnerability.affected:
                self._by_package[(affected.ecosystem, affected.package.lower())].append(
                    (vulnerability, affected))

    def matches(self, found: list[Installed]) -> list[Match]:
        """Advisories affecting ``found``, one per (component, advisory). Versions that cannot be
        compared (``unknown``, a major alone) match nothing."""
        result: dict[tuple[str, str], Match] = {}
        for item in found:
            if not versions.is_valid(item.version) or "." not in item.version:
                continue
            version = versions.parse(item.version)
            for vulnerability, affected in self._by_package.get(
                    (item.ecosystem, item.package.lower()), ()):
                if any(r.contains(version) for r in affected.ranges):
                    result.setdefault((item.component, vulnerability.id),
                                      Match(item.component, vulnerability))
        return [result[key] for key in sorted(result)]
