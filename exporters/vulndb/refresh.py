"""Rebuilding the vulnerability database from the public feeds (when there is a network).

:data:`FEEDS` are the feeds ``owl vulndb import`` reads, at their public addresses (replaceable
in the inventory, ``provider.probes.vulnerability_feeds``, for mirrors and tests):

- ``wordfence``: Wordfence Intelligence's production feed (JSON; its v2 API wants a free key,
  sent as a bearer token when ``provider.probes.wordfence_api_key_file`` names one);
- ``friendsofphp``: the FriendsOfPHP security-advisories repository, as GitHub's tarball of it;
- ``cisa-kev``: CISA's Known Exploited Vulnerabilities catalog (JSON), which marks records.

Every feed is downloaded before any is read: if one cannot be reached or read, the refresh raises
:class:`exporters.upstream.RefreshError` and the caller writes nothing.
"""

from __future__ import annotations

import datetime as dt
import io
import tarfile
import tempfile
from pathlib import Path
from typing import Callable, Mapping

import requests

from exporters.upstream import RefreshError, http_get
from exporters.vulndb.friendsofphp import read_friendsofphp
from exporters.vulndb.kev import mark_exploited, read_kev
from exporters.vulndb.model import Database, VulnDbError, merged
from exporters.vulndb.wordfence import read_wordfence

FEEDS = {
    "wordfence": "https://www.wordfence.com/api/intelligence/v2/vulnerabilities/production",
    "friendsofphp": "https://github.com/FriendsOfPHP/security-advisories/archive/refs/heads/"
                    "master.tar.gz",
    "cisa-kev": "https://www.cisa.gov/sites/default/files/feeds/"
                "known_exploited_vulnerabilities.json",
}
FEED_NAMES = tuple(FEEDS)
Get = Callable[..., requests.Response]


def refresh_database(current: Database | None, now: dt.datetime,
                     feeds: Mapping[str, str] = FEEDS, wordfence_key: str | None = None,
                     get: Get = http_get) -> tuple[Database, list[str]]:
    """``current`` (or an empty database) with the advisories of ``feeds`` merged in, dated
    ``now``, and one line per feed saying what it brought."""
    with tempfile.TemporaryDirectory(prefix="owl-vulndb-") as folder:
        files = {name: _download(name, url, Path(folder), wordfence_key, get)
                 for name, url in feeds.items()}
        try:
            return _merge(current or Database(updated=now), files, now)
        except VulnDbError as exc:
            raise RefreshError(f"cannot read a feed: {exc}") from None


def _download(name: str, url: str, folder: Path, wordfence_key: str | None, get: Get) -> Path:
    headers = {"Authorization": f"Bearer {wordfence_key}"} \
        if name == "wordfence" and wordfence_key else None
    body = get(url, headers=headers).content
    if name != "friendsofphp":
        path = folder / f"{name}.json"
        path.write_bytes(body)
        return path
    path = folder / name
    try:
        with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as archive:
            archive.extractall(path, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise RefreshError(f"{url}: not a readable tarball: {exc}") from None
    return path


def _merge(database: Database, files: dict[str, Path], now: dt.datetime
           ) -> tuple[Database, list[str]]:
    lines = []
    for name, read in (("wordfence", read_wordfence), ("friendsofphp", read_friendsofphp)):
        if name in files:
            records, _ = read(files[name])
            database = merged(database, records, now)
            lines.append(f"{name}: {len(records)} advisories")
    if "cisa-kev" in files:
        database, marked = mark_exploited(database, read_kev(files["cisa-kev"]))
        lines.append(f"cisa-kev: {marked} advisories marked known exploited")
    return database.model_copy(update={"updated": now}), lines
