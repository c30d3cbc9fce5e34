"""The backup probe's last integrity checks and restore tests, kept in a file across restarts.

With ``owl exporter --storage.path DIR`` the probe keeps them in ``DIR/backup-state.json``::

    {"version": 1,
     "checks": {"acme/web1/nightly": {"time": 1772452800.0, "success": true, "error": ""}},
     "restores": {"acme/web1/nightly": {"time": 1772452800.0, "success": false, "error": "..."}}}

keyed ``client/server/backup``, times in Unix seconds. The file is a cache of results the probe can
compute again: one that cannot be read is logged and ignored, never fatal.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path

from exporters.probes.backup_repository import Outcome
from owl.files import write_atomically

log = logging.getLogger(__name__)
STATE_FILE = "backup-state.json"
VERSION = 1


class StateFileError(ValueError):
    """The state file is not a backup state this version of the exporter writes."""


@dataclass
class BackupState:
    """The last check and restore test per ``client/server/backup``."""

    checks: dict[str, Outcome] = field(default_factory=dict)
    restores: dict[str, Outcome] = field(default_factory=dict)


class BackupStateFile:
    """``backup-state.json`` in ``folder``: read once at start, written after every new outcome."""

    def __init__(self, folder: str | Path):
        self.path = Path(folder) / STATE_FILE

    def load(self) -> BackupState:
        """The saved state; an empty one when there is no file or it cannot be used."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return BackupState()
        except (OSError, UnicodeDecodeError) as exc:
            return self._ignored(f"cannot be read: {exc}")
        try:
            return parse_state(json.loads(text))
        except json.JSONDecodeError as exc:
            return self._ignored(f"not JSON: {exc}")
        except StateFileError as exc:
            return self._ignored(str(exc))

    def save(self, state: BackupState) -> None:
        """Replace the file with ``state``. A failure is logged: the results stay in memory."""
        document = {"version": VERSION,
                    "checks": {key: asdict(outcome) for key, outcome in state.checks.items()},
                    "restores": {key: asdict(outcome) for key, outcome in state.restores.items()}}
        try:
            # the tools' error messages name repositories and hosts: for the exporter's eyes only
            write_atomically(self.path, json.dumps(document, indent=1, sort_keys=True) + "\n",
                             mode=0o600)
        except OSError as exc:
            log.warning("backup state file %s cannot be written: %s", self.path, exc)

    def _ignored(self, problem: str) -> BackupState:
        log.warning("ignoring backup state file %s: %s (checks and restore tests run again "
                    "when due)", self.path, problem)
        return BackupState()


def parse_state(document) -> BackupState:
    """The state a JSON document holds; StateFileError naming the first field that is wrong."""
    if not isinstance(document, dict):
        raise StateFileError("(top level): expected a JSON object")
    if document.get("version") != VERSION:
        raise StateFileError(f"version: expected {VERSION}, got {document.get('version')!r}")
    return BackupState(_outcomes(document, "checks"), _outcomes(document, "restores"))


def _outcomes(document: dict, name: str) -> dict[str, Outcome]:
    outcomes = document.get(name, {})
    if not isinstance(outcomes, dict):
        raise StateFileError(f"{name}: expected an object")
    return {key: _outcome(value, f"{name}[{key!r}]") for key, value in outcomes.items()}


def _outcome(value, where: str) -> Outcome:
    if not isinstance(value, dict):
        raise StateFileError(f"{where}: expected an object")
    time, success, error = value.get("time"), value.get("success"), value.get("error", "")
    if isinstance(time, bool) or not isinstance(time, (int, float)):
        raise StateFileError(f"{where}.time: expected Unix seconds, got {time!r}")
    if not isinstance(success, bool):
        raise StateFileError(f"{where}.success: expected true or false, got {success!r}")
    if not isinstance(error, str):
        raise StateFileError(f"{where}.error: expected a string, got {error!r}")
    return Outcome(float(time), success, error)
