"""The backup probe against real restic and borg repositories made in the test's folder."""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from prometheus_client import generate_latest

from exporters.app import Exporter, build_registry
from exporters.probe import ResultCache, run_probe
from exporters.probes.backup import BackupProbe, backup_probe, open_repository
from exporters.probes.backup_state import BackupStateFile
from exporters.probes.backup_status_file import StatusFileError, parse_status
from exporters.targets import Target
from owl.inventory import Inventory, parse_inventory
from tests.fixtures.backups.repositories import (BORG_SAMPLE, RESTIC_SAMPLE, SAMPLE_CONTENT,
                                                 borg_repository, corrupt_packs, make_source,
                                                 restic_template)
from tests.support.binaries import require_binary

NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.timezone.utc).timestamp()
HOUR, DAY = 3600.0, 86400.0
WEB1 = {"client": "acme", "server": "web1"}


class Clock:
    def __init__(self, now: float = NOW):
        self.now = now

    def __call__(self) -> float:
        return self.now


def backup_inventory(backups: list[dict], tier: int = 3, policy: dict | None = None) -> Inventory:
    """The client acme and its server web1 with ``backups``."""
    contract = {"tier": tier, "monthly_fee": "900.00", "quote": "DEV-1", "start": "2025-01-01"}
    if policy is not None:
        contract["backups"] = policy
    document = {"provider": {"name": "OWL TEST"}, "clients": [{
        "id": "acme", "name": "Acme", "contract": contract,
        "servers": [{"id": "web1", "address": "127.0.0.1", "backups": backups}]}]}
    return parse_inventory(yaml.safe_dump(document).replace("'2025-01-01'", "2025-01-01"))


def server_target(backups: list[dict], tier: int = 3, policy: dict | None = None) -> Target:
    client = backup_inventory(backups, tier, policy).clients[0]
    return Target(client, server=client.servers[0])


class CountingRepositories:
    """Opens the real repository of a backup, counting the checks and restores asked of it."""

    def __init__(self):
        self.checks = 0
        self.restores = 0

    def __call__(self, backup):
        return CountedRepository(open_repository(backup), self)


class CountedRepository:
    def __init__(self, repository, counts: CountingRepositories):
        self._repository = repository
        self._counts = counts
        self.tool = repository.tool

    def snapshots(self):
        return self._repository.snapshots()

    def check(self):
        self._counts.checks += 1
        return self._repository.check()

    def restore(self, snapshot, sample, folder):
        self._counts.restores += 1
        return self._repository.restore(snapshot, sample, folder)


class Prober:
    """The backup kind on one server, its cache and registry, on a clock the test moves.
    ``storage``: the exporter's storage folder (``--storage.path``), if any."""

    def __init__(self, target: Target, storage: Path | None = None):
        self.target = target
        self.storage = storage
        self.clock = Clock()
        self.repositories = CountingRepositories()
        state_file = BackupStateFile(storage) if storage is not None else None
        self.kind = replace(backup_probe(clock=self.clock),
                            run=BackupProbe(self.clock, self.repositories, state_file))
        self.cache = ResultCache()
        self.registry = build_registry(self.cache)

    def run(self, after: float = 0.0):
        self.clock.now += after
        return run_probe(self.kind, self.target, self.cache, wall=self.clock)

    def restarted(self) -> Prober:
        """The exporter restarted now: a new probe, cache and registry on the same storage."""
        prober = Prober(self.target, self.storage)
        prober.clock.now = self.clock.now
        return prober

    def value(self, name: str, backup: str = "nightly", tool: str | None = "restic"):
        labels = {**WEB1, "backup": backup, **({"tool": tool} if tool else {})}
        return self.registry.get_sample_value(name, labels)


@pytest.fixture(autouse=True)
def tool_homes(tmp_path, monkeypatch):
    """Borg's and restic's caches and security folders in the test's folder, not in ~."""
    monkeypatch.setenv("BORG_BASE_DIR", str(tmp_path / "borg-base"))
    monkeypatch.setenv("RESTIC_CACHE_DIR", str(tmp_path / "restic-cache"))


# Every restic command spends about half a second deriving its key: the repositories are made once
# per session, shared by the tests that only read them, copied by the tests that change them.

@pytest.fixture(scope="session")
def restic_empty(tmp_path_factory):
    """An initialised repository without snapshots (read only)."""
    require_binary("restic")
    return restic_template(tmp_path_factory.mktemp("restic-empty"))


