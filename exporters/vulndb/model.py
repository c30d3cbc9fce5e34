"""The normalized vulnerability database: one JSON file, OSV-style records.

::

    {"format": "owl-vulndb/1", "updated": "2025-11-01T10:00:00+00:00",
     "vulnerabilities": [
      {"id": "CVE-2020-35489", "aliases": ["wordfence:3a64..."], "source": "wordfence",
       "summary": "Contact Form 7 <= 5.3.1 - Unrestricted File Upload",
       "severity": "critical", "known_exploited": false,
       "affected": [{"ecosystem": "wordpress-plugin", "package": "contact-form-7",
                     "ranges": [{"type": "ECOSYSTEM",
                                 "events": [{"introduced": "0"}, {"fixed": "5.3.2"}]}]}]}]}

- ``id``: the CVE when there is one, else the source's own id; the other ids are ``aliases``.
- ``severity``: ``critical``, ``high``, ``medium`` or ``low``.
- ``ecosystem`` (:data:`ECOSYSTEMS`) and ``package``: ``wordpress-core``/``wordpress``,
  ``wordpress-plugin``/slug, ``drupal-core``/``drupal``, ``drupal-module``/name, ...
- ``ranges``: OSV events, in version order: ``introduced`` (inclusive; ``"0"`` is the beginning),
  ``fixed`` (exclusive) or ``last_affected`` (inclusive).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from exporters import versions

FORMAT = "owl-vulndb/1"
SEVERITIES = ("critical", "high", "medium", "low")
ECOSYSTEMS = ("wordpress-core", "wordpress-plugin", "wordpress-theme", "drupal-core",
              "drupal-module", "drupal-theme", "joomla-core", "joomla-extension",
              "prestashop-core", "prestashop-module", "magento-core", "magento-module")


class VulnDbError(ValueError):
    """The database (or a feed being imported) cannot be read; the message says where."""


def _version(value: str) -> str:
    if value != "0" and not versions.is_valid(value):
        raise ValueError(f"{value!r} is not a version")
    return value


Version = Annotated[str, AfterValidator(_version)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(_Model):
    introduced: Version | None = None
    fixed: Version | None = None
    last_affected: Version | None = None

    @model_validator(mode="after")
    def _one(self):
        if sum(v is not None for v in (self.introduced, self.fixed, self.last_affected)) != 1:
            raise ValueError("an event has exactly one of introduced, fixed, last_affected")
        return self


class Range(_Model):
    type: Literal["ECOSYSTEM"] = "ECOSYSTEM"
    events: list[Event] = Field(min_length=1)

    def contains(self, version: versions.Version) -> bool:
        """OSV's evaluation: walk the events in version order; introduced opens an affected
        interval, fixed closes it before its version, last_affected after it."""
        def key(event: Event):
            value = event.introduced or event.fixed or event.last_affected
            return versions.parse("0") if value == "0" else versions.parse(value)

        affected = False
        for event in sorted(self.events, key=key):
            at = key(event)
            if event.introduced is not None and version >= at:
                affected = True
            elif event.fixed is not None and version >= at:
                affected = False
            elif event.last_affected is not None and version > at:
                affected = False
        return affected


class Affected(_Model):
    ecosystem: Literal[ECOSYSTEMS]
    package: str = Field(min_length=1)
    ranges: list[Range] = Field(min_length=1)


class Vulnerability(_Model):
    id: str = Field(min_length=1)
    aliases: list[str] = Field(default_factory=list)
    source: str = ""
    summary: str = ""
    severity: Literal[SEVERITIES]
    known_exploited: bool = False
    published: str | None = None
    affected: list[Affected] = Field(min_length=1)


class Database(_Model):
    format: Literal["owl-vulndb/1"] = FORMAT
    updated: dt.datetime
    vulnerabilities: list[Vulnerability] = Field(default_factory=list)

    def age_seconds(self, now: dt.datetime) -> float:
        return max(0.0, (now - self.updated).total_seconds())


def parse_database(data, source: str = "<vulndb>") -> Database:
    try:
        return Database.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [f"{source}: {_where(data, error['loc'])}: {error['msg']}"
                    for error in exc.errors()[:20]]
        raise VulnDbError("\n".join(problems)) from None


def _where(data, loc) -> str:
    """``vulnerabilities[3] (CVE-...).affected.0...``: the record's id helps find it."""
    text = ".".join(str(p) for p in loc) or "(top level)"
    if len(loc) >= 2 and loc[0] == "vulnerabilities" and isinstance(loc[1], int):
        try:
            record_id = data["vulnerabilities"][loc[1]].get("id")
        except (KeyError, IndexError, TypeError, AttributeError):
            record_id = None
        if record_id:
            text = f"vulnerabilities.{loc[1]} ({record_id})." + ".".join(str(p) for p in loc[2:])
    return text


def load_database(path: str | Path) -> Database:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise VulnDbError(f"{path}: cannot read the vulnerability database: "
                          f"{exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise VulnDbError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    return parse_database(data, str(path))


def dump_database(database: Database) -> str:
    return json.dumps(database.model_dump(mode="json", exclude_none=True), indent=1,
                      ensure_ascii=False) + "\n"


def merged(database: Database, records: list[Vulnerability], now: dt.datetime) -> Database:
    """``database`` with ``records`` added; a record with an id already there replaces it, with
    the aliases and affected packages of both."""
    by_id = {v.id: v for v in database.vulnerabilities}
    for record in records:
        before = by_id.get(record.id)
        if before is not None:
            aliases = sorted(set(before.aliases) | set(record.aliases))
            affected = list(record.affected) + [a for a in before.affected
                                                if a not in record.affected]
            record = record.model_copy(update={"aliases": aliases, "affected": affected})
        by_id[record.id] = record
    return Database(updated=now, vulnerabilities=sorted(by_id.values(), key=lambda v: v.id))
