"""``owl config render``: golden files, the real binaries' checks, and the command's behaviour.

Golden files live in ``tests/golden/render/<case>/``; regenerate them with
``OWL_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_render.py`` and review the diff. Copied files
(alert rules, dashboards) are not kept there: they are compared with their sources instead.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
import yaml

from owl_commands import cli
from owl.inventory import load_inventory
from owl_commands.render import register
from owl.render.grafana import with_console_url
from owl.render.profile import (COMPOSE_MOUNTS, COMPOSE_SERVICES, DEFAULT_SCRAPE_TOKEN_FILE,
                                DEFAULT_TOKEN_FILE)
from tests.support.binaries import require_binary

REPO = Path(__file__).resolve().parent.parent
GOLDEN = REPO / "tests" / "golden" / "render"
FIXTURE = GOLDEN / "inventory.yml"
EXAMPLE = REPO / "examples" / "inventory.yml"
TODAY = dt.date(2025, 7, 15)
CASES = {
    "example": (EXAMPLE, "local"),
    "fixture": (FIXTURE, "local"),
    "fixture-compose": (FIXTURE, "compose"),
}
# Copied from the alert_rules and dashboards packages, or secret: never golden files.
NOT_GOLDEN = ("prometheus/rules/", "grafana/dashboards/", "secrets/")
GENERATED_RULES = "prometheus/rules/generated.yml"  # rendered from the inventory: golden


def run_render(*args: str) -> int:
    """``owl config render ARGS`` through the subcommand's own parser."""
    parser = argparse.ArgumentParser(prog="owl")
    register(parser.add_subparsers(dest="command", required=True))
    parsed = parser.parse_args(["config", "render", *args])
    try:
        return parsed.handler(parsed)
    except SystemExit as exc:  # what `owl` does with a command that exits
        return exc.code


def render_case(inventory: Path, out: Path, profile: str = "local", *extra: str) -> int:
    return run_render("--inventory", str(inventory), "--out", str(out), "--profile", profile,
                      "--now", TODAY.isoformat(), *extra)


def files_under(directory: Path) -> dict[str, str]:
    return {path.relative_to(directory).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(directory.rglob("*")) if path.is_file()}


def golden_files(directory: Path) -> dict[str, str]:
    return {relative: text for relative, text in files_under(directory).items()
            if not relative.startswith(NOT_GOLDEN) or relative == GENERATED_RULES}


def token_of(out: Path, relative: str = DEFAULT_TOKEN_FILE) -> str:
    return (out / relative).read_text(encoding="utf-8")


def scrape_job(out: Path) -> dict:
    prometheus = yaml.safe_load((out / "prometheus" / "prometheus.yml").read_text())
    [job] = [job for job in prometheus["scrape_configs"] if job["job_name"] == "owl_bridge"]
    return job


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> dict[str, Path]:
    """Every golden case rendered once, by the command, into its own directory."""
    outputs = {}
    for case, (inventory, profile) in CASES.items():
        outputs[case] = tmp_path_factory.mktemp(case)
        assert render_case(inventory, outputs[case], profile) == 0
    return outputs


# --- golden files ------------------------------------------------------------------------------

def update_golden_if_asked(actual: dict[str, str], expected_dir) -> None:
    """With OWL_UPDATE_GOLDEN=1, ``expected_dir`` is rewritten as ``actual`` (read the diff)."""
    if os.environ.get("OWL_UPDATE_GOLDEN") == "1":
        shutil.rmtree(expected_dir, ignore_errors=True)
        for relative, text in actual.items():
            (expected_dir / relative).parent.mkdir(parents=True, exist_ok=True)
            (expected_dir / relative).write_text(text, encoding="utf-8")


@pytest.mark.parametrize("case", CASES)
def test_rendered_files_match_golden_files(rendered, case):
    actual = golden_files(rendered[case])
    expected_dir = GOLDEN / case
    update_golden_if_asked(actual, expected_dir)
    expected = golden_files(expected_dir)
    assert sorted(actual) == sorted(expected)
    for relative, text in expected.items():
        assert actual[relative] == text, f"{case}/{relative} differs (OWL_UPDATE_GOLDEN=1 if meant)"


