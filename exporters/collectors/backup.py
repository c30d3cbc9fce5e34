"""What the ``backup`` probe found on each server's backup repositories."""

from __future__ import annotations

from typing import Iterable

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from exporters.collectors import add, gauge
from exporters.probe import ResultCache


class BackupCollector(Collector):
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

    def __init__(self, cache: ResultCache, context=None):
        self.cache = cache

    def collect(self) -> Iterable[Metric]:
        last_snapshot = gauge("owl_backup_last_snapshot_timestamp_seconds",
                              "When the newest snapshot of the backup was taken, in Unix time.")
        snapshots = gauge("owl_backup_snapshots", "Snapshots kept in the backup repository.")
        last_check = gauge("owl_backup_last_check_timestamp_seconds",
                           "When the latest integrity check of the backup ended, in Unix time.")
        check = gauge("owl_backup_check_success",
                      "Whether the latest integrity check of the backup passed.")
        last_restore = gauge("owl_backup_last_restore_test_timestamp_seconds",
                             "When the latest restore test of the backup ended, in Unix time.")
        restore = gauge("owl_backup_restore_test_success",
                        "Whether the latest restore test restored the sample with the right hash.")
        policy = {
            "period": gauge("owl_backup_policy_period_seconds",
                            "Contract: how often a backup must be taken."),
            "grace": gauge("owl_backup_policy_grace_seconds",
                           "Contract: lateness tolerated beyond the backup period."),
            "retention": gauge("owl_backup_policy_retention", "Contract: snapshots to keep."),
            "check_period": gauge("owl_backup_policy_check_period_seconds",
                                  "Contract: how often the backup's integrity must be checked."),
            "restore_test_period": gauge("owl_backup_policy_restore_test_period_seconds",
                                         "Contract: how often a restore must be tested."),
        }
        for run in self.cache.runs("backup"):
            for report in run.result.data or ():
                labels = {**run.target.labels(), "backup": report.id}
                for name, metric in policy.items():
                    value = getattr(report.policy, name)
                    add(metric, labels, value if name == "retention" else value.total_seconds())
                labels = {**labels, "tool": report.tool}
                if report.snapshots is not None:
                    add(snapshots, labels, report.snapshots)
                if report.last_snapshot is not None:
                    add(last_snapshot, labels, report.last_snapshot)
                if report.check is not None:
                    add(last_check, labels, report.check.time)
                    add(check, labels, 1 if report.check.success else 0)
                if report.restore_test is not None:
                    add(last_restore, labels, report.restore_test.time)
                    add(restore, labels, 1 if report.restore_test.success else 0)
        yield from (last_snapshot, snapshots, last_check, check, last_restore, restore,
                    *policy.values())
