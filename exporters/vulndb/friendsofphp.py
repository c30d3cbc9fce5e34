"""Importing the FriendsOfPHP security-advisories database (YAML, one file per advisory).

Each file, ``<vendor>/<package>/<name>.yaml`` in the repository::

    title:     "Drupal core - Critical - Remote Code Execution - SA-CORE-2019-003"
    link:      https://www.drupal.org/sa-core-2019-003
    cve:       CVE-2019-6340
    branches:
        8.6.x:
            time:     2019-02-20 17:00:00
            versions: ['>=8.6.0', '<8.6.10']
    reference: composer://drupal/core

``FILE`` is one such file or a folder searched recursively (a checkout of the repository). The
Composer package decides the ecosystem (:func:`ecosystem_of`); advisories for other packages
(Symfony, Laravel...) are counted and left out. Each branch's constraints become one range:
``>=``/``>`` introduced (an exclusive bound taken as inclusive), ``<`` fixed, ``<=`` last
affected. The files carry no severity: Drupal's risk level in the title is used
(``Highly critical`` = critical, ``Critical`` = high, ``Moderately critical`` = medium,
``Less critical`` = low), otherwise ``medium``.
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from exporters import versions
from exporters.vulndb.model import Affected, Event, Range, Vulnerability, VulnDbError

CORES = {
    "drupal/core": ("drupal-core", "drupal"), "drupal/drupal": ("drupal-core", "drupal"),
    "joomla/joomla-cms": ("joomla-core", "joomla"),
    "prestashop/prestashop": ("prestashop-core", "prestashop"),
    "magento/magento2ce": ("magento-core", "magento"),
    "magento/community-edition": ("magento-core", "magento"),
    "magento/product-community-edition": ("magento-core", "magento"),
    "magento/magento2-base": ("magento-core", "magento"),
    "magento/magento1ce": ("magento-core", "magento"),
    "johnpbloch/wordpress-core": ("wordpress-core", "wordpress"),
    "roots/wordpress": ("wordpress-core", "wordpress"),
}
VENDORS = {"drupal": "drupal-module", "wpackagist-plugin": "wordpress-plugin",
           "wpackagist-theme": "wordpress-theme", "prestashop": "prestashop-module"}
DRUPAL_RISK = (("highly critical", "critical"), ("moderately critical", "medium"),
               ("less critical", "low"), ("not critical", "low"), ("critical", "high"))
_CONSTRAINT = re.compile(r"^\s*(>=|<=|>|<|==|=)?\s*v?([0-9][^\s,]*)\s*$")
_SA_ID = re.compile(r"\b(SA-(?:CORE|CONTRIB)-\d{4}-\d{3})\b", re.IGNORECASE)


def ecosystem_of(package: str) -> tuple[str, str] | None:
    """``(ecosystem, package)`` of a Composer package, or None if it is not a CMS's."""
    package = package.lower()
    if package in CORES:
        return CORES[package]
    vendor, _, name = package.partition("/")
    if vendor in VENDORS and name:
        return VENDORS[vendor], name
    return None


def read_friendsofphp(path: str | Path) -> tuple[list[Vulnerability], list[str]]:
    """The CMS advisories in ``path`` (a file or a folder), and notes about what was left out."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
    elif path.exists():
        files = [path]
    else:
        raise VulnDbError(f"{path}: no such file or folder")
    records, skipped = [], 0
    for file in files:
        record = _read(file)
        if record is None:
            skipped += 1
        else:
            records.append(record)
    notes = [f"{skipped} advisories for packages other than CMS cores and extensions left out"] \
        if skipped else []
    return records, notes


def _read(file: Path) -> Vulnerability | None:
    try:
        advisory = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        raise VulnDbError(f"{file}{line}: not YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(advisory, dict):
        raise VulnDbError(f"{file}: expected a mapping with title, reference and branches")
    for field in ("title", "reference", "branches"):
        if not advisory.get(field):
            raise VulnDbError(f"{file}: {field}: missing")
    reference = str(advisory["reference"])
    if not reference.startswith("composer://"):
        raise VulnDbError(f"{file}: reference: {reference!r}, expected composer://vendor/package")
    target = ecosystem_of(reference.removeprefix("composer://"))
    if target is None:
        return None
    if not isinstance(advisory["branches"], dict):
        raise VulnDbError(f"{file}: branches: expected a mapping of branch: {{versions: [...]}}")
    ranges = [Range(events=_events(file, name, branch))
              for name, branch in advisory["branches"].items()]
    title = str(advisory["title"])
    cve = str(advisory.get("cve") or "") or None
    sa_id = _SA_ID.search(title)
    own_id = sa_id.group(1).upper() if sa_id else \
        f"friendsofphp:{reference.removeprefix('composer://')}/{file.stem}"
    aliases = [alias for alias in (own_id if cve else None, advisory.get("link")) if alias]
    return Vulnerability(id=cve or own_id, aliases=aliases, source="friendsofphp",
                         summary=title[:300], severity=_severity(title),
                         affected=[Affected(ecosystem=target[0], package=target[1],
                                            ranges=ranges)])


def _events(file: Path, name, branch) -> list[Event]:
    where = f"{file}: branches.{name}.versions"
    constraints = branch.get("versions") if isinstance(branch, dict) else None
    if not isinstance(constraints, list) or not constraints:
        raise VulnDbError(f"{where}: expected a list such as ['>=8.6.0', '<8.6.10']")
    events = []
    for text in (part for item in constraints for part in str(item).split(",")):
        match = _CONSTRAINT.match(text)
        if not match or not versions.is_valid(match.group(2)):
            raise VulnDbError(f"{where}: {text.strip()!r} is not a constraint such as '<8.6.10'")
        operator, version = match.group(1) or "=", match.group(2)
        if operator in (">=", ">"):
            events.append(Event(introduced=version))
        elif operator == "<":
            events.append(Event(fixed=version))
        elif operator == "<=":
            events.append(Event(last_affected=version))
        else:
            events += [Event(introduced=version), Event(last_affected=version)]
    if not any(event.introduced for event in events):
        events.insert(0, Event(introduced="0"))
    return events


def _severity(title: str) -> str:
    lowered = title.lower()
    for words, severity in DRUPAL_RISK:
        if words in lowered:
            return severity
    return "medium"