@pytest.fixture(scope="session")
def restic_snapshotted(restic_empty, tmp_path_factory):
    """Two snapshots of the source, 2026-03-01 and 2026-03-02 at 03:00 UTC (read only)."""
    folder = tmp_path_factory.mktemp("restic-snapshotted")
    repository = restic_empty.copy(folder)
    source = make_source(folder)
    repository.backup(source, time="2026-03-01 03:00:00")
    repository.backup(source, time="2026-03-02 03:00:00")
    repository.packs_by_type = repository.packs()
    return repository


@pytest.fixture
def restic(restic_snapshotted, tmp_path):
    """A copy of the snapshotted repository, for a test that changes it."""
    copy = restic_snapshotted.copy(tmp_path)
    copy.packs_by_type = restic_snapshotted.packs_by_type
    return copy


@pytest.fixture
def source(tmp_path):
    return make_source(tmp_path)


def restic_backup(repository, **extra) -> dict:
    return {"id": "nightly", "tool": "restic", "repository": str(repository.path),
            "password_file": str(repository.password_file), "restore_sample": RESTIC_SAMPLE,
            **extra}


def borg_backup(repository, **extra) -> dict:
    entry = {"id": "nightly", "tool": "borg", "repository": str(repository.path),
             "restore_sample": BORG_SAMPLE, **extra}
    if repository.password_file:
        entry["password_file"] = str(repository.password_file)
    return entry


@pytest.fixture
def borg(tmp_path):
    require_binary("borg")
    return borg_repository(tmp_path)


