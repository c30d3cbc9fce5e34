"""A borg repository, through the ``borg`` command (Debian package ``borgbackup``, borg 1.2).

The repository goes to borg as ``BORG_REPO``; the passphrase, when the inventory gives a
``password_file``, as ``BORG_PASSCOMMAND`` (``cat FILE``: borg reads the file itself), all in the
child's environment only. Without ``password_file`` the passphrase is empty, which suits
unencrypted repositories and keyfile repositories without a passphrase. Borg runs with ``TZ=UTC``:
the times of ``borg list --json`` carry no offset and are in the local time of the process.
Commands:

- archives: ``borg list --json``;
- integrity check: ``borg check`` (repository segments and archive metadata);
- restore test: ``borg extract ::ARCHIVE SAMPLE`` in an empty folder, and
  ``borg list --format {sha256} ::ARCHIVE SAMPLE`` for the SHA-256 the archive holds.

``restore_sample`` is a path as ``borg list ::ARCHIVE`` prints it (borg drops the leading ``/``;
one is accepted and ignored).
"""

from __future__ import annotations

import datetime as dt
import json
import shlex
from pathlib import Path

from exporters.probe import ProbeError
from exporters.probes.backup_command import (ToolError, child_environment, find_tool, run_tool,
                                             summary)
from exporters.probes.backup_repository import RepositoryLocked, Snapshot, restored_file

LIST_TIMEOUT = 120.0
CHECK_TIMEOUT = 3600.0
RESTORE_TIMEOUT = 1800.0
LOCK_WAIT_SECONDS = "10"


class BorgRepository:
    tool = "borg"

    def __init__(self, repository: str, password_file: str | None):
        secret = ({"BORG_PASSCOMMAND": f"cat {shlex.quote(password_file)}"} if password_file
                  else {"BORG_PASSPHRASE": ""})
        self._env = child_environment({
            "BORG_REPO": repository, **secret, "TZ": "UTC",
            # reading an unencrypted repository is harmless; a moved one is refused
            "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
            "BORG_RELOCATED_REPO_ACCESS_IS_OK": "no"})
        self._password_file = password_file

    def _run(self, *args: str, timeout: float, **kwargs):
        if self._password_file and not Path(self._password_file).is_file():
            raise ToolError(f"password_file {self._password_file} does not exist")
        return run_tool([find_tool("borg"), *args], self._env, timeout, **kwargs)

    def snapshots(self) -> list[Snapshot]:
        output = self._run("list", "--json", "--lock-wait", LOCK_WAIT_SECONDS,
                           timeout=LIST_TIMEOUT)
        if output.returncode != 0:
            raise ToolError(f"borg list: {summary(output.stderr)}")
        try:
            return [Snapshot(archive["name"], _utc(archive["time"]))
                    for archive in json.loads(output.stdout)["archives"]]
        except (ValueError, TypeError, KeyError) as exc:
            raise ProbeError(f"borg list: unexpected JSON ({exc})") from None

    def check(self) -> tuple[bool, str]:
        output = self._run("check", "--lock-wait", LOCK_WAIT_SECONDS, timeout=CHECK_TIMEOUT)
        if output.returncode == 0:
            return True, ""
        if "Failed to create/acquire the lock" in output.stderr:
            raise RepositoryLocked(f"borg check: {summary(output.stderr)}")
        return False, f"borg check: {summary(output.stderr)}"

    def restore(self, snapshot: Snapshot, sample: str, folder: Path) -> tuple[Path, str]:
        sample = sample.lstrip("/")
        folder.mkdir(parents=True)
        archive = f"::{snapshot.id}"
        output = self._run("extract", archive, sample, timeout=RESTORE_TIMEOUT, cwd=folder)
        if output.returncode != 0 and "Include pattern" in output.stderr:
            return restored_file(folder, sample), ""  # never matched: not in the archive
        if output.returncode != 0:
            raise ToolError(f"borg extract: {summary(output.stderr)}")
        output = self._run("list", "--format", "{sha256}{NL}", archive, sample,
                           timeout=RESTORE_TIMEOUT)
        if output.returncode != 0:
            raise ToolError(f"borg list: {summary(output.stderr)}")
        hashes = output.stdout.decode().split()
        if len(hashes) != 1:
            raise ProbeError(f"restore_sample {sample!r} must name one file of the archive")
        return restored_file(folder, sample), hashes[0]


def _utc(text: str) -> float:
    when = dt.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return when.timestamp()
