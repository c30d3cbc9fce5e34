"""The ``backup`` probe (tier 3 and up): each backup repository of a server, against the contract.

Every run lists the snapshots of each of the server's ``backups`` (newest snapshot, how many are
kept). The expensive parts run at the contract's periods (``contract.backups``, the defaults of
:class:`owl.inventory.BackupPolicy` when the contract gives none), not at every run:

- the integrity check when the last one is older than ``check_period``;
- the restore test of ``restore_sample`` (see :mod:`exporters.probes.backup_repository`) when
  the last one is older than ``restore_test_period``; no sample, no restore test.

A failed check or restore test is tried again at the next run, so a repaired repository is seen
within one probe interval. A check that finds the repository locked (a backup in progress) is
postponed to the next run, keeping the previous result. The last results live in the exporter's
memory and, with ``owl exporter --storage.path DIR``, in ``DIR/backup-state.json``
(:mod:`exporters.probes.backup_state`): a restarted exporter then runs only the checks and restore
tests that are due (a failed one always is). Without it, the first run after a restart checks and
restore-tests every repository again.

``tool: status_file`` backups are read from the JSON file the backup job writes
(:mod:`exporters.probes.backup_status_file`); the exporter runs no check or restore of its own.

A run succeeds when every repository (or status file) of the server could be read; a failed check
or restore test is a finding of a successful run, exported with its time.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from dataclasses import dataclass
from typing import Callable

from exporters.probe import ProbeError, ProbeKind, ProbeResult
from exporters.probes.backup_borg import BorgRepository
from exporters.probes.backup_repository import (Outcome, Repository, RepositoryLocked, Snapshot,
                                                restore_test)
from exporters.probes.backup_restic import ResticRepository
from exporters.probes.backup_state import BackupState, BackupStateFile
from exporters.probes.backup_status_file import read_status_file
from exporters.targets import Target
from owl.inventory import DEFAULT_PROBE_INTERVALS, Backup, BackupPolicy

INTERVAL = DEFAULT_PROBE_INTERVALS["backup"]
# Checks and restore tests of big repositories take long; each command has its own timeout
# (backup_restic, backup_borg), this bounds a server's whole run.
TIMEOUT = 4 * 3600.0
MIN_TIER = 3


@dataclass(frozen=True)
class BackupReport:
    """One backup of a server as the latest run saw it. ``error``: it could not be read."""

    id: str
    tool: str
    policy: BackupPolicy
    snapshots: int | None = None
    last_snapshot: float | None = None
    check: Outcome | None = None
    restore_test: Outcome | None = None
    error: str = ""


def open_repository(backup: Backup) -> Repository:
    if backup.tool == "restic":
        return ResticRepository(backup.repository, backup.password_file)
    if backup.tool == "borg":
        return BorgRepository(backup.repository, backup.password_file)
    raise ValueError(f"no repository for tool {backup.tool!r}")


def has_backups(target: Target) -> bool:
    return bool(target.server.backups)


class BackupProbe:
    """Runs of the ``backup`` probe, remembering the last check and restore test per backup,
    in ``state_file`` too when given."""

    def __init__(self, clock: Callable[[], float] = time.time,
                 repositories: Callable[[Backup], Repository] = open_repository,
                 state_file: BackupStateFile | None = None):
        self._clock = clock
        self._open = repositories
        self._lock = threading.Lock()
        self._state_file = state_file
        state = state_file.load() if state_file is not None else BackupState()
        self._checks: dict[str, Outcome] = state.checks
        self._restores: dict[str, Outcome] = state.restores

    def __call__(self, target: Target) -> ProbeResult:
        policy = target.client.contract.backups or BackupPolicy()
        reports = tuple(self.report(target, backup, policy) for backup in target.server.backups)
        errors = [f"backup {report.id}: {report.error}" for report in reports if report.error]
        return ProbeResult(not errors, reports, "; ".join(errors))

    def report(self, target: Target, backup: Backup, policy: BackupPolicy) -> BackupReport:
        if backup.tool == "status_file":
            return _from_status_file(backup, policy)
        key = f"{target.key}/{backup.id}"
        repository = self._open(backup)
        try:
            snapshots = repository.snapshots()
        except ProbeError as exc:
            return BackupReport(backup.id, backup.tool, policy, check=self._last(self._checks, key),
                                restore_test=self._last(self._restores, key), error=str(exc))
        check = self._check_if_due(key, repository, policy.check_period)
        restore = self._restore_test_if_due(key, repository, snapshots, backup.restore_sample,
                                            policy.restore_test_period)
        newest = max((snapshot.time for snapshot in snapshots), default=None)
        return BackupReport(backup.id, backup.tool, policy, len(snapshots), newest, check, restore)

    def _check_if_due(self, key: str, repository: Repository,
                      period: dt.timedelta) -> Outcome | None:
        last = self._last(self._checks, key)
        if not self._due(last, period):
            return last
        try:
            passed, error = repository.check()
        except RepositoryLocked:
            return last
        except ProbeError as exc:  # timed out, or the tool could not run: not a passed check
            passed, error = False, str(exc)
        return self._record(self._checks, key, Outcome(self._clock(), passed, error))

    def _restore_test_if_due(self, key: str, repository: Repository, snapshots: list[Snapshot],
                             sample: str | None, period: dt.timedelta) -> Outcome | None:
        last = self._last(self._restores, key)
        if sample is None or not self._due(last, period):
            return last
        return self._record(self._restores, key,
                            restore_test(repository, snapshots, sample, self._clock))

    def _due(self, last: Outcome | None, period: dt.timedelta) -> bool:
        return (last is None or not last.success
                or self._clock() - last.time >= period.total_seconds())

    def _last(self, store: dict[str, Outcome], key: str) -> Outcome | None:
        with self._lock:
            return store.get(key)

    def _record(self, store: dict[str, Outcome], key: str, outcome: Outcome) -> Outcome:
        with self._lock:
            store[key] = outcome
            if self._state_file is not None:
                self._state_file.save(BackupState(self._checks, self._restores))
        return outcome


def _from_status_file(backup: Backup, policy: BackupPolicy) -> BackupReport:
    try:
        status = read_status_file(backup.repository)
    except ProbeError as exc:
        return BackupReport(backup.id, backup.tool, policy, error=str(exc))
    return BackupReport(backup.id, backup.tool, policy, status.snapshots, status.last_snapshot,
                        status.last_check, status.last_restore_test)


def backup_probe(interval: dt.timedelta = INTERVAL, timeout: float = TIMEOUT,
                 clock: Callable[[], float] = time.time,
                 state_file: BackupStateFile | None = None) -> ProbeKind:
    return ProbeKind("backup", BackupProbe(clock, state_file=state_file), interval, timeout,
                     target_kind="server", min_tier=MIN_TIER, wants=has_backups)


def backup_kind(context) -> ProbeKind:
    """The ``backup`` kind on servers with backups of tier 3 and up, on the inventory's schedule,
    timed by the exporter's clock, its results kept in the exporter's storage folder if any."""
    state_file = BackupStateFile(context.storage_path) if context.storage_path else None
    return backup_probe(clock=lambda: context.clock().timestamp(),
                        state_file=state_file).scheduled(context.schedule("backup"))
