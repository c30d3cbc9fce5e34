"""The ``content`` probe's baselines, and the operators' acceptances of new ones, kept in files.

With ``owl exporter --storage.path DIR``, each site has its files in ``DIR/content/``, named by
its client and site ids (which hold no dot), ``acme.www``:

- ``acme.www.baseline.json``, written by the exporter only: the baseline's fingerprint, when and
  from which URL it was fetched, and the latest comparison with it::

    {"version": 1, "site": "acme/www",
     "baseline": {"time": 1772452800.0, "url": "https://www.acme.example/",
                  "title": "acme - accueil", "text": [...], "structure": [...]},
     "last": {"time": 1772456400.0, "changed": false,
              "similarity": {"title": 1.0, "text": 0.81, "structure": 1.0}}}

- ``acme.www.accepted.json``, written by ``owl baseline accept`` only: ``{"version": 1,
  "site": "acme/www", "time": 1772460000.0}``. A baseline fetched before that time is replaced by
  the page of the next successful run.

Each file has one writer, so the exporter, which keeps the baselines in memory, never writes
over an operator's acceptance, and the command needs no lock. Files are written atomically. A
baseline file is a cache the probe can rebuild (its next run sets a new baseline): one that cannot
be read is logged and ignored, never fatal; so is an acceptance that cannot be read.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from exporters.probes.content_fingerprint import ASPECTS, Fingerprint
from owl.files import write_atomically

log = logging.getLogger(__name__)
FOLDER = "content"
VERSION = 1
_BASELINE, _ACCEPTED = ".baseline.json", ".accepted.json"


class StateFileError(ValueError):
    """A content state file is not what this version of the exporter writes."""


@dataclass(frozen=True)
class Baseline:
    """The fingerprint of the page taken as the site's normal, fetched at ``time`` from ``url``."""

    time: float
    url: str
    fingerprint: Fingerprint


@dataclass(frozen=True)
class Comparison:
    """One run's page against the baseline: similarity per aspect, and the verdict."""

    time: float
    similarity: dict[str, float]
    changed: bool


@dataclass(frozen=True)
class SiteContent:
    baseline: Baseline
    last: Comparison | None = None


def file_stem(site_key: str) -> str:
    """``acme.www`` for ``acme/www``."""
    client, _, site = site_key.partition("/")
    return f"{client}.{site}"


class ContentStore:
    """The files of ``DIR/content/`` for ``folder`` = DIR."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder) / FOLDER

    def load(self, site_key: str) -> SiteContent | None:
        """The site's saved baseline and last comparison; None without a usable file."""
        document = self._read(self.folder / (file_stem(site_key) + _BASELINE), "baseline")
        if document is None:
            return None
        try:
            return parse_site_content(document, site_key)
        except StateFileError as exc:
            return self._ignored(self.folder / (file_stem(site_key) + _BASELINE), str(exc))

    def save(self, site_key: str, content: SiteContent) -> None:
        """Replace the site's baseline file. A failure is logged: the baseline stays in memory."""
        path = self.folder / (file_stem(site_key) + _BASELINE)
        try:
            write_atomically(path, json.dumps(site_content_document(site_key, content),
                                              sort_keys=True) + "\n", mode=0o600)
        except OSError as exc:
            log.warning("content baseline file %s cannot be written: %s", path, exc)

    def accepted_at(self, site_key: str) -> float | None:
        """When an operator last accepted a new baseline for the site; None if never."""
        path = self.folder / (file_stem(site_key) + _ACCEPTED)
        document = self._read(path, "acceptance")
        if document is None:
            return None
        try:
            _check_header(document, site_key)
            return _number(document.get("time"), "time")
        except StateFileError as exc:
            return self._ignored(path, str(exc))

    def accept(self, site_key: str, time: float) -> Path:
        """Record that the baseline fetched before ``time`` is to be replaced (the command's);
        OSError if it cannot be written."""
        path = self.folder / (file_stem(site_key) + _ACCEPTED)
        write_atomically(path, json.dumps({"version": VERSION, "site": site_key,
                                           "time": time}) + "\n", mode=0o600)
        return path

    def site_keys(self) -> list[str]:
        """``client/site`` of every site with a baseline file, sorted."""
        if not self.folder.is_dir():
            return []
        stems = (path.name[:-len(_BASELINE)] for path in self.folder.glob("*" + _BASELINE))
        return sorted(stem.replace(".", "/", 1) for stem in stems if "." in stem)

    def _read(self, path: Path, what: str):
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            return self._ignored(path, f"cannot be read: {exc}")
        except json.JSONDecodeError as exc:
            return self._ignored(path, f"not JSON: {exc}")

    @staticmethod
    def _ignored(path: Path, problem: str) -> None:
        log.warning("ignoring content state file %s: %s", path, problem)
        return None


def site_content_document(site_key: str, content: SiteContent) -> dict:
    baseline = content.baseline
    document = {"version": VERSION, "site": site_key,
                "baseline": {"time": baseline.time, "url": baseline.url,
                             "title": baseline.fingerprint.title,
                             "text": list(baseline.fingerprint.text),
                             "structure": list(baseline.fingerprint.structure)}}
    if content.last is not None:
        document["last"] = {"time": content.last.time, "changed": content.last.changed,
                            "similarity": dict(content.last.similarity)}
    return document


def parse_site_content(document, site_key: str) -> SiteContent:
    """The baseline a JSON document holds; StateFileError naming the first wrong field."""
    _check_header(document, site_key)
    baseline = document.get("baseline")
    if not isinstance(baseline, dict):
        raise StateFileError("baseline: expected an object")
    title, url = baseline.get("title"), baseline.get("url")
    if not isinstance(title, str) or not isinstance(url, str):
        raise StateFileError("baseline.title, baseline.url: expected strings")
    fingerprint = Fingerprint(title, _hashes(baseline, "text"), _hashes(baseline, "structure"))
    return SiteContent(Baseline(_number(baseline.get("time"), "baseline.time"), url, fingerprint),
                       _comparison(document.get("last")))


def _check_header(document, site_key: str):
    if not isinstance(document, dict):
        raise StateFileError("(top level): expected a JSON object")
    if document.get("version") != VERSION:
        raise StateFileError(f"version: expected {VERSION}, got {document.get('version')!r}")
    if document.get("site") != site_key:
        raise StateFileError(f"site: expected {site_key!r}, got {document.get('site')!r}")


def _comparison(last) -> Comparison | None:
    if last is None:
        return None
    if not isinstance(last, dict) or not isinstance(last.get("changed"), bool) \
            or not isinstance(last.get("similarity"), dict):
        raise StateFileError("last: expected time, changed and similarity")
    similarity = {aspect: _number(last["similarity"].get(aspect), f"last.similarity.{aspect}")
                  for aspect in ASPECTS}
    return Comparison(_number(last.get("time"), "last.time"), similarity, last["changed"])


def _hashes(baseline: dict, name: str) -> tuple[int, ...]:
    values = baseline.get(name)
    if not isinstance(values, list) or not all(
            isinstance(value, int) and not isinstance(value, bool) for value in values):
        raise StateFileError(f"baseline.{name}: expected a list of integers")
    return tuple(values)


def _number(value, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise StateFileError(f"{where}: expected a number, got {value!r}")
    return float(value)
