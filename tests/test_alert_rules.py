"""The alert rules: promtool checks and tests them; these tests hold them to the conventions.

Conventions (docs/sla-rules.md, section 2): every alert has ``severity`` critical, major or minor
(``none`` for the Watchdog) and, unless it is about the stack itself, ``client`` and ``site`` or
``server`` from its series; ``summary``, ``description`` and a ``runbook_url`` to its section of
docs/runbooks.md. Every rule file has a promtool test file with an explicit ``interval:`` and cases
where each alert fires and where it does not.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support.binaries import require_binary

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "alert_rules"
RULE_FILES = sorted(RULES.glob("*.yml"))
RUNBOOKS = REPO / "docs" / "runbooks.md"
RUNBOOK_URL = "https://github.com/owl-systems/owl-monitoring/blob/main/docs/runbooks.md#"
# Provider-internal areas: their alerts carry no client label.
STACK_FILES = {"stack.yml"}
TARGET_LABELS = {"sites.yml": "site", "servers.yml": "server"}
ALWAYS_FIRING = {"Watchdog"}


def promtool_test_file(rule_file: Path) -> Path:
    return RULES / "tests" / f"{rule_file.stem}_test.yml"


def load(path: Path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def alerts(rule_file: Path) -> list[dict]:
    return [rule for group in load(rule_file)["groups"] for rule in group["rules"]
            if "alert" in rule]


def promtool(*args: str) -> str:
    result = subprocess.run([require_binary("promtool"), *args], capture_output=True, text=True,
                            cwd=RULES / "tests", timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_rule_files_and_test_files_pair_up():
    assert [path.name for path in RULE_FILES] == ["servers.yml", "sites.yml", "stack.yml"]
    tests = sorted((RULES / "tests").glob("*.yml"))
    assert tests == sorted(promtool_test_file(path) for path in RULE_FILES)


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_promtool_check_rules(rule_file):
    promtool("check", "rules", str(rule_file))


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_promtool_test_rules(rule_file):
    assert "SUCCESS" in promtool("test", "rules", promtool_test_file(rule_file).name)


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_alerts_have_severity_annotations_and_runbook(rule_file):
    runbook_sections = re.findall(r"^## (\w+)$", RUNBOOKS.read_text(encoding="utf-8"), re.M)
    for alert in alerts(rule_file):
        name = alert["alert"]
        expected_severities = {"none"} if name in ALWAYS_FIRING else {"critical", "major", "minor"}
        assert alert["labels"]["severity"] in expected_severities, name
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}, name
        assert alert["annotations"]["runbook_url"] == RUNBOOK_URL + name.lower()
        assert name in runbook_sections, f"docs/runbooks.md has no section for {name}"


def promtool_cases(rule_file: Path) -> list[tuple[str, list[dict]]]:
    """(alertname, expected alerts) of every case of the rule file's test file."""
    return [(case["alertname"], case["exp_alerts"])
            for test in load(promtool_test_file(rule_file))["tests"]
            for case in test["alert_rule_test"]]


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_test_files_set_interval_and_see_every_alert_fire_and_stay_quiet(rule_file):
    tests = load(promtool_test_file(rule_file))["tests"]
    assert all("interval" in test for test in tests)
    cases = promtool_cases(rule_file)
    for alert in alerts(rule_file):
        name = alert["alert"]
        assert any(name == alertname and expected for alertname, expected in cases), \
            f"no case where {name} fires"
        if name not in ALWAYS_FIRING:
            assert any(name == alertname and not expected for alertname, expected in cases), \
                f"no case where {name} stays quiet"


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