@pytest.mark.parametrize("case", CASES)
def test_rule_and_dashboard_copies_are_their_sources(rendered, case):
    rules = {path.name: path.read_text(encoding="utf-8")
             for path in (REPO / "alert_rules").glob("*.yml")}
    dashboards = {path.name: path.read_text(encoding="utf-8")
                  for path in (REPO / "dashboards").glob("*.json")}
    assert rules, "alert_rules has no rule files"
    copied_rules = files_under(rendered[case] / "prometheus" / "rules")
    assert copied_rules.pop("generated.yml")
    assert copied_rules == rules
    copied = rendered[case] / "grafana" / "dashboards"
    console_url = load_inventory(CASES[case][0]).provider.stack.console_url
    assert (files_under(copied) if copied.exists() else {}) == {
        name: with_console_url(text, console_url) for name, text in dashboards.items()}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("secret", [DEFAULT_TOKEN_FILE, DEFAULT_SCRAPE_TOKEN_FILE])
def test_the_token_appears_in_no_rendered_file(rendered, case, secret):
    token = token_of(rendered[case], secret)
    assert len(token) >= 40
    for relative, text in files_under(rendered[case]).items():
        if relative != secret:
            assert token not in text, relative


def test_the_webhook_and_scrape_tokens_differ(rendered):
    assert token_of(rendered["fixture"]) != token_of(rendered["fixture"],
                                                      DEFAULT_SCRAPE_TOKEN_FILE)


