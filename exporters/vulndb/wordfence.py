"""Importing the Wordfence Intelligence vulnerability feed (v2, JSON).

The feed is one JSON object of records keyed by their id::

    {"<uuid>": {"id": "<uuid>", "title": "Contact Form 7 <= 5.3.1 - Unrestricted File Upload",
                "software": [{"type": "plugin", "slug": "contact-form-7", "name": "...",
                              "affected_versions": {"* - 5.3.1": {"from_version": "*",
                                  "from_inclusive": true, "to_version": "5.3.1",
                                  "to_inclusive": true}},
                              "patched": true, "patched_versions": ["5.3.2"]}],
                "informational": false, "cvss": {"score": 10.0, "rating": "Critical"},
                "cve": "CVE-2020-35489", "published": "2020-12-17 00:00:00", ...}}

``software.type`` ``core`` / ``plugin`` / ``theme`` become the ``wordpress-core`` /
``wordpress-plugin`` / ``wordpress-theme`` ecosystems. A range ``from`` ``*`` starts at the
beginning; an exclusive lower bound (rare) is taken as inclusive, which can only report its first
version too, never miss one. ``to_inclusive`` gives ``last_affected``, else ``fixed``. Informational
records (no vulnerable version) are left out. Without a CVSS rating, the severity is ``medium``.
"""

from __future__ import annotations

import json
from pathlib import Path

from exporters import versions
from exporters.vulndb.model import SEVERITIES, Affected, Event, Range, Vulnerability, VulnDbError

ECOSYSTEM = {"core": "wordpress-core", "plugin": "wordpress-plugin", "theme": "wordpress-theme"}
UNRATED = "medium"


def read_wordfence(path: str | Path) -> tuple[list[Vulnerability], list[str]]:
    """The records of the feed at ``path``, and notes about what was left out."""
    try:
        feed = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise VulnDbError(f"{path}: cannot read: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise VulnDbError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(feed, dict):
        raise VulnDbError(f"{path}: expected the Wordfence feed, an object of records by id")
    records, notes = [], []
    for key, record in feed.items():
        where = f"{path}: record {key}"
        if not isinstance(record, dict) or not isinstance(record.get("software"), list):
            raise VulnDbError(f"{where}: expected an object with a 'software' list")
        if record.get("informational"):
            notes.append(f"{key}: informational, left out")
            continue
        affected = [_affected(software, f"{where}: software[{index}]")
                    for index, software in enumerate(record["software"])]
        if not affected:
            notes.append(f"{key}: no affected software, left out")
            continue
        cve = record.get("cve") or None
        record_id = cve or str(record.get("id") or key)
        records.append(Vulnerability(
            id=record_id, aliases=[f"wordfence:{record.get('id') or key}"] if cve else [],
            source="wordfence", summary=str(record.get("title") or "")[:300],
            severity=_severity(record.get("cvss")), known_exploited=False,
            published=record.get("published"), affected=affected))
    return records, notes


def _affected(software: dict, where: str) -> Affected:
    kind = software.get("type")
    if kind not in ECOSYSTEM:
        raise VulnDbError(f"{where}.type: {kind!r}, expected one of {', '.join(ECOSYSTEM)}")
    slug = "wordpress" if kind == "core" else software.get("slug")
    if not slug:
        raise VulnDbError(f"{where}.slug: missing")
    ranges = []
    for label, bounds in (software.get("affected_versions") or {}).items():
        try:
            ranges.append(Range(events=_events(bounds)))
        except (KeyError, TypeError, ValueError, versions.InvalidVersion) as exc:
            raise VulnDbError(f"{where}.affected_versions[{label!r}]: {exc}") from None
    if not ranges:
        raise VulnDbError(f"{where}.affected_versions: empty")
    return Affected(ecosystem=ECOSYSTEM[kind], package=slug, ranges=ranges)


def _events(bounds: dict) -> list[Event]:
    low, high = bounds["from_version"], bounds["to_version"]
    events = [Event(introduced="0" if low in ("*", "", None) else low)]
    if high not in ("*", "", None):
        events.append(Event(last_affected=high) if bounds.get("to_inclusive", True)
                      else Event(fixed=high))
    return events


def _severity(cvss) -> str:
    rating = str((cvss or {}).get("rating") or "").lower()
    return rating if rating in SEVERITIES else UNRATED
