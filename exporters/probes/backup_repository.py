"""What the backup probe asks of a repository, whatever the tool, and the restore-test verdict.

A repository (:class:`exporters.probes.backup_restic.ResticRepository`,
:class:`exporters.probes.backup_borg.BorgRepository`) lists its snapshots, runs its integrity check
and restores one path of a snapshot into a folder, giving the SHA-256 the snapshot holds for it.

The restore test (:func:`restore_test`) restores ``restore_sample`` from the newest snapshot into a
private temporary folder, then compares the SHA-256 of the restored file with the SHA-256 of the
content the snapshot holds for that path, read a second way by the tool (``restic dump``, borg's
``{sha256}`` of ``borg list``). Both tools also check every chunk against the hash recorded for it
while reading (restic ``restore --verify``, borg's chunk id check), so altered repository data
fails the test even when the repository's structure is sound. The live file on the server is not
used: the exporter does not run on the managed servers, and a file that changed since the backup
would be a false alarm.
"""

from __future__ import annotations

import hashlib
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

from exporters.probe import ProbeError


class RepositoryLocked(ProbeError):
    """Another process (a backup in progress) holds the lock a check needs: try again later."""


@dataclass(frozen=True)
class Snapshot:
    """A snapshot (restic) or archive (borg): its id or name, and when it was taken (Unix time)."""

    id: str
    time: float


@dataclass(frozen=True)
class Outcome:
    """The result of an integrity check or a restore test, and when it ended (Unix time)."""

    time: float
    success: bool
    error: str = ""


class Repository(Protocol):
    tool: str

    def snapshots(self) -> list[Snapshot]:
        """Every snapshot of the repository; raise ProbeError if it cannot be read."""

    def check(self) -> tuple[bool, str]:
        """Run the integrity check: (passed, the tool's message when it did not)."""

    def restore(self, snapshot: Snapshot, sample: str, folder: Path) -> tuple[Path, str]:
        """Restore ``sample`` of ``snapshot`` under ``folder``: (restored file, expected SHA-256).
        Raise ProbeError when the tool fails."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def restored_file(folder: Path, sample: str) -> Path:
    """Where a tool puts ``sample`` when it restores into ``folder`` (both keep the full path)."""
    return folder / sample.lstrip("/")


def restore_test(repository: Repository, snapshots: list[Snapshot], sample: str,
                 clock: Callable[[], float]) -> Outcome:
    """Restore ``sample`` from the newest snapshot and verify it by hash; never raises."""
    if not snapshots:
        return Outcome(clock(), False, "no snapshot to restore from")
    newest = max(snapshots, key=lambda snapshot: snapshot.time)
    with tempfile.TemporaryDirectory(prefix="owl-restore-test-") as tmp:
        try:
            path, expected = repository.restore(newest, sample, Path(tmp) / "restored")
            error = _verify(path, expected, sample)
        except ProbeError as exc:
            error = str(exc)
    return Outcome(clock(), not error, error)


def _verify(path: Path, expected: str, sample: str) -> str:
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return f"restore_sample {sample!r} is not in the newest snapshot"
    if not stat.S_ISREG(mode):
        return f"restore_sample {sample!r} is not a regular file in the snapshot"
    actual = sha256_file(path)
    if actual != expected:
        return (f"restored {sample!r} has SHA-256 {actual[:16]}..., the snapshot holds "
                f"{expected[:16]}...")
    return ""
