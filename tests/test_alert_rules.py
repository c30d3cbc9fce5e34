"""The alert rules: promtool checks and tests them; these tests hold them to the conventions.

Conventions (docs/sla-rules.md, section 2): every alert has ``severity`` critical, major or minor
(``none`` for the Watchdog) and, unless it is about the stack itself, ``client`` and ``site`` or
``server`` from its series; ``summary``, ``description`` and a ``runbook_url`` to its section of
docs/runbooks.md, which tells how long it keeps firing when it does. Security alerts are critical
and say ``category="security"``. Every client alert joins on the monitored contracts
(contracts.yml), with the tier its area needs. Every rule file has a promtool test file
(``tests/<area>_test.yml``, and ``tests/<area>_<part>_test.yml`` where a part needs another
evaluation interval) with an explicit ``interval:`` and cases where each alert fires and where it
does not; recording rules are checked by value.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from owl.render.shards import shard_rules
from tests.support.binaries import require_binary

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "alert_rules"
RULE_FILES = sorted(RULES.glob("*.yml"))
RUNBOOKS = REPO / "docs" / "runbooks.md"
RUNBOOK_URL = "https://github.com/owl-systems/owl-monitoring/blob/main/docs/runbooks.md#"
# Provider-internal areas: their alerts carry no client label.
STACK_FILES = {"stack.yml"}
# Areas of client alerts -> the label naming the target.
TARGET_LABELS = {"sites.yml": "site", "servers.yml": "server", "cms.yml": "site",
                 "shop.yml": "site", "backups.yml": "server", "domains.yml": "site",
                 "content.yml": "site", "tls.yml": "site", "databases.yml": "database"}
RECORDING_ONLY = {"contracts.yml", "availability.yml"}
ALWAYS_FIRING = {"Watchdog"}
MONITORED = "owl:client_contract:monitored"


def promtool_test_files(rule_file: Path) -> list[Path]:
    return sorted(RULES.glob(f"tests/{rule_file.stem}_*test.yml"))


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def rules(rule_file: Path) -> list[dict]:
    return [rule for group in load(rule_file)["groups"] for rule in group["rules"]]


def alerts(rule_file: Path) -> list[dict]:
    return [rule for rule in rules(rule_file) if "alert" in rule]


def all_alerts() -> list[tuple[str, dict]]:
    return [(path.name, alert) for path in RULE_FILES for alert in alerts(path)]


def client_alerts() -> list[dict]:
    return [alert for name, alert in all_alerts() if name in TARGET_LABELS]


def promtool(*args: str) -> str:
    result = subprocess.run([require_binary("promtool"), *args], capture_output=True, text=True,
                            cwd=RULES / "tests", timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def runbook_sections() -> dict[str, str]:
    """Section title -> its text (white space collapsed), for every ``## Title`` of
    docs/runbooks.md."""
    parts = re.split(r"^## (\w+)\n", RUNBOOKS.read_text(encoding="utf-8"), flags=re.M)
    return {title: " ".join(text.split()) for title, text in zip(parts[1::2], parts[2::2])}


def test_every_area_has_its_rule_file_and_every_rule_file_its_tests():
    assert [path.name for path in RULE_FILES] == [
        "availability.yml", "backups.yml", "cms.yml", "content.yml", "contracts.yml", "databases.yml", "domains.yml",
        "servers.yml", "shop.yml", "sites.yml", "stack.yml", "tls.yml"]
    tested = [path for rule_file in RULE_FILES for path in promtool_test_files(rule_file)]
    assert sorted(tested) == sorted((RULES / "tests").glob("*.yml"))
    for rule_file in RULE_FILES:
        assert RULES / "tests" / f"{rule_file.stem}_test.yml" in promtool_test_files(rule_file)
        for test_file in promtool_test_files(rule_file):
            assert f"../{rule_file.name}" in load(test_file)["rule_files"], test_file.name


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_promtool_check_rules(rule_file):
    promtool("check", "rules", str(rule_file))


@pytest.mark.parametrize("test_file", [path for rule_file in RULE_FILES
                                       for path in promtool_test_files(rule_file)],
                         ids=lambda path: path.name)
def test_promtool_test_rules(test_file):
    assert "SUCCESS" in promtool("test", "rules", test_file.name)


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_alerts_have_severity_annotations_and_runbook(rule_file):
    sections = runbook_sections()
    for alert in alerts(rule_file):
        name = alert["alert"]
        expected_severities = {"none"} if name in ALWAYS_FIRING else {"critical", "major", "minor"}
        assert alert["labels"]["severity"] in expected_severities, name
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}, name
        assert alert["annotations"]["runbook_url"] == RUNBOOK_URL + name.lower()
        assert name in sections, f"docs/runbooks.md has no section for {name}"
        assert f"`{alert['labels']['severity']}`" in sections[name], name


def test_every_runbook_section_is_an_alert():
    # with the alerts the render writes beside alert_rules/ (owl.render.shards' shards.yml)
    rendered = {rule["alert"] for group in shard_rules()["groups"] for rule in group["rules"]}
    assert set(runbook_sections()) == {alert["alert"] for _, alert in all_alerts()} | rendered


def test_the_runbook_says_how_long_an_alert_keeps_firing():
    sections = runbook_sections()
    for _, alert in all_alerts():
        if "keep_firing_for" in alert:
            assert f"keeps firing for {alert['keep_firing_for']}" in sections[alert["alert"]], \
                alert["alert"]


def test_security_alerts_are_critical_and_say_so():
    security = {alert["alert"]: alert["labels"]["severity"] for _, alert in all_alerts()
                if alert["labels"].get("category") == "security"}
    assert security == {"TlsCertificateExpired": "critical", "SiteDefaced": "critical",
                        "CmsKnownExploitedVulnerability": "critical",
                        "TlsChainInvalid": "critical"}
    categories = {alert["labels"].get("category") for _, alert in all_alerts()}
    assert categories == {None, "security"}


def test_every_client_alert_is_for_monitored_contracts_only():
    for alert in client_alerts():
        assert f"and on(client) {MONITORED}" in alert["expr"], alert["alert"]


# The tier a contract needs for each alert (docs/sla-rules.md, section 1): main resources for
# every tier, monthly CMS updates from tier 1, vulnerability scans from tier 2, backups and e-commerce from tier 3.
MINIMUM_TIERS = {
    **{name: 0 for name in (
        "SiteDown", "SiteSlow", "TlsCertificateExpiringSoon", "TlsCertificateExpiring",
        "TlsCertificateExpired", "SiteDefaced", "ServerUnreachable", "TargetDown", "DiskNearlyFull",
        "DiskInodesNearlyFull", "ServerCpuSaturated", "ServerMemoryLow",
        "OsUpdateCollectorMissing", "OsUpdatesPending", "ServerRebootPending", "CmsNotRecognised",
        "CmsNotAsDeclared",
        "CmsCoreUnsupported", "CmsCoreUpdatePending", "CmsComponentUpdatesPending",
        "DomainExpiringSoon", "DomainExpiring", "SiteContentReplaced")},
    **{name: 1 for name in ("UpdateChecksBlind",)},
    **{name: 2 for name in (
        "VulnerabilityScanBlind", "CmsVulnerable", "CmsKnownExploitedVulnerability", "SiteExposedSensitiveFile",
        "SiteSecurityHeadersMissing", "SiteLegacyTlsAccepted", "TlsChainInvalid",
        "TlsCertificateWeak", "TlsWeakCipherSuitesAccepted")},
    **{name: 2 for name in (
        "DatabaseExporterDown", "DatabaseDown", "DatabaseConnectionsNearLimit",
        "DatabaseReplicationBroken", "DatabaseReplicationLagging", "DatabaseSlowQueriesRising",
        "DatabaseTablesNeedOptimising", "DatabaseBufferPoolHitRatioLow")},
    **{name: 3 for name in (
        "ShopCheckoutBroken", "ShopPaymentMethodUnavailable", "ShopPaymentProviderDown",
        "ShopCheckoutSlow", "ShopTestCartNotEmptied", "BackupLate", "BackupMissing",
        "BackupRetentionBelowPolicy", "BackupIntegrityCheckFailed",
        "BackupIntegrityCheckOverdue", "BackupRestoreTestFailed", "BackupRestoreTestOverdue",
        "BackupStatusUnknown")},
}


@pytest.mark.parametrize("alert", client_alerts(), ids=lambda alert: alert["alert"])
def test_an_alert_fires_only_from_the_tier_that_includes_its_monitoring(alert):
    minimum = MINIMUM_TIERS[alert["alert"]]
    tiers = "|".join(str(tier) for tier in range(minimum, 5))
    join = f'and on(client) {MONITORED}' + (f'{{tier=~"{tiers}"}}' if minimum else "")
    assert alert["expr"].rstrip().endswith(join), alert["expr"]


def promtool_cases(rule_file: Path) -> list[tuple[str, list[dict]]]:
    """(alertname, expected alerts) of every case of the rule file's test files."""
    return [(case["alertname"], case["exp_alerts"])
            for test_file in promtool_test_files(rule_file)
            for test in load(test_file)["tests"]
            for case in test.get("alert_rule_test", [])]


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_test_files_set_interval_and_see_every_alert_fire_and_stay_quiet(rule_file):
    for test_file in promtool_test_files(rule_file):
        assert all("interval" in test for test in load(test_file)["tests"]), test_file.name
    cases = promtool_cases(rule_file)
    for alert in alerts(rule_file):
        name = alert["alert"]
        assert any(name == alertname and expected for alertname, expected in cases), \
            f"no case where {name} fires"
        if name not in ALWAYS_FIRING:
            assert any(name == alertname and not expected for alertname, expected in cases), \
                f"no case where {name} stays quiet"


@pytest.mark.parametrize("rule_file", sorted(RULES / name for name in RECORDING_ONLY),
                         ids=lambda path: path.name)
def test_every_recording_rule_of_a_recording_area_is_checked_by_value(rule_file):
    checked = {case["expr"] for test_file in promtool_test_files(rule_file)
               for test in load(test_file)["tests"]
               for case in test.get("promql_expr_test", []) if case["exp_samples"]}
    assert {rule["record"] for rule in rules(rule_file)} <= checked


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_firing_alerts_carry_client_and_target_labels_unless_provider_internal(rule_file):
    for alertname, expected in promtool_cases(rule_file):
        for alert in expected:
            labels = alert["exp_labels"]
            if rule_file.name in STACK_FILES:
                assert "client" not in labels, alertname
            else:
                assert labels["client"], alertname
                assert labels[TARGET_LABELS[rule_file.name]], alertname