def test_a_healthy_restic_repository_reports_its_snapshots_check_and_restore_test(
        restic_snapshotted, monkeypatch, tmp_path):
    # the exporter's own restic variables never reach the tool: the inventory's repository wins
    monkeypatch.setenv("RESTIC_REPOSITORY", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("RESTIC_PASSWORD", "the service's password")
    prober = Prober(server_target([restic_backup(restic_snapshotted)]))
    run = prober.run()
    assert run.result.success, run.result.error
    assert prober.value("owl_backup_snapshots") == 2
    assert prober.value("owl_backup_last_snapshot_timestamp_seconds") == \
        dt.datetime(2026, 3, 2, 3, tzinfo=dt.timezone.utc).timestamp()
    assert prober.value("owl_backup_check_success") == 1
    assert prober.value("owl_backup_last_check_timestamp_seconds") == NOW
    assert prober.value("owl_backup_restore_test_success") == 1
    assert prober.value("owl_backup_last_restore_test_timestamp_seconds") == NOW
    assert prober.registry.get_sample_value("owl_probe_success", {"probe": "backup", **WEB1}) == 1


def test_a_healthy_borg_repository_reports_the_same_with_its_archive_times_in_utc(borg, source):
    borg.backup(source, "web1-2026-03-01", timestamp="2026-03-01T03:00:00")
    borg.backup(source, "web1-2026-03-02", timestamp="2026-03-02T03:00:00")
    prober = Prober(server_target([borg_backup(borg)]))
    run = prober.run()
    assert run.result.success, run.result.error
    assert prober.value("owl_backup_snapshots", tool="borg") == 2
    assert prober.value("owl_backup_last_snapshot_timestamp_seconds", tool="borg") == \
        dt.datetime(2026, 3, 2, 3, tzinfo=dt.timezone.utc).timestamp()
    assert prober.value("owl_backup_check_success", tool="borg") == 1
    assert prober.value("owl_backup_restore_test_success", tool="borg") == 1


def test_a_stale_backup_with_too_short_a_retention_is_reported_as_it_is(borg, source):
    borg.backup(source, "web1-2025-12-24", timestamp="2025-12-24T03:00:00")
    borg.backup(source, "web1-2025-12-25", timestamp="2025-12-25T03:00:00")
    prober = Prober(server_target([borg_backup(borg)], policy={"retention": 14}))
    prober.run()
    assert prober.value("owl_backup_last_snapshot_timestamp_seconds", tool="borg") == \
        dt.datetime(2025, 12, 25, 3, tzinfo=dt.timezone.utc).timestamp()
    assert prober.value("owl_backup_snapshots", tool="borg") == 2
    assert prober.value("owl_backup_policy_retention", tool=None) == 14


def status_file_backup(path) -> dict:
    return {"id": "nightly", "tool": "status_file", "repository": str(path)}


@pytest.fixture
def empty_status(tmp_path):
    status = tmp_path / "status.json"
    status.write_text('{"version": 1, "snapshots": 0}')
    return status


def test_the_contract_policy_is_exported_so_rules_need_no_constants(empty_status):
    policy = {"period": "12h", "grace": "2h", "retention": 30, "check_period": "3d",
              "restore_test_period": "14d"}
    prober = Prober(server_target([status_file_backup(empty_status)], policy=policy))
    prober.run()
    assert prober.value("owl_backup_policy_period_seconds", tool=None) == 12 * HOUR
    assert prober.value("owl_backup_policy_grace_seconds", tool=None) == 2 * HOUR
    assert prober.value("owl_backup_policy_retention", tool=None) == 30
    assert prober.value("owl_backup_policy_check_period_seconds", tool=None) == 3 * DAY
    assert prober.value("owl_backup_policy_restore_test_period_seconds", tool=None) == 14 * DAY


def test_without_a_policy_in_the_contract_the_defaults_apply(empty_status):
    prober = Prober(server_target([status_file_backup(empty_status)]))
    prober.run()
    assert prober.value("owl_backup_policy_period_seconds", tool=None) == DAY
    assert prober.value("owl_backup_policy_grace_seconds", tool=None) == 6 * HOUR
    assert prober.value("owl_backup_policy_retention", tool=None) == 7
    assert prober.value("owl_backup_policy_check_period_seconds", tool=None) == 7 * DAY
    assert prober.value("owl_backup_policy_restore_test_period_seconds", tool=None) == 30 * DAY


def test_a_restic_repository_with_a_damaged_tree_pack_fails_its_check(restic):
    corrupt_packs(restic, restic.packs_by_type["tree"])
    prober = Prober(server_target([restic_backup(restic, restore_sample=None)]))
    run = prober.run()
    assert run.result.success, "a failed check is a finding, not a failed probe"
    assert prober.value("owl_backup_check_success") == 0
    assert prober.value("owl_backup_last_check_timestamp_seconds") == NOW
    assert run.result.data[0].check.error.startswith("restic check: ")


@pytest.fixture
def borg_unencrypted(tmp_path, source):
    """A borg repository whose chunk ids are the SHA-256 of their content, with one archive."""
    require_binary("borg")
    repository = borg_repository(tmp_path, encryption="none")
    repository.backup(source, "a1")
    return repository


def test_a_borg_repository_with_a_damaged_segment_fails_its_check(borg_unencrypted):
    borg_unencrypted.alter_chunk(SAMPLE_CONTENT, fix_checksum=False)
    prober = Prober(server_target([borg_backup(borg_unencrypted, restore_sample=None)]))
    run = prober.run()
    assert run.result.success, run.result.error
    assert prober.value("owl_backup_check_success", tool="borg") == 0
    assert run.result.data[0].check.error.startswith("borg check: ")


def test_altered_restic_data_fails_the_restore_test_although_the_check_passes(restic):
    corrupt_packs(restic, restic.packs_by_type["data"])
    prober = Prober(server_target([restic_backup(restic)]))
    run = prober.run()
    assert prober.value("owl_backup_check_success") == 1
    assert prober.value("owl_backup_restore_test_success") == 0
    assert run.result.data[0].restore_test.error.startswith("restic restore: ")


def test_a_borg_chunk_whose_hash_no_longer_matches_fails_the_restore_test(borg_unencrypted):
    borg_unencrypted.alter_chunk(SAMPLE_CONTENT, fix_checksum=True)  # only the hash can tell
    prober = Prober(server_target([borg_backup(borg_unencrypted)]))
    run = prober.run()
    assert prober.value("owl_backup_check_success", tool="borg") == 1
    assert prober.value("owl_backup_restore_test_success", tool="borg") == 0
    assert "id verification failed" in run.result.data[0].restore_test.error


@pytest.mark.parametrize("tool, sample", [("restic", "/source/www/missing.php"),
                                          ("borg", "source/www/missing.php")])
def test_a_sample_that_is_not_in_the_snapshot_fails_the_restore_test_saying_so(
        tool, sample, request, source):
    if tool == "restic":
        entry = restic_backup(request.getfixturevalue("restic_snapshotted"),
                              restore_sample=sample)
    else:
        repository = request.getfixturevalue("borg")
        repository.backup(source, "a1")
        entry = borg_backup(repository, restore_sample=sample)
    run = Prober(server_target([entry])).run()
    outcome = run.result.data[0].restore_test
    assert not outcome.success
    assert outcome.error == f"restore_sample {sample!r} is not in the newest snapshot"


def test_a_repository_without_snapshots_fails_the_restore_test_and_has_no_snapshot_time(
        restic_empty):
    prober = Prober(server_target([restic_backup(restic_empty)]))
    run = prober.run()
    assert run.result.success
    assert prober.value("owl_backup_snapshots") == 0
    assert prober.value("owl_backup_last_snapshot_timestamp_seconds") is None
    assert run.result.data[0].restore_test.error == "no snapshot to restore from"


def test_checks_and_restore_tests_run_at_the_contract_periods_not_every_run(borg, source):
    borg.backup(source, "a1")
    prober = Prober(server_target([borg_backup(borg)],
                                  policy={"check_period": "7d", "restore_test_period": "30d"}))
    prober.run()
    assert prober.value("owl_backup_last_check_timestamp_seconds", tool="borg") == NOW
    prober.run(after=HOUR)
    prober.run(after=6 * DAY)
    assert prober.value("owl_backup_last_check_timestamp_seconds", tool="borg") == NOW
    prober.run(after=DAY - HOUR)  # 7 days after the first check
    assert prober.value("owl_backup_last_check_timestamp_seconds", tool="borg") == NOW + 7 * DAY
    assert prober.value("owl_backup_last_restore_test_timestamp_seconds", tool="borg") == NOW
    prober.run(after=23 * DAY)
    assert prober.value("owl_backup_last_restore_test_timestamp_seconds", tool="borg") == \
        NOW + 30 * DAY


def test_a_failed_check_is_run_again_at_the_next_run_and_a_repair_is_seen(borg_unencrypted):
    segments = {path: path.read_bytes() for path in borg_unencrypted.segments()}
    borg_unencrypted.alter_chunk(SAMPLE_CONTENT, fix_checksum=False)
    prober = Prober(server_target([borg_backup(borg_unencrypted, restore_sample=None)]))
    prober.run()
    assert prober.value("owl_backup_check_success", tool="borg") == 0
    for path, content in segments.items():
        path.write_bytes(content)
    prober.run(after=HOUR)
    assert prober.value("owl_backup_check_success", tool="borg") == 1
    assert prober.value("owl_backup_last_check_timestamp_seconds", tool="borg") == NOW + HOUR


def test_a_check_finding_the_repository_locked_by_a_backup_is_postponed(restic):
    prober = Prober(server_target([restic_backup(restic, restore_sample=None)]))
    backup = subprocess.Popen(["restic", "backup", "-q", "--stdin"], stdin=subprocess.PIPE,
                              env={**os.environ, **restic.env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        _wait_for_lock(restic.path)
        run = prober.run()
        assert run.result.success
        assert prober.value("owl_backup_check_success") is None  # not run: no result yet
    finally:
        backup.stdin.close()
        backup.wait(timeout=30)
    prober.run(after=HOUR)
    assert prober.value("owl_backup_check_success") == 1


def _wait_for_lock(repository, timeout: float = 10.0):
    deadline = time.monotonic() + timeout
    while not any((repository / "locks").iterdir()):
        assert time.monotonic() < deadline, "restic backup --stdin took no lock"
        time.sleep(0.05)


# --- results kept across exporter restarts (--storage.path) --------------------------------------

def test_a_restarted_probe_with_the_same_storage_does_not_check_or_restore_test_before_the_period(
        restic_snapshotted, tmp_path):
    prober = Prober(server_target([restic_backup(restic_snapshotted)]), storage=tmp_path / "state")
    prober.run()
    assert (prober.repositories.checks, prober.repositories.restores) == (1, 1)
    restarted = prober.restarted()
    restarted.run(after=HOUR)
    assert (restarted.repositories.checks, restarted.repositories.restores) == (0, 0)
    assert restarted.value("owl_backup_check_success") == 1
    assert restarted.value("owl_backup_last_check_timestamp_seconds") == NOW
    assert restarted.value("owl_backup_restore_test_success") == 1
    assert restarted.value("owl_backup_last_restore_test_timestamp_seconds") == NOW
    restarted.run(after=7 * DAY - HOUR)  # the default check period after the first check
    assert (restarted.repositories.checks, restarted.repositories.restores) == (1, 0)
    assert restarted.value("owl_backup_last_check_timestamp_seconds") == NOW + 7 * DAY


def test_without_a_storage_folder_a_restarted_probe_checks_and_restore_tests_again(
        restic_snapshotted):
    prober = Prober(server_target([restic_backup(restic_snapshotted)]))
    prober.run()
    restarted = prober.restarted()
    restarted.run(after=HOUR)
    assert (restarted.repositories.checks, restarted.repositories.restores) == (1, 1)
    assert restarted.value("owl_backup_last_check_timestamp_seconds") == NOW + HOUR


def test_a_check_failed_before_the_restart_is_tried_again_at_the_first_run_after_it(
        borg_unencrypted, tmp_path):
    segments = {path: path.read_bytes() for path in borg_unencrypted.segments()}
    borg_unencrypted.alter_chunk(SAMPLE_CONTENT, fix_checksum=False)
    prober = Prober(server_target([borg_backup(borg_unencrypted, restore_sample=None)]),
                    storage=tmp_path / "state")
    prober.run()
    assert prober.value("owl_backup_check_success", tool="borg") == 0
    for path, content in segments.items():
        path.write_bytes(content)
    restarted = prober.restarted()
    restarted.run(after=HOUR)
    assert restarted.repositories.checks == 1
    assert restarted.value("owl_backup_check_success", tool="borg") == 1
    assert restarted.value("owl_backup_last_check_timestamp_seconds", tool="borg") == NOW + HOUR


@pytest.mark.parametrize("content, problem", [
    (b"{not json", "not JSON: "),
    (b"\xff\xfe", "cannot be read: "),
    (b"[]", "(top level): expected a JSON object"),
    (b'{"version": 2, "checks": {}, "restores": {}}', "version: expected 1, got 2"),
    (b'{"version": 1, "checks": {"acme/web1/nightly": {"time": "yesterday", "success": true}}}',
     "checks['acme/web1/nightly'].time: expected Unix seconds, got 'yesterday'"),
    (b'{"version": 1, "restores": {"acme/web1/nightly": {"time": 1, "success": 1}}}',
     "restores['acme/web1/nightly'].success: expected true or false, got 1"),
], ids=["not-json", "not-utf-8", "not-an-object", "version-2", "bad-time", "bad-success"])
def test_a_corrupt_or_foreign_state_file_is_ignored_with_a_warning_naming_the_file(
        content, problem, borg_unencrypted, tmp_path, caplog):
    state_file = tmp_path / "state" / "backup-state.json"
    state_file.parent.mkdir()
    state_file.write_bytes(content)
    with caplog.at_level(logging.WARNING):
        prober = Prober(server_target([borg_backup(borg_unencrypted)]), storage=state_file.parent)
    [warning] = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert warning.getMessage().startswith(f"ignoring backup state file {state_file}: {problem}")
    run = prober.run()
    assert run.result.success, run.result.error
    assert (prober.repositories.checks, prober.repositories.restores) == (1, 1)
    assert json.loads(state_file.read_text())["version"] == 1, "replaced by a good one"


def test_the_exporter_keeps_the_backup_results_in_its_storage_folder(restic_snapshotted,
                                                                       tmp_path):
    inventory = backup_inventory([restic_backup(restic_snapshotted)])
    storage = tmp_path / "state"
    scrape(Exporter(inventory, storage_path=storage, clock=lambda: at(NOW)))
    outcome = {"time": NOW, "success": True, "error": ""}
    assert json.loads((storage / "backup-state.json").read_text()) == {
        "version": 1, "checks": {"acme/web1/nightly": outcome},
        "restores": {"acme/web1/nightly": outcome}}
    restarted = Exporter(inventory, storage_path=storage, clock=lambda: at(NOW + HOUR))
    labels = {**WEB1, "backup": "nightly", "tool": "restic"}
    assert scrape(restarted).get_sample_value("owl_backup_last_check_timestamp_seconds",
                                              labels) == NOW


def at(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.timezone.utc)


def scrape(exporter: Exporter):
    """Run the exporter's backup kind once on its target; its registry."""
    [kind] = [kind for kind in exporter.scheduler.kinds if kind.name == "backup"]
    [target] = [target for target in exporter.targets() if kind.applies_to(target)]
    run_probe(kind, target, exporter.cache, wall=lambda: exporter.clock().timestamp())
    return exporter.registry


def test_a_repository_that_cannot_be_opened_fails_the_run_without_revealing_the_password(
        restic_snapshotted, tmp_path):
    wrong = tmp_path / "wrong-password"
    wrong.write_text("not the password\n")
    prober = Prober(server_target([restic_backup(restic_snapshotted, password_file=str(wrong))]))
    run = prober.run()
    assert not run.result.success
    assert run.result.error.startswith("backup nightly: restic snapshots: ")
    assert "not the password" not in run.result.error
    assert prober.value("owl_backup_snapshots") is None
    assert prober.value("owl_backup_policy_retention", tool=None) == 7


def test_a_missing_password_file_is_named_in_the_error(restic_empty, tmp_path):
    missing = tmp_path / "nowhere" / "password"
    run = Prober(server_target([restic_backup(restic_empty, password_file=str(missing))])).run()
    assert run.result.error == f"backup nightly: password_file {missing} does not exist"


def test_a_status_file_is_exported_as_the_backup_job_wrote_it(tmp_path):
    status = tmp_path / "status.json"
    status.write_text("""{"version": 1, "tool": "pg_dump + rclone", "snapshots": 14,
        "last_snapshot": "2026-03-02T02:13:00Z",
        "last_check": {"time": "2026-03-01T04:00:00+01:00", "success": true},
        "last_restore_test": {"time": "2026-02-15T04:00:00Z", "success": false}}""")
    prober = Prober(server_target([status_file_backup(status)]))
    assert prober.run().result.success
    tool = "status_file"
    assert prober.value("owl_backup_snapshots", tool=tool) == 14
    assert prober.value("owl_backup_last_snapshot_timestamp_seconds", tool=tool) == \
        dt.datetime(2026, 3, 2, 2, 13, tzinfo=dt.timezone.utc).timestamp()
    assert prober.value("owl_backup_last_check_timestamp_seconds", tool=tool) == \
        dt.datetime(2026, 3, 1, 3, tzinfo=dt.timezone.utc).timestamp()
    assert prober.value("owl_backup_check_success", tool=tool) == 1
    assert prober.value("owl_backup_restore_test_success", tool=tool) == 0


@pytest.mark.parametrize("document, where", [
    ([], "(top level): expected a JSON object"),
    ({"version": 2, "snapshots": 1}, "version: expected 1, got 2"),
    ({"version": 1}, "snapshots: expected an integer >= 0, got None"),
    ({"version": 1, "snapshots": True}, "snapshots: expected an integer >= 0, got True"),
    ({"version": 1, "snapshots": 3}, "last_snapshot: expected an RFC 3339 time"),
    ({"version": 1, "snapshots": 3, "last_snapshot": "2026-03-02T02:13:00"},
     "last_snapshot: expected an RFC 3339 time"),
    ({"version": 1, "snapshots": 3, "last_snapshot": "2026-03-02"},
     "last_snapshot: expected an RFC 3339 time"),
    ({"version": 1, "snapshots": 0, "last_check": {"time": "2026-03-02T02:13:00Z"}},
     'last_check: expected {"time": "...", "success": true|false}'),
    ({"version": 1, "snapshots": 0,
      "last_restore_test": {"time": "2026-03-02T02:13:00Z", "success": "yes"}},
     "last_restore_test.success: expected true or false, got 'yes'"),
    ({"version": 1, "snapshots": 0, "last_chek": {}}, "last_chek: unknown key"),
])
def test_a_faulty_status_file_is_refused_naming_the_field(document, where):
    with pytest.raises(StatusFileError) as error:
        parse_status(document, "/var/lib/backup/status.json")
    assert str(error.value).startswith(f"status file /var/lib/backup/status.json: {where}")


def test_an_unreadable_status_file_fails_the_run_naming_the_file(tmp_path):
    status = tmp_path / "status.json"
    status.write_text("{not json")
    run = Prober(server_target([status_file_backup(status)])).run()
    assert not run.result.success
    assert run.result.error.startswith(f"backup nightly: status file {status}: (file): not JSON")


@pytest.mark.parametrize("tier, backups, probed", [
    (3, [{"id": "n", "tool": "status_file", "repository": "/x"}], True),
    (4, [{"id": "n", "tool": "status_file", "repository": "/x"}], True),
    (2, [{"id": "n", "tool": "status_file", "repository": "/x"}], False),
    (3, [], False),
])
def test_backups_are_probed_on_servers_with_backups_of_tier_3_and_up(tier, backups, probed):
    assert backup_probe().applies_to(server_target(backups, tier=tier)) is probed


def test_the_backup_exposition_passes_promtool(borg, source, empty_status):
    promtool = require_binary("promtool")
    borg.backup(source, "a1")
    prober = Prober(server_target([borg_backup(borg),
                                   {**status_file_backup(empty_status), "id": "db"}]))
    prober.run()
    exposition = generate_latest(prober.registry)
    assert b"owl_backup_restore_test_success{" in exposition
    check = subprocess.run([promtool, "check", "metrics"], input=exposition,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
