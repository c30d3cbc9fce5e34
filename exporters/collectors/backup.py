"""What the ``backup`` probe found on each server's backup repositories."""

from __future__ import annotations

from typing import Iterable

from exporters.collectors import SERVER, CacheCollector, Gauge

BACKUP = (*SERVER, "backup")
TOOL = (*BACKUP, "tool")
# each field of the contract's BackupPolicy: its family's name and help
POLICY = {
    "period": ("owl_backup_policy_period_seconds", "Contract: how often a backup must be taken."),
    "grace": ("owl_backup_policy_grace_seconds",
              "Contract: lateness tolerated beyond the backup period."),
    "retention": ("owl_backup_policy_retention", "Contract: snapshots to keep."),
    "check_period": ("owl_backup_policy_check_period_seconds",
                     "Contract: how often the backup's integrity must be checked."),
    "restore_test_period": ("owl_backup_policy_restore_test_period_seconds",
                            "Contract: how often a restore must be tested."),
}


class BackupCollector(CacheCollector):
    """Series of the latest ``backup`` run on each server, per backup (``backup`` = its id,
    ``tool`` = ``restic`` | ``borg`` | ``status_file``).

    - ``owl_backup_last_snapshot_timestamp_seconds{client, server, backup, tool}``: the newest
      snapshot's time (none while the repository holds no snapshot).
    - ``owl_backup_snapshots{client, server, backup, tool}``: how many snapshots are kept.
    - ``owl_backup_last_check_timestamp_seconds`` and ``owl_backup_check_success``
      ``{client, server, backup, tool}``: when the latest integrity check ended, and whether it
      passed.
    - ``owl_backup_last_restore_test_timestamp_seconds`` and ``owl_backup_restore_test_success``
      ``{client, server, backup, tool}``: the same for the latest hash-verified restore test.
    - ``owl_backup_policy_period_seconds``, ``owl_backup_policy_grace_seconds``,
      ``owl_backup_policy_retention``, ``owl_backup_policy_check_period_seconds``,
      ``owl_backup_policy_restore_test_period_seconds`` ``{client, server, backup}``: the
      contract's policy, for rules to compare against.

    Snapshot series come from the latest run only: a repository that could not be read this time
    has none (and ``owl_probe_success{probe="backup"}`` is 0). Check and restore-test series are
    the latest results, with their own timestamps, as long as the exporter has one.
    """

    @staticmethod
    def families() -> tuple[Gauge, ...]:
        return (
            Gauge("owl_backup_last_snapshot_timestamp_seconds",
                  "When the newest snapshot of the backup was taken, in Unix time.", TOOL),
            Gauge("owl_backup_snapshots", "Snapshots kept in the backup repository.", TOOL),
            Gauge("owl_backup_last_check_timestamp_seconds",
                  "When the latest integrity check of the backup ended, in Unix time.", TOOL),
            Gauge("owl_backup_check_success",
                  "Whether the latest integrity check of the backup passed.", TOOL),
            Gauge("owl_backup_last_restore_test_timestamp_seconds",
                  "When the latest restore test of the backup ended, in Unix time.", TOOL),
            Gauge("owl_backup_restore_test_success",
                  "Whether the latest restore test restored the sample with the right hash.",
                  TOOL),
            *(Gauge(name, documentation, BACKUP) for name, documentation in POLICY.values()),
        )

    def collect(self) -> Iterable[Gauge]:
        (last_snapshot, snapshots, last_check, check, last_restore, restore,
         *policy_families) = families = self.families()
        policy = dict(zip(POLICY, policy_families, strict=True))
        for run in self.cache.runs("backup"):
            for report in run.result.data or ():
                labels = {**run.target.labels(), "backup": report.id}
                for name, family in policy.items():
                    value = getattr(report.policy, name)
                    family.add(labels, value if name == "retention" else value.total_seconds())
                labels = {**labels, "tool": report.tool}
                if report.snapshots is not None:
                    snapshots.add(labels, report.snapshots)
                if report.last_snapshot is not None:
                    last_snapshot.add(labels, report.last_snapshot)
                if report.check is not None:
                    last_check.add(labels, report.check.time)
                    check.add(labels, 1 if report.check.success else 0)
                if report.restore_test is not None:
                    last_restore.add(labels, report.restore_test.time)
                    restore.add(labels, 1 if report.restore_test.success else 0)
        return families