@pytest.mark.parametrize("secret", [DEFAULT_TOKEN_FILE, DEFAULT_SCRAPE_TOKEN_FILE])
def test_the_token_and_its_directory_are_private(rendered, secret):
    out = rendered["fixture"]
    assert stat.S_IMODE((out / secret).stat().st_mode) == 0o600
    assert stat.S_IMODE((out / secret).parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((out / "prometheus" / "prometheus.yml").stat().st_mode) == 0o644


@pytest.mark.parametrize("secret", [DEFAULT_TOKEN_FILE, DEFAULT_SCRAPE_TOKEN_FILE])
def test_the_compose_token_is_readable_by_the_containers_users_behind_a_private_directory(
        rendered, secret):
    out = rendered["fixture-compose"]
    assert stat.S_IMODE((out / secret).stat().st_mode) == 0o644
    assert stat.S_IMODE((out / secret).parent.stat().st_mode) == 0o700


# --- the real binaries accept what is rendered ------------------------------------------------

def check(binary: str, *args: str, cwd: Path | None = None) -> str:
    result = subprocess.run([require_binary(binary), *args], capture_output=True, text=True,
                            cwd=cwd, timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


def as_mounted_locally(out: Path, tmp_path: Path) -> Path:
    """A compose render with container paths pointed back at the rendered directory."""
    local = tmp_path / "compose-seen-locally"
    shutil.copytree(out, local)
    for relative, mount in COMPOSE_MOUNTS.items():
        for config in local.rglob("*.yml"):
            text = config.read_text(encoding="utf-8")
            config.write_text(text.replace(mount, str(local / relative)), encoding="utf-8")
    return local


def checkable_dir(rendered, case: str, tmp_path: Path) -> Path:
    out = rendered[case]
    return as_mounted_locally(out, tmp_path) if CASES[case][1] == "compose" else out


@pytest.mark.parametrize("case", CASES)
def test_promtool_accepts_prometheus_yml_with_every_file_found(rendered, case, tmp_path):
    out = checkable_dir(rendered, case, tmp_path)
    output = check("promtool", "check", "config", str(out / "prometheus" / "prometheus.yml"),
                   cwd=tmp_path)
    assert "WARNING" not in output
    rule_files = len(list((REPO / "alert_rules").glob("*.yml"))) + 1  # and generated.yml
    assert f"SUCCESS: {rule_files} rule files found" in output


@pytest.mark.parametrize("case", CASES)
def test_amtool_accepts_alertmanager_yml(rendered, case):
    check("amtool", "check-config", str(rendered[case] / "alertmanager" / "alertmanager.yml"))


def test_blackbox_exporter_accepts_blackbox_yml(rendered):
    check("prometheus-blackbox-exporter", "--config.check",
          "--config.file", str(rendered["fixture"] / "blackbox" / "blackbox.yml"))


# --- what is rendered --------------------------------------------------------------------------

def load_targets(out: Path, job: str) -> list[dict]:
    return yaml.safe_load((out / "prometheus" / "targets" / f"{job}.json").read_text())


def test_clients_not_monitored_today_have_no_targets(rendered):
    out = rendered["fixture"]
    clients = {group["labels"]["client"]
               for job in ("blackbox_http", "blackbox_ssh", "node")
               for group in load_targets(out, job)}
    # oldco terminated on 2025-06-30, lapsed's trial ended on 2025-06-10; initech is suspended
    # (monitoring data keeps flowing), hooli terminates on 2025-08-31, newbie's trial runs.
    assert clients == {"demo", "acme", "globex", "initech", "hooli", "newbie"}


def test_target_labels(rendered):
    out = rendered["fixture"]
    assert load_targets(out, "blackbox_http")[0] == {
        "targets": ["https://shop.demo-boutique.example/"],
        "labels": {"client": "demo", "tier": "3", "site": "shop", "cms": "wordpress",
                   "shop": "woocommerce"}}
    assert [group["targets"] for group in load_targets(out, "blackbox_ssh")] == [
        ["web1.demo-boutique.example:22"], ["203.0.113.21:2222"], ["[2001:db8::10]:22"]]
    assert load_targets(out, "node")[0] == {
        "targets": ["web1.demo-boutique.example:9100"],
        "labels": {"client": "demo", "tier": "3", "server": "web1"}}


def test_the_bridge_s_scrape_may_take_its_whole_interval(rendered):
    prometheus = yaml.safe_load((rendered["fixture"] / "prometheus" / "prometheus.yml").read_text())
    assert scrape_job(rendered["fixture"])["scrape_timeout"] == \
        prometheus["global"]["scrape_interval"]


def test_the_database_jobs_carry_the_inventory_s_labels_and_tier_2_and_up_only(rendered):
    out = rendered["fixture"]
    assert load_targets(out, "mysqld") == [{
        "targets": ["203.0.113.21:9104"],
        "labels": {"client": "demo", "tier": "3", "server": "db1", "database": "wordpress",
                   "engine": "mariadb", "instance": "203.0.113.21:3306"}}]
    prometheus = yaml.safe_load((out / "prometheus" / "prometheus.yml").read_text())
    [authenticated] = [job for job in prometheus["scrape_configs"]
                       if job["job_name"] == "mysqld_globex_store"]
    assert authenticated["basic_auth"] == {
        "username": "prometheus", "password_file": "/etc/owl/secrets/mysqld-exporter-app1"}
    assert authenticated["static_configs"][0]["labels"]["job"] == "mysqld"
    assert [group["labels"]["client"] for group in load_targets(out, "postgres")] == ["globex"]
    # acme's database is tier 1's: not scraped
    assert "acme" not in {group["labels"]["client"]
                          for job in ("mysqld", "postgres") for group in load_targets(out, job)}


@pytest.mark.parametrize("today, monitored", [
    (dt.date(2025, 6, 9), True), (dt.date(2025, 6, 10), False),  # lapsed: trial_end 2025-06-10
])
def test_a_trial_is_monitored_until_the_day_before_trial_end(today, monitored):
    lapsed = load_inventory(FIXTURE).client("lapsed")
    assert lapsed.contract.trial_end == dt.date(2025, 6, 10)
    assert (lapsed.contract.unmonitored_reason(today) is None) is monitored


@pytest.mark.parametrize("today, monitored", [
    (dt.date(2025, 6, 29), True), (dt.date(2025, 6, 30), False),  # oldco: terminated_on
])
def test_a_terminated_client_is_monitored_until_the_day_before_termination(today, monitored):
    inventory = load_inventory(FIXTURE)
    assert (inventory.client("oldco") in inventory.monitored_clients(today)) is monitored


def test_compose_profile_uses_service_names_and_container_paths(rendered):
    out = rendered["fixture-compose"]
    prometheus = yaml.safe_load((out / "prometheus" / "prometheus.yml").read_text())
    assert prometheus["rule_files"] == [f"{COMPOSE_MOUNTS['prometheus']}/rules/*.yml"]
    assert prometheus["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == [
        COMPOSE_SERVICES["alertmanager"]]
    alertmanager = yaml.safe_load((out / "alertmanager" / "alertmanager.yml").read_text())
    bridge = alertmanager["receivers"][0]["webhook_configs"][0]
    assert bridge["url"] == f"http://{COMPOSE_SERVICES['bridge']}/api/v1/alerts"
    assert bridge["http_config"]["authorization"]["credentials_file"] == \
        COMPOSE_MOUNTS[DEFAULT_TOKEN_FILE]
    assert scrape_job(out)["authorization"] == {
        "credentials_file": COMPOSE_MOUNTS[DEFAULT_SCRAPE_TOKEN_FILE]}


def test_prometheus_scrapes_the_bridge_with_the_scrape_token_file_relative_to_its_config(
        rendered):
    out = rendered["fixture"]
    credentials = scrape_job(out)["authorization"]["credentials_file"]
    assert (out / "prometheus" / credentials).resolve() == \
        (out / DEFAULT_SCRAPE_TOKEN_FILE).resolve()
    others = [job for job in yaml.safe_load((out / "prometheus" / "prometheus.yml").read_text())[
        "scrape_configs"] if "authorization" in job]
    assert [job["job_name"] for job in others] == ["owl_bridge"]


# --- the command -------------------------------------------------------------------------------

def test_owl_cli_registers_the_render_command():
    parser = cli.build_parser()
    args = parser.parse_args(["config", "render", "--inventory", "i.yml", "--out", "o"])
    assert args.handler.__module__ == "owl_commands.render"


def test_a_bad_inventory_exits_1_and_writes_nothing(tmp_path, capsys):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("provider:\n  name: OWL\nclients:\n  - id: Bad Id\n", encoding="utf-8")
    out = tmp_path / "out"
    assert render_case(inventory, out) == 1
    assert not out.exists()
    errors = capsys.readouterr().err
    assert f"{inventory}:4: clients[0].id:" in errors
    assert "nothing rendered" in errors


def test_a_new_token_is_announced_by_path_only(tmp_path, capsys):
    out = tmp_path / "out"
    assert render_case(EXAMPLE, out) == 0
    output = capsys.readouterr()
    assert f"created the webhook token file {out / DEFAULT_TOKEN_FILE}\n" in output.out
    assert f"created the scrape token file {out / DEFAULT_SCRAPE_TOKEN_FILE}\n" in output.out
    assert token_of(out) not in output.out + output.err
    assert token_of(out, DEFAULT_SCRAPE_TOKEN_FILE) not in output.out + output.err


def test_an_existing_token_file_is_reused(tmp_path, capsys):
    token_file = tmp_path / "token"
    token_file.write_text("an-existing-token-of-some-length\n", encoding="utf-8")
    out = tmp_path / "out"
    assert render_case(EXAMPLE, out, "local", "--webhook.token-file", str(token_file)) == 0
    assert token_file.read_text(encoding="utf-8") == "an-existing-token-of-some-length\n"
    assert not (out / DEFAULT_TOKEN_FILE).exists()
    output = capsys.readouterr()
    assert "created the webhook token file" not in output.out
    assert "an-existing-token" not in output.out + output.err
    alertmanager = (out / "alertmanager" / "alertmanager.yml").read_text(encoding="utf-8")
    assert f"credentials_file: {token_file}\n" in alertmanager
    assert "an-existing-token" not in alertmanager


def test_rendering_again_keeps_the_token_and_removes_stale_generated_files(tmp_path):
    out = tmp_path / "out"
    assert render_case(EXAMPLE, out) == 0
    token = token_of(out)
    (out / "prometheus" / "rules" / "retired.yml").write_text("groups: []\n", encoding="utf-8")
    (out / "prometheus" / "targets" / "retired.json").write_text("[]\n", encoding="utf-8")
    (out / "prometheus" / "notes.txt").write_text("mine\n", encoding="utf-8")
    assert render_case(EXAMPLE, out) == 0
    assert token_of(out) == token
    assert not (out / "prometheus" / "rules" / "retired.yml").exists()
    assert not (out / "prometheus" / "targets" / "retired.json").exists()
    assert (out / "prometheus" / "notes.txt").exists()
    assert not [path for path in out.rglob(".*") if path.is_file()], "temporary files left"


def test_an_empty_token_file_is_refused_before_anything_is_written(tmp_path, capsys):
    token_file = tmp_path / "token"
    token_file.write_text("\n", encoding="utf-8")
    out = tmp_path / "out"
    assert render_case(EXAMPLE, out, "local", "--webhook.token-file", str(token_file)) == 1
    assert "webhook token file is empty" in capsys.readouterr().err
    assert not out.exists()


def test_an_existing_scrape_token_file_is_reused_and_named_in_prometheus_yml(tmp_path, capsys):
    token_file = tmp_path / "scrape-token"
    token_file.write_text("an-existing-scrape-token\n", encoding="utf-8")
    out = tmp_path / "out"
    assert render_case(EXAMPLE, out, "local", "--scrape.token-file", str(token_file)) == 0
    assert token_file.read_text(encoding="utf-8") == "an-existing-scrape-token\n"
    assert not (out / DEFAULT_SCRAPE_TOKEN_FILE).exists()
    assert "created the scrape token file" not in capsys.readouterr().out
    assert scrape_job(out)["authorization"] == {"credentials_file": str(token_file)}


def test_an_empty_scrape_token_file_is_refused_before_anything_is_written(tmp_path, capsys):
    token_file = tmp_path / "scrape-token"
    token_file.write_text("\n", encoding="utf-8")
    out = tmp_path / "out"
    assert render_case(EXAMPLE, out, "local", "--scrape.token-file", str(token_file)) == 1
    assert "scrape token file is empty" in capsys.readouterr().err
    assert not out.exists()
