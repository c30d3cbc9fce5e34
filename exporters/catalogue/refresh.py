"""Rebuilding the catalogue from the upstream APIs (when there is a network).

Each upstream has a base URL (:data:`UPSTREAMS`, replaceable, for tests and mirrors) and a parser
of its own format:

- ``wordpress``: ``/core/stable-check/1.0/`` maps every release to ``latest``, ``outdated`` or
  ``insecure``; a branch (6.8) is supported while its newest release is not ``insecure``.
  Plugins and themes already in the catalogue: ``/plugins/info/1.2/`` and ``/themes/info/1.2/``.
- ``drupal``: the release history XML ``/release-history/drupal/current``: published stable
  releases, and ``<supported_branches>`` (``10.4.,10.5.,11.1.,11.2.``).
- ``joomla``: ``/api/v1/latest/cms``, the latest release of each major version.
- ``github`` (PrestaShop, Magento Open Source): ``/repos/OWNER/REPO/releases``, drafts and
  pre-releases left out.

Joomla, PrestaShop and Magento publish no machine-readable support status: for them the refresh
updates the latest release of each branch and keeps the support status (and end date) the
catalogue already had; a branch newer than every known one is taken as supported.

Any upstream that cannot be reached or answers something unexpected stops the refresh with
:class:`RefreshError`, and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import xml.etree.ElementTree as ElementTree
from typing import Callable

import requests

from exporters import versions
from exporters.catalogue.model import Branch, Catalogue, Core
from exporters.upstream import RefreshError, http_get

UPSTREAMS = {
    "wordpress": "https://api.wordpress.org",
    "drupal": "https://updates.drupal.org",
    "joomla": "https://downloads.joomla.org",
    "github": "https://api.github.com",
}
GITHUB_REPOSITORIES = {"prestashop": "PrestaShop/PrestaShop", "magento": "magento/magento2"}


Get = Callable[[str], requests.Response]


def _json(get: Get, url: str):
    response = get(url)
    try:
        return response.json()
    except ValueError:
        raise RefreshError(f"{url} did not answer JSON") from None


def branch_name(version: str, depth: int) -> str:
    return ".".join(str(n) for n in versions.parse(version).release[:depth])


def _newest_by_branch(releases: list[str], depth: int) -> dict[str, str]:
    newest: dict[str, str] = {}
    for release in releases:
        if not versions.is_valid(release):
            continue
        name = branch_name(release, depth)
        if name not in newest or versions.parse(release) > versions.parse(newest[name]):
            newest[name] = release
    return newest


def wordpress_branches(stable_check: dict, depth: int) -> list[Branch]:
    if not isinstance(stable_check, dict) or not stable_check:
        raise RefreshError("WordPress stable-check: expected an object of version: status")
    newest = _newest_by_branch(list(stable_check), depth)
    return [Branch(branch=name, latest=latest, supported=stable_check[latest] != "insecure")
            for name, latest in newest.items()]


def drupal_branches(xml: bytes, depth: int) -> list[Branch]:
    try:
        project = ElementTree.fromstring(xml)
    except ElementTree.ParseError as exc:
        raise RefreshError(f"Drupal release history: not XML: {exc}") from None
    supported = {b for b in (project.findtext("supported_branches") or "").split(",") if b}
    if project.find("releases") is None:
        raise RefreshError("Drupal release history: no <releases>")
    stable = [release.findtext("version") or "" for release in project.iter("release")
              if release.findtext("status") == "published"
              and "-" not in (release.findtext("version") or "-")]
    newest = _newest_by_branch(stable, depth)
    return [Branch(branch=name, latest=latest, supported=f"{name}." in supported)
            for name, latest in newest.items()]


def joomla_latest(answer) -> list[str]:
    try:
        return [entry["version"] for entry in answer["branches"]]
    except (KeyError, TypeError):
        raise RefreshError("Joomla latest releases: expected {\"branches\": [{\"version\": "
                           "...}]}") from None


def github_releases(answer) -> list[str]:
    if not isinstance(answer, list):
        raise RefreshError("GitHub releases: expected a list")
    try:
        return [release["tag_name"] for release in answer
                if not release.get("draft") and not release.get("prerelease")]
    except (KeyError, TypeError, AttributeError):
        raise RefreshError("GitHub releases: expected objects with tag_name") from None


def merge(core: Core, found: list[Branch], support_known: bool) -> Core:
    """``core`` with the branches ``found`` upstream: their latest releases, and their support
    status when the upstream gives one; branches upstream no longer lists are kept."""
    known = {b.branch: b for b in core.branches}
    newest_known = max((versions.parse(b.latest) for b in core.branches if b.latest), default=None)
    merged = []
    for branch in found:
        before = known.pop(branch.branch, None)
        if support_known:
            merged.append(branch.model_copy(update={"until": before.until if before else None}))
        elif before is not None:
            merged.append(before.model_copy(update={"latest": branch.latest}))
        else:
            newer = newest_known is None or versions.parse(branch.latest) > newest_known
            merged.append(branch.model_copy(update={"supported": newer}))
    merged.extend(known.values())
    merged.sort(key=lambda b: versions.parse(b.branch), reverse=True)
    return core.model_copy(update={"branches": merged})


def refresh(current: Catalogue, today: dt.date, upstreams: dict[str, str] | None = None,
            get: Get = http_get) -> Catalogue:
    """A new catalogue dated ``today`` from the upstream APIs; raises :class:`RefreshError`."""
    base = {**UPSTREAMS, **(upstreams or {})}
    base = {name: url.rstrip("/") for name, url in base.items()}
    cores = dict(current.cores)

    def update(cms: str, found: list[Branch], support_known: bool):
        if not found:
            raise RefreshError(f"{cms}: the upstream listed no release")
        cores[cms] = merge(cores.get(cms) or Core(branches=[]), found, support_known)

    depth = lambda cms: (current.cores.get(cms) or Core(branches=[])).branch_depth  # noqa: E731
    update("wordpress", wordpress_branches(
        _json(get, f"{base['wordpress']}/core/stable-check/1.0/"), depth("wordpress")), True)
    update("drupal", drupal_branches(
        get(f"{base['drupal']}/release-history/drupal/current").content, depth("drupal")), True)
    joomla = joomla_latest(_json(get, f"{base['joomla']}/api/v1/latest/cms"))
    update("joomla", [Branch(branch=name, latest=latest, supported=True) for name, latest
                      in _newest_by_branch(joomla, depth("joomla")).items()], False)
    for cms, repository in GITHUB_REPOSITORIES.items():
        tags = github_releases(_json(get, f"{base['github']}/repos/{repository}/releases"
                                     "?per_page=100"))
        update(cms, [Branch(branch=name, latest=latest, supported=True) for name, latest
                     in _newest_by_branch(tags, depth(cms)).items()], False)

    components = {ecosystem: dict(latest) for ecosystem, latest in current.components.items()}
    for ecosystem, api in (("wordpress-plugin", "plugins"), ("wordpress-theme", "themes")):
        action = "plugin_information" if api == "plugins" else "theme_information"
        for slug in components.get(ecosystem, {}):
            answer = _json(get, f"{base['wordpress']}/{api}/info/1.2/?action={action}"
                                f"&request[slug]={slug}")
            version = answer.get("version") if isinstance(answer, dict) else None
            if not version or not versions.is_valid(version):
                raise RefreshError(f"WordPress {api} API: no version for {slug!r}")
            components[ecosystem][slug] = version
    sources = {**current.sources, **{name: f"{url} ({today.isoformat()})"
                                     for name, url in base.items()}}
    return current.model_copy(update={"date": today, "cores": cores, "components": components,
                                      "sources": sources,
                                      "note": "Refreshed from the upstream APIs by "
                                              "`owl catalogue refresh`."})
