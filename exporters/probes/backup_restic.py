"""A restic repository, through the ``restic`` command (Debian package ``restic``, 0.14 and later).

The repository and the password file go to restic in its environment (``RESTIC_REPOSITORY``,
``RESTIC_PASSWORD_FILE``), never on its command line. Commands:

- snapshots: ``restic snapshots --json --no-lock``;
- integrity check: ``restic check`` (index, pack files, snapshots and trees; data packs are read
  by the restore test, for the sample);
- restore test: ``restic restore ID --target DIR --include SAMPLE --verify``, and
  ``restic dump --no-lock ID SAMPLE`` for the SHA-256 the snapshot holds.

``restore_sample`` is a path as ``restic ls latest`` prints it: ``restic backup /var/www`` holds
``/var/www/index.php`` (a relative path is stored as given, from ``/``).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from exporters.probe import ProbeError
from exporters.probes.backup_command import (ToolError, child_environment, find_tool, run_tool,
                                             summary)
from exporters.probes.backup_repository import (RepositoryLocked, Snapshot, restored_file,
                                                sha256_file)

LIST_TIMEOUT = 120.0
CHECK_TIMEOUT = 3600.0
RESTORE_TIMEOUT = 1800.0


class ResticRepository:
    tool = "restic"

    def __init__(self, repository: str, password_file: str):
        self._env = child_environment({"RESTIC_REPOSITORY": repository,
                                       "RESTIC_PASSWORD_FILE": password_file})
        self._password_file = password_file

    def _run(self, *args: str, timeout: float, **kwargs):
        if not Path(self._password_file).is_file():
            raise ToolError(f"password_file {self._password_file} does not exist")
        return run_tool([find_tool("restic"), *args], self._env, timeout, **kwargs)

    def snapshots(self) -> list[Snapshot]:
        output = self._run("snapshots", "--json", "--no-lock", timeout=LIST_TIMEOUT)
        if output.returncode != 0:
            raise ToolError(f"restic snapshots: {summary(output.stderr)}")
        try:
            return [Snapshot(item["id"], parse_time(item["time"]))
                    for item in json.loads(output.stdout)]
        except (ValueError, TypeError, KeyError) as exc:
            raise ProbeError(f"restic snapshots: unexpected JSON ({exc})") from None

    def check(self) -> tuple[bool, str]:
        output = self._run("check", timeout=CHECK_TIMEOUT)
        if output.returncode == 0:
            return True, ""
        if "already locked" in output.stderr:
            raise RepositoryLocked(f"restic check: {summary(output.stderr)}")
        return False, f"restic check: {summary(output.stderr)}"

    def restore(self, snapshot: Snapshot, sample: str, folder: Path) -> tuple[Path, str]:
        sample = "/" + sample.lstrip("/")
        output = self._run("restore", snapshot.id, "--target", str(folder), "--include", sample,
                           "--verify", timeout=RESTORE_TIMEOUT)
        if output.returncode != 0:
            raise ToolError(f"restic restore: {summary(output.stderr)}")
        path = restored_file(folder, sample)
        if not path.exists():
            return path, ""
        dumped = folder.parent / "dumped"
        output = self._run("dump", "--no-lock", snapshot.id, sample, timeout=RESTORE_TIMEOUT,
                           stdout_path=dumped)
        if output.returncode != 0:
            raise ToolError(f"restic dump: {summary(output.stderr)}")
        return path, sha256_file(dumped)


def parse_time(text: str) -> float:
    """restic's RFC 3339 times carry nanoseconds, which Python 3.11 cuts to microseconds."""
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    return when.timestamp()
