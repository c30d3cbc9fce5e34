"""``owl config render --profile external`` and ``owl config merge``: the parts owl-monitoring
adds to a provider's own Prometheus and Alertmanager, merged into a realistic configuration of
theirs without touching what is theirs, refusing names that clash, the same bytes when merged
twice; the real promtool and amtool accept the result.

Golden files: ``tests/golden/render/fixture-external/`` (the output folder written ``$OUT``);
``OWL_UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import copy
import os
import subprocess
from pathlib import Path

import pytest
import yaml

from owl.render.external import (ALERTMANAGER_PARTS, MARKER_LABEL, MARKER_VALUE,
                                 PROMETHEUS_PARTS)
from owl.render.merge import MERGED_HEADER, merge_alertmanager, merge_prometheus
from owl_commands.cli import main
from tests.support.binaries import require_binary
from tests.test_render import (FIXTURE, GOLDEN, REPO, files_under, golden_files, render_case,
                               update_golden_if_asked)

CASE = "fixture-external"
THEIR_PROMETHEUS = """\
# Their Prometheus: comments such as this one are not kept by the merge.
global:
  scrape_interval: 15s
  evaluation_interval: 15s
  external_labels: {datacenter: par1}
rule_files:
  - rules/*.yml
alerting:
  alertmanagers:
    - static_configs: [{targets: ['10.1.0.6:9093']}]
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: ['localhost:9090']}]
  - job_name: node
    static_configs: [{targets: ['10.1.0.20:9100', '10.1.0.21:9100']}]
    relabel_configs:
      - {source_labels: [__address__], regex: '(.*):9100', target_label: host}
  - job_name: blackbox_http
    metrics_path: /probe
    params: {module: [tcp_connect]}
    static_configs: [{targets: ['www.their-own.example:443']}]
    relabel_configs:
      - {source_labels: [__address__], target_label: __param_target}
      - {target_label: __address__, replacement: '10.1.0.8:9115'}
"""
THEIR_ALERTMANAGER = """\
global:
  resolve_timeout: 5m
  smtp_smarthost: mail.their-own.example:25
  smtp_from: alerts@their-own.example
route:
  receiver: ops-default
  group_by: [alertname]
  group_wait: 10s
  routes:
    - matchers: ['team="web"']
      receiver: web-team
      active_time_intervals: [business-hours]
    - matchers: ['severity="critical"']
      receiver: pager
receivers:
  - name: ops-default
    webhook_configs: [{url: 'http://10.1.0.30:8080/default'}]
  - name: web-team
    email_configs: [{to: web@their-own.example}]
  - name: pager
    webhook_configs: [{url: 'http://10.1.0.30:8080/pager'}]
  - name: "null"
time_intervals:
  - name: business-hours
    time_intervals:
      - weekdays: ['monday:friday']
        times: [{start_time: '08:00', end_time: '18:00'}]
inhibit_rules:
  - source_matchers: ['severity="critical"']
    target_matchers: ['severity="warning"']
    equal: [alertname]
"""
MINIMAL = """\
provider:
  name: OWL SYSTEMS
  stack: {prometheus: 10.1.0.5:9090, alertmanager: 10.1.0.6:9093}
"""


def render_external(inventory: Path, out: Path) -> dict[str, str]:
    assert render_case(inventory, out, "external") == 0
    return files_under(out)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("external") / "out"
    render_external(FIXTURE, out)
    return out


@pytest.fixture(scope="module")
def parts(rendered) -> dict[str, str]:
    return files_under(rendered)


def merged(parts: dict[str, str]) -> tuple[str, str]:
    prometheus = merge_prometheus(THEIR_PROMETHEUS, "their/prometheus.yml", parts)
    alertmanager = merge_alertmanager(THEIR_ALERTMANAGER, "their/alertmanager.yml", parts)
    assert prometheus.problems == () and alertmanager.problems == ()
    return prometheus.text, alertmanager.text


def check(binary: str, *args: str) -> str:
    result = subprocess.run([require_binary(binary), *args], capture_output=True, text=True,
                            timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


# --- the render -------------------------------------------------------------------------------

def test_the_external_render_matches_its_golden_files(rendered):
    actual = {relative: text.replace(str(rendered), "$OUT")
              for relative, text in golden_files(rendered).items()}
    expected_dir = GOLDEN / CASE
    update_golden_if_asked(actual, expected_dir)
    expected = golden_files(expected_dir)
    assert sorted(actual) == sorted(expected)
    for relative, text in expected.items():
        assert actual[relative] == text, f"{CASE}/{relative} differs (OWL_UPDATE_GOLDEN=1 if meant)"


def test_the_external_render_has_only_parts_to_merge_and_no_whole_configuration(parts):
    assert "prometheus/prometheus.yml" not in parts
    assert "alertmanager/alertmanager.yml" not in parts
    for path in [*PROMETHEUS_PARTS.values(), *ALERTMANAGER_PARTS.values()]:
        assert path in parts


def test_every_alert_of_the_rule_copies_is_marked_as_ours_and_nothing_else_changes(rendered):
    for source in sorted((REPO / "alert_rules").glob("*.yml")):
        expected = yaml.safe_load(source.read_text(encoding="utf-8"))
        for group in expected["groups"]:
            for rule in group["rules"]:
                if "alert" in rule:
                    rule["labels"][MARKER_LABEL] = MARKER_VALUE
        copied = (rendered / "prometheus" / "rules" / source.name).read_text(encoding="utf-8")
        assert yaml.safe_load(copied) == expected, source.name
        assert [line for line in copied.splitlines() if line.lstrip().startswith("#")] == [
            line for line in source.read_text().splitlines() if line.lstrip().startswith("#")]


def test_our_jobs_are_named_owl_and_keep_the_job_label_the_rules_select_on(parts):
    jobs = yaml.safe_load(parts["prometheus/scrape_configs.yml"])["scrape_configs"]
    assert all(job["job_name"].startswith("owl_") for job in jobs)
    node = next(job for job in jobs if job["job_name"] == "owl_node")
    assert {"target_label": "job", "replacement": "node"} in node["relabel_configs"]
    assert node["scrape_interval"] == "15s"  # the inventory's, not their global one
    database = next(job for job in jobs if job["job_name"].startswith("owl_mysqld_"))
    assert database["static_configs"][0]["labels"]["job"] == "mysqld"
    assert not any(relabel.get("target_label") == "job"
                   for relabel in database["relabel_configs"])


def test_our_route_matches_only_our_alerts_and_names_only_our_receivers(parts):
    route = yaml.safe_load(parts["alertmanager/route.yml"])["route"]
    assert route["matchers"] == ['owl_stack="owl-monitoring"']
    assert route["continue"] is False
    receivers = {r["name"] for r in yaml.safe_load(parts["alertmanager/receivers.yml"])[
        "receivers"]}
    assert all(name.startswith("owl-") for name in receivers)

    def names(route):
        yield route["receiver"]
        for child in route.get("routes", []):
            yield from names(child)
    assert set(names(route)) <= receivers


def test_our_emails_carry_our_smtp_settings_as_their_global_section_is_theirs(parts):
    receivers = yaml.safe_load(parts["alertmanager/receivers.yml"])["receivers"]
    [phone] = [r for r in receivers if r["name"] == "owl-phone-email"]
    email = phone["email_configs"][0]
    assert email["smarthost"] == "smtp.owl-systems.example:587"
    assert email["auth_password_file"] == "/etc/owl/secrets/smtp-password"


def test_grafanas_datasource_reads_their_prometheus_and_is_not_their_default(parts):
    [datasource] = yaml.safe_load(parts["grafana/provisioning/datasources/prometheus.yml"])[
        "datasources"]
    assert (datasource["uid"], datasource["isDefault"]) == ("owl-prometheus", False)
    assert datasource["url"] == "http://10.0.0.5:9090"


# --- the merge --------------------------------------------------------------------------------

def test_promtool_and_amtool_accept_the_merged_configuration(parts, tmp_path):
    prometheus, alertmanager = merged(parts)
    (tmp_path / "prometheus.yml").write_text(prometheus)
    (tmp_path / "rules").mkdir()
    (tmp_path / "alertmanager.yml").write_text(alertmanager)
    output = check("promtool", "check", "config", str(tmp_path / "prometheus.yml"))
    assert "SUCCESS: 13 rule files found" in output
    check("amtool", "check-config", str(tmp_path / "alertmanager.yml"))


def test_merging_twice_gives_the_same_bytes(parts):
    prometheus, alertmanager = merged(parts)
    assert merge_prometheus(prometheus, "p", parts).text == prometheus
    assert merge_alertmanager(alertmanager, "a", parts).text == alertmanager


def without_ours(prometheus: dict, alertmanager: dict) -> tuple[dict, dict]:
    prometheus, alertmanager = copy.deepcopy(prometheus), copy.deepcopy(alertmanager)
    prometheus["scrape_configs"] = [job for job in prometheus["scrape_configs"]
                                    if not job["job_name"].startswith("owl_")]
    prometheus["rule_files"] = [glob for glob in prometheus["rule_files"]
                                if glob.startswith("rules/")]
    route = alertmanager["route"]
    assert route["routes"][0]["matchers"] == ['owl_stack="owl-monitoring"']
    del route["routes"][0]
    for key in ("receivers", "time_intervals"):
        alertmanager[key] = [item for item in alertmanager[key]
                             if not item["name"].startswith("owl-")]
    alertmanager["inhibit_rules"] = [rule for rule in alertmanager["inhibit_rules"] if
                                     'owl_stack="owl-monitoring"' not in rule["source_matchers"]]
    del alertmanager["templates"]
    return prometheus, alertmanager


def test_what_is_theirs_is_kept_as_it_was(parts):
    prometheus, alertmanager = merged(parts)
    assert prometheus.startswith(MERGED_HEADER)
    assert without_ours(yaml.safe_load(prometheus), yaml.safe_load(alertmanager)) == (
        yaml.safe_load(THEIR_PROMETHEUS), yaml.safe_load(THEIR_ALERTMANAGER))


def test_a_new_render_merged_again_replaces_the_previous_parts(tmp_path):
    first_prometheus, first_alertmanager = merged(render_external(FIXTURE, tmp_path / "out"))
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(MINIMAL)
    minimal = render_external(inventory, tmp_path / "out")  # the same folder, rendered again
    again = (merge_prometheus(first_prometheus, "p", minimal).text,
             merge_alertmanager(first_alertmanager, "a", minimal).text)
    assert again == merged(minimal)
    assert "owl-pager" in first_alertmanager and "owl-pager" not in again[1]


@pytest.mark.parametrize("their_change, problem", [
    (lambda p, a: p["scrape_configs"].append({"job_name": "owl_node", "static_configs": []}),
     "their/prometheus.yml: scrape job 'owl_node' is yours"),
    (lambda p, a: a["receivers"].append({"name": "owl-bridge"}),
     "their/alertmanager.yml: receiver 'owl-bridge' is yours"),
    (lambda p, a: a["time_intervals"].append({"name": "owl-business-hours",
                                              "time_intervals": []}),
     "their/alertmanager.yml: time interval 'owl-business-hours' is yours"),
])
def test_a_name_of_theirs_equal_to_one_of_ours_is_refused_naming_it(parts, their_change,
                                                                     problem):
    prometheus, alertmanager = yaml.safe_load(THEIR_PROMETHEUS), yaml.safe_load(
        THEIR_ALERTMANAGER)
    their_change(prometheus, alertmanager)
    results = [merge_prometheus(yaml.safe_dump(prometheus), "their/prometheus.yml", parts),
               merge_alertmanager(yaml.safe_dump(alertmanager), "their/alertmanager.yml", parts)]
    refused = [result for result in results if result.problems]
    assert len(refused) == 1 and refused[0].text is None
    assert refused[0].problems[0].startswith(problem)


def test_configurations_with_little_of_their_own_are_merged_once_and_checked(parts, tmp_path):
    prometheus = merge_prometheus("global: {scrape_interval: 1m}\n", "p", parts).text
    alertmanager = merge_alertmanager("route: {receiver: ops}\nreceivers: [{name: ops}]\n", "a",
                                      parts).text
    assert merge_prometheus(prometheus, "p", parts).text == prometheus
    assert merge_alertmanager(alertmanager, "a", parts).text == alertmanager
    (tmp_path / "prometheus.yml").write_text(prometheus)
    (tmp_path / "alertmanager.yml").write_text(alertmanager)
    check("promtool", "check", "config", str(tmp_path / "prometheus.yml"))
    check("amtool", "check-config", str(tmp_path / "alertmanager.yml"))
    assert yaml.safe_load(alertmanager)["route"]["receiver"] == "ops"


def test_a_configuration_of_theirs_without_alerting_sends_to_their_alertmanager(parts):
    theirs = yaml.safe_load(THEIR_PROMETHEUS)
    del theirs["alerting"]
    result = yaml.safe_load(merge_prometheus(yaml.safe_dump(theirs), "p", parts).text)
    assert result["alerting"] == {"alertmanagers": [{"static_configs": [
        {"targets": ["10.0.0.5:9093"]}]}]}
    kept = yaml.safe_load(merged(parts)[0])["alerting"]
    assert kept == yaml.safe_load(THEIR_PROMETHEUS)["alerting"]


@pytest.mark.parametrize("merge, text, problem", [
    (merge_prometheus, "global:\n  scrape_interval: [15s\n", "t.yml: line 3, column 1: not "
     "valid YAML"),
    (merge_prometheus, "", "t.yml: the file should be a mapping, not nothing"),
    (merge_prometheus, "scrape_configs: {a: 1}\n", "t.yml: scrape_configs should be a list"),
    (merge_alertmanager, "receivers: []\n", "t.yml: no route"),
    (merge_alertmanager, "route: [a]\n", "t.yml: route should be a mapping, not a list"),
])
def test_bad_input_is_a_problem_naming_the_file_and_where(parts, merge, text, problem):
    result = merge(text, "t.yml", parts)
    assert result.text is None
    assert result.problems[0].startswith(problem), result.problems


# --- the command ------------------------------------------------------------------------------

def theirs_in(folder: Path) -> tuple[Path, Path]:
    folder.mkdir()
    prometheus, alertmanager = folder / "prometheus.yml", folder / "alertmanager.yml"
    prometheus.write_text(THEIR_PROMETHEUS)
    alertmanager.write_text(THEIR_ALERTMANAGER)
    return prometheus, alertmanager


def test_merge_replace_keeps_the_original_and_changes_nothing_the_second_time(rendered,
                                                                              tmp_path, capsys):
    prometheus, alertmanager = theirs_in(tmp_path / "etc")
    args = ["config", "merge", "--rendered", str(rendered), "--prometheus.config",
            str(prometheus), "--alertmanager.config", str(alertmanager), "--replace"]
    assert main(args) == 0
    assert (tmp_path / "etc" / "prometheus.yml.orig").read_text() == THEIR_PROMETHEUS
    assert (tmp_path / "etc" / "alertmanager.yml.orig").read_text() == THEIR_ALERTMANAGER
    first = prometheus.read_bytes(), alertmanager.read_bytes()
    capsys.readouterr()
    assert main(args) == 0
    assert capsys.readouterr().out.count("already merged, unchanged") == 2
    assert (prometheus.read_bytes(), alertmanager.read_bytes()) == first
    assert (tmp_path / "etc" / "prometheus.yml.orig").read_text() == THEIR_PROMETHEUS


def test_merge_replace_keeps_the_files_owner_group_and_mode(rendered, tmp_path):
    prometheus, _ = theirs_in(tmp_path / "etc")
    prometheus.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(prometheus, 65534, 65534)
    before = prometheus.stat()
    assert main(["config", "merge", "--rendered", str(rendered), "--prometheus.config",
                 str(prometheus), "--replace"]) == 0
    for path in (prometheus, tmp_path / "etc" / "prometheus.yml.orig"):
        after = path.stat()
        assert (after.st_uid, after.st_gid, after.st_mode & 0o777) == (
            before.st_uid, before.st_gid, 0o640)


def test_merge_out_writes_both_files_there(rendered, tmp_path):
    prometheus, alertmanager = theirs_in(tmp_path / "etc")
    assert main(["config", "merge", "--rendered", str(rendered), "--prometheus.config",
                 str(prometheus), "--alertmanager.config", str(alertmanager), "--out",
                 str(tmp_path / "merged")]) == 0
    assert (tmp_path / "merged" / "prometheus.yml").read_text() == merged(
        files_under(rendered))[0]
    assert prometheus.read_text() == THEIR_PROMETHEUS


def test_a_refused_merge_writes_nothing_and_says_why(rendered, tmp_path, capsys):
    prometheus, alertmanager = theirs_in(tmp_path / "etc")
    alertmanager.write_text(THEIR_ALERTMANAGER.replace("name: web-team", "name: owl-null")
                            .replace("receiver: web-team", "receiver: owl-null"))
    before = alertmanager.read_text()
    code = main(["config", "merge", "--rendered", str(rendered), "--prometheus.config",
                 str(prometheus), "--alertmanager.config", str(alertmanager), "--replace"])
    err = capsys.readouterr().err
    assert code == 1
    assert f"{alertmanager}: receiver 'owl-null' is yours" in err
    assert "nothing written" in err
    assert prometheus.read_text() == THEIR_PROMETHEUS and alertmanager.read_text() == before
    assert sorted(path.name for path in (tmp_path / "etc").iterdir()) == [
        "alertmanager.yml", "prometheus.yml"]


def test_a_folder_not_rendered_with_the_external_profile_is_named(tmp_path, capsys):
    prometheus, _ = theirs_in(tmp_path / "etc")
    assert render_case(FIXTURE, tmp_path / "local") == 0
    code = main(["config", "merge", "--rendered", str(tmp_path / "local"),
                 "--prometheus.config", str(prometheus), "--out", str(tmp_path / "merged")])
    assert code == 1
    assert "prometheus/scrape_configs.yml: missing from the rendered folder: render it with " \
           "`owl config render --profile external`" in capsys.readouterr().err
    assert not (tmp_path / "merged").exists()


def test_an_unreadable_file_of_theirs_is_named(rendered, tmp_path, capsys):
    code = main(["config", "merge", "--rendered", str(rendered), "--prometheus.config",
                 str(tmp_path / "nowhere.yml"), "--out", str(tmp_path / "merged")])
    assert code == 1
    assert f"cannot read {tmp_path / 'nowhere.yml'}" in capsys.readouterr().err
