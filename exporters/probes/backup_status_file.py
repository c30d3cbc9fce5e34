"""The JSON status file of a backup tool the exporter cannot query itself (``tool: status_file``).

The backup job writes it after every run (and after its own checks and restore tests), on a path
the exporter can read; the inventory's ``repository`` names that path. Schema, version 1::

    {
      "version": 1,                                  # required, 1
      "snapshots": 14,                               # required, integer >= 0: backups kept
      "last_snapshot": "2025-06-01T02:13:00Z",       # required when snapshots > 0: RFC 3339,
                                                     #   with Z or an offset (+02:00)
      "last_check": {"time": "2025-05-31T03:00:00+02:00", "success": true},         # optional
      "last_restore_test": {"time": "2025-05-15T04:00:00Z", "success": false},      # optional
      "tool": "pg_dump + rclone"                     # optional, for people; not exported
    }

``last_check`` is the latest integrity check the job ran and ``last_restore_test`` its latest
restore test (``success`` false if the restored data did not match). Leave a key out when the job
never does that: the exporter then exports no series for it, and the contract's rules see none.
Other keys are refused, so a misspelt key is an error instead of a silently missing check.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from exporters.probe import ProbeError
from exporters.probes.backup_repository import Outcome

MAX_BYTES = 64 * 1024
_KEYS = {"version", "snapshots", "last_snapshot", "last_check", "last_restore_test", "tool"}


@dataclass(frozen=True)
class StatusFile:
    snapshots: int
    last_snapshot: float | None
    last_check: Outcome | None
    last_restore_test: Outcome | None


class StatusFileError(ProbeError):
    def __init__(self, path: str, where: str, message: str):
        super().__init__(f"status file {path}: {where}: {message}")


def read_status_file(path: str) -> StatusFile:
    """Read and validate the status file at ``path``; StatusFileError names the faulty field."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise StatusFileError(path, "(file)", f"cannot read it: {exc.strerror}") from None
    if len(raw) > MAX_BYTES:
        raise StatusFileError(path, "(file)", f"larger than {MAX_BYTES} bytes")
    try:
        document = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StatusFileError(path, "(file)", f"not JSON: {exc}") from None
    return parse_status(document, path)


def parse_status(document, path: str = "<status>") -> StatusFile:
    if not isinstance(document, dict):
        raise StatusFileError(path, "(top level)", "expected a JSON object")
    unknown = sorted(set(document) - _KEYS)
    if unknown:
        raise StatusFileError(path, unknown[0], "unknown key (expected one of: "
                              + ", ".join(sorted(_KEYS)) + ")")
    if document.get("version") != 1:
        raise StatusFileError(path, "version", f"expected 1, got {document.get('version')!r}")
    snapshots = document.get("snapshots")
    if isinstance(snapshots, bool) or not isinstance(snapshots, int) or snapshots < 0:
        raise StatusFileError(path, "snapshots", f"expected an integer >= 0, got {snapshots!r}")
    last_snapshot = None
    if snapshots > 0 or "last_snapshot" in document:
        last_snapshot = _time(document.get("last_snapshot"), path, "last_snapshot")
    return StatusFile(snapshots, last_snapshot,
                      _outcome(document, "last_check", path),
                      _outcome(document, "last_restore_test", path))


def _outcome(document: dict, key: str, path: str) -> Outcome | None:
    if key not in document:
        return None
    value = document[key]
    if not isinstance(value, dict) or set(value) != {"time", "success"}:
        raise StatusFileError(path, key, 'expected {"time": "...", "success": true|false}')
    if not isinstance(value["success"], bool):
        raise StatusFileError(path, f"{key}.success",
                              f"expected true or false, got {value['success']!r}")
    error = "" if value["success"] else "failed, as the status file says"
    return Outcome(_time(value["time"], path, f"{key}.time"), value["success"], error)


def _time(value, path: str, where: str) -> float:
    expected = "expected an RFC 3339 time with Z or an offset, such as \"2025-06-01T02:13:00Z\""
    if not isinstance(value, str):
        raise StatusFileError(path, where, f"{expected}, got {value!r}")
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise StatusFileError(path, where, f"{expected}, got {value!r}") from None
    if when.tzinfo is None or "T" not in value:
        raise StatusFileError(path, where, f"{expected}, got {value!r}")
    return when.timestamp()
