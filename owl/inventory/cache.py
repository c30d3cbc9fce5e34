"""Validated inventories kept between commands, keyed by the file's bytes and the loading code.

Every ``owl`` command and the bridge's start load the inventory; at 10,000 clients parsing and
validating it takes about 1.8 s, reading back the validated objects 0.2 s. An inventory depends
on nothing but its text and the code that loads it (the file name only appears in errors, and an
inventory with errors is never kept), so the entry for a text is valid as long as the text and
the code are the same: the key is a digest of both.

The folder is ``$OWL_CACHE_DIR``, else ``$XDG_CACHE_HOME/owl``, else ``~/.cache/owl``;
``OWL_CACHE_DIR=off`` turns the cache off. Entries are pickles, which run code when read, so a
folder or entry that someone else could have written (another owner, writable by group or
others) is never read. Any failure to read or write an entry only means parsing as without it.
"""

from __future__ import annotations

import hashlib
import logging
import os
import pickle
import stat
import sys
from pathlib import Path

import holidays
import pydantic

from owl.files import write_atomically

log = logging.getLogger("owl.inventory")

OFF = "off"
KEPT = 8  # entries kept: the inventories loaded last (a few files, or versions of one)
_PACKAGE = Path(__file__).resolve().parent.parent  # the owl package: inventory and what it uses
_code_digest: str | None = None


def cache_dir() -> Path | None:
    """The cache folder, or None when the cache is off."""
    configured = os.environ.get("OWL_CACHE_DIR")
    if configured == OFF:
        return None
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = Path.home() / ".cache"
        except RuntimeError:  # no home (a service user without one): no cache
            return None
    return Path(base) / "owl"


def lookup(content: bytes):
    """The inventory validated earlier from ``content``, or None."""
    entry = _entry(content)
    if entry is None or not _trusted(entry.parent) or not _trusted(entry):
        return None
    try:
        key, inventory = pickle.loads(entry.read_bytes())
        if key != _key(content):
            return None
        os.utime(entry)  # read last: kept longest by the pruning
    except Exception:  # a truncated, foreign or outdated entry: parse instead
        return None
    return inventory


def store(content: bytes, inventory) -> None:
    """Keep ``inventory``, validated from ``content``, for the next load."""
    entry = _entry(content)
    if entry is None:
        return
    try:
        entry.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if _trusted(entry.parent):
            write_atomically(entry, pickle.dumps((_key(content), inventory), protocol=5),
                             mode=0o600)
            _prune(entry.parent)
    except (OSError, pickle.PicklingError) as exc:
        log.debug("inventory cache not written: %s", exc)


def _prune(folder: Path) -> None:
    """Remove all but the :data:`KEPT` entries written last."""
    entries = sorted(folder.glob("inventory-*.pickle"), key=lambda path: path.stat().st_mtime)
    for old in entries[:-KEPT]:
        old.unlink(missing_ok=True)


def _entry(content: bytes) -> Path | None:
    folder = cache_dir()
    return None if folder is None else folder / f"inventory-{_key(content)[:32]}.pickle"


def _key(content: bytes) -> str:
    return hashlib.sha256(_code().encode() + b"\0" + content).hexdigest()


def _code() -> str:
    """A digest of the loading code: the owl package's sources and the libraries it builds on."""
    global _code_digest
    if _code_digest is None:
        # each pydantic release requires one exact pydantic-core: its version stands for both
        digest = hashlib.sha256(f"{sys.version}|{pydantic.VERSION}|{holidays.__version__}"
                                .encode())
        for source in sorted(_PACKAGE.rglob("*.py")):
            digest.update(source.relative_to(_PACKAGE).as_posix().encode())
            digest.update(source.read_bytes())
        _code_digest = digest.hexdigest()
    return _code_digest


def _trusted(path: Path) -> bool:
    """``path`` exists, is ours, and no one else may write to it."""
    try:
        status = path.lstat()
    except OSError:
        return False
    return status.st_uid == os.getuid() and not status.st_mode & (stat.S_IWGRP | stat.S_IWOTH) \
        and (stat.S_ISDIR(status.st_mode) or stat.S_ISREG(status.st_mode))
