"""The catalogue file and what it says about an installed version.

JSON, validated when loaded (an error names the file and the field)::

    {"format": 1, "date": "2025-10-01",
     "cores": {"drupal": {"updates_within": "major", "branch_depth": 2,
                          "branches": [{"branch": "11.2", "latest": "11.2.5", "supported": true},
                                       {"branch": "10.4", "latest": "10.4.8", "supported": true,
                                        "until": "2025-12-09"},
                                       {"branch": "7", "latest": "7.103", "supported": false}]}},
     "components": {"wordpress-plugin": {"woocommerce": "10.2.2"}}}

- A version belongs to the most specific branch it starts with (number by number).
- It is *supported* if its branch is ``supported`` and, when the branch has an ``until`` date, that
  date is not past. A version of no listed branch is unsupported, unless it is newer than every
  release the catalogue knows (the catalogue is older than the site): then it counts as supported
  and up to date.
- A *core update is available* when the catalogue knows a newer release in the same update line:
  any newer release for WordPress (``updates_within: all``: 6.7 to 6.8 is a routine update), a
  newer release of the same major version elsewhere (``major``: Drupal 10.5 is not told to move to
  11, it is told about 10.5.x).
- A version shorter than the CMS's branches (``"10"`` from Drupal's generator tag, ``"2.4"`` from
  Magento's ``/magento_version``) is supported if a supported branch inside it exists; whether an
  update is available is not known.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Annotated, Literal

import pydantic
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from exporters import versions

FORMAT = 1


class CatalogueError(ValueError):
    """The catalogue file cannot be read or is not valid; the message names file and field."""


def _version(value: str) -> str:
    if not versions.is_valid(value):
        raise ValueError(f"{value!r} is not a version")
    return value


Version = Annotated[str, AfterValidator(_version)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Branch(_Model):
    branch: str = Field(pattern=r"^\d+(\.\d+){0,3}$")
    latest: Version | None = None
    supported: bool
    until: dt.date | None = None  # end of security support, when it is announced

    def supported_on(self, day: dt.date) -> bool:
        return self.supported and (self.until is None or day <= self.until)


class Core(_Model):
    updates_within: Literal["all", "major"] = "major"
    branch_depth: int = Field(default=2, ge=1, le=4)
    branches: list[Branch]


class Catalogue(_Model):
    format: Literal[1]
    date: dt.date
    note: str = ""
    sources: dict[str, str] = Field(default_factory=dict)
    cores: dict[str, Core]
    components: dict[str, dict[str, Version]] = Field(default_factory=dict)

    def core_status(self, cms: str, version: str, today: dt.date) -> CoreStatus:
        """Update and support status of ``cms`` at ``version`` on ``today``; fields are None where
        the catalogue cannot tell (CMS not in it, version unknown or not comparable)."""
        core = self.cores.get(cms)
        if core is None or not versions.is_valid(version):
            return CoreStatus(None, None)
        installed = versions.parse(version)
        if len(installed.release) < core.branch_depth:  # "10" (Drupal), "2.4" (Magento)
            return CoreStatus(None, any(versions.same_branch(b.branch, version)
                                        and b.supported_on(today) for b in core.branches))
        releases = [versions.parse(b.latest) for b in core.branches if b.latest]
        if releases and installed > max(releases):
            return CoreStatus(False, True)
        line = [r for r in releases
                if core.updates_within == "all" or r.major == installed.major]
        update = bool(line) and installed < max(line)
        branch = self.branch_of(cms, version)
        return CoreStatus(update, branch is not None and branch.supported_on(today))

    def branch_of(self, cms: str, version: str) -> Branch | None:
        matching = [b for b in self.cores[cms].branches if versions.same_branch(version, b.branch)]
        return max(matching, key=lambda b: b.branch.count("."), default=None)

    def component_update(self, ecosystem: str, name: str, version: str) -> bool | None:
        """Whether a newer version of a plugin/theme/module is known; None if it is not known."""
        latest = self.components.get(ecosystem, {}).get(name)
        if latest is None or not versions.is_valid(version) or not versions.is_valid(latest):
            return None
        return versions.parse(version) < versions.parse(latest)

    def age_seconds(self, now: dt.datetime) -> float:
        """Seconds since the catalogue's date (midnight UTC)."""
        date = dt.datetime.combine(self.date, dt.time(), dt.timezone.utc)
        return max(0.0, (now - date).total_seconds())


@dataclass(frozen=True)
class CoreStatus:
    update_available: bool | None
    supported: bool | None


def shipped_catalogue_path() -> Path:
    return Path(str(files("exporters.catalogue").joinpath("catalogue.json")))


def parse_catalogue(data, source: str = "<catalogue>") -> Catalogue:
    try:
        return Catalogue.model_validate(data)
    except pydantic.ValidationError as exc:
        problems = [f"{source}: {'.'.join(str(p) for p in error['loc']) or '(top level)'}: "
                    f"{error['msg']}" for error in exc.errors()]
        raise CatalogueError("\n".join(problems)) from None


def load_catalogue(path: str | Path) -> Catalogue:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read the CMS catalogue: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise CatalogueError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    return parse_catalogue(data, str(path))


def dump_catalogue(catalogue: Catalogue) -> str:
    return json.dumps(catalogue.model_dump(mode="json", exclude_none=True), indent=1,
                      ensure_ascii=False) + "\n"
