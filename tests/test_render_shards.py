"""``owl config render --shards N``: golden files of the shards' parts, the real promtool's checks
(config, service discovery, rule tests), the split (every target on exactly one shard, the one
whose ``owl exporter --shard I/N`` probes it), the long-term store as the query endpoint, and the
errors naming the flag or field. The live run of two shards and VictoriaMetrics is
tests/test_shards_live.py.

Golden files: ``tests/golden/render/fixture-shards/``, the files ``--shards 2`` renders instead of
the single Prometheus' (and the datasource, which reads the store) for the fixture inventory with
``SHARDS_SECTION``; every other file is the local render's. ``OWL_UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from pathlib import Path

import pytest
import yaml

from bench.scale import inventory_yaml
from exporters.sharding import Shard
from exporters.targets import monitored_targets
from owl.inventory import InventoryError, parse_inventory
from owl.render import RenderOptions, render
from owl.render.shards import SHARDED_PROFILES, shard_rules
from tests.support.binaries import require_binary
from tests.test_alert_rules import RUNBOOK_URL, runbook_sections
from tests.test_render import (FIXTURE, GOLDEN, REPO, TODAY, files_under, golden_files,
                               render_case, update_golden_if_asked)

GOLDEN_SHARDS = GOLDEN / "fixture-shards"
STORE = """\
    long_term_store:
      remote_write_url: http://10.0.0.9:8428/api/v1/write
      query_url: http://10.0.0.9:8428
"""
SHARDS_SECTION = STORE + """\
    shards:
      - {prometheus: 10.0.2.1:9090, exporter: 10.0.2.1:9181, blackbox_exporter: 10.0.2.1:9115}
      - {prometheus: 10.0.2.2:9090, exporter: 10.0.2.2:9181, blackbox_exporter: 10.0.2.2:9115}
"""
STACK_LINE = "    evaluation_interval: 15s\n"  # the fixture's last line of provider.stack
DATASOURCE = "grafana/provisioning/datasources/prometheus.yml"
FILE_SD_JOBS = ("blackbox_http", "blackbox_defacement", "blackbox_tls_legacy", "blackbox_ssh",
                "node", "mysqld", "postgres")


def with_section(text: str, section: str = SHARDS_SECTION) -> str:
    assert text.count(STACK_LINE) == 1
    return text.replace(STACK_LINE, STACK_LINE + section)


def is_shards_file(path: str) -> bool:
    return (path.startswith("prometheus/") and not path.startswith("prometheus/rules/")) \
        or path in ("prometheus/rules/shards.yml", DATASOURCE)


@pytest.fixture(scope="module")
def inventory_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("inventory") / "inventory.yml"
    path.write_text(with_section(FIXTURE.read_text(encoding="utf-8")), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def renders(tmp_path_factory, inventory_file) -> dict[str, Path]:
    """The fixture with SHARDS_SECTION rendered in 2 shards, and as one Prometheus."""
    outputs = {}
    for name, extra in (("shards", ("--shards", "2")), ("single", ())):
        outputs[name] = tmp_path_factory.mktemp(name)
        assert render_case(inventory_file, outputs[name], "local", *extra) == 0
    return outputs


def shard_config(renders, index: int) -> dict:
    return yaml.safe_load((renders["shards"] / f"prometheus/prometheus-shard-{index}.yml")
                          .read_text())


# --- golden files ------------------------------------------------------------------------------

def test_the_shards_files_match_golden_files(renders):
    actual = {path: text for path, text in files_under(renders["shards"]).items()
              if is_shards_file(path)}
    update_golden_if_asked(actual, GOLDEN_SHARDS)
    assert actual == files_under(GOLDEN_SHARDS), \
        "fixture-shards differs (OWL_UPDATE_GOLDEN=1 if meant)"


def test_every_other_file_is_the_single_prometheus_render_s(renders):
    shards, single = golden_files(renders["shards"]), golden_files(renders["single"])
    assert {path: text for path, text in shards.items() if not is_shards_file(path)} == \
        {path: text for path, text in single.items() if not is_shards_file(path)}
    assert not (renders["shards"] / "prometheus" / "prometheus.yml").exists()
    assert not (renders["shards"] / "prometheus" / "flags").exists()


def test_one_shard_is_the_render_without_the_flag(tmp_path):
    assert render_case(FIXTURE, tmp_path / "flag", "local", "--shards", "1") == 0
    assert render_case(FIXTURE, tmp_path / "none", "local") == 0
    assert golden_files(tmp_path / "flag") == golden_files(tmp_path / "none")


def test_rendering_again_in_another_layout_removes_the_other_layout_s_prometheus_files(
        tmp_path, inventory_file):
    out = tmp_path / "out"
    prometheus = out / "prometheus"
    assert render_case(inventory_file, out, "local", "--shards", "2") == 0
    assert render_case(inventory_file, out, "local") == 0
    assert sorted(path.name for path in prometheus.glob("*") if path.is_file()) == \
        ["flags", "prometheus.yml"]
    assert not list(prometheus.glob("targets/*-shard-*.json"))
    assert render_case(inventory_file, out, "local", "--shards", "2") == 0
    assert sorted(path.name for path in prometheus.glob("*") if path.is_file()) == \
        ["flags-shard-1", "flags-shard-2", "prometheus-shard-1.yml", "prometheus-shard-2.yml"]
    assert sorted(path.name for path in prometheus.glob("targets/*")) == \
        sorted(f"{job}-shard-{index}.json" for job in FILE_SD_JOBS if job != "blackbox_defacement"
               for index in (1, 2))
    assert render_case(inventory_file, out, "local") == 0
    assert not (prometheus / "rules" / "shards.yml").exists()


# --- what each shard runs ----------------------------------------------------------------------

def test_each_shard_labels_its_samples_drops_the_label_from_alerts_and_writes_to_the_store(
        renders):
    for index in (1, 2):
        config = shard_config(renders, index)
        assert config["global"]["external_labels"] == {"shard": str(index)}
        assert config["alerting"]["alert_relabel_configs"] == [
            {"action": "labeldrop", "regex": "shard"}]
        [remote] = config["remote_write"]
        assert remote["url"] == "http://10.0.0.9:8428/api/v1/write"
        # the series every shard writes alike lose the label, so they are one in the store
        assert {"source_labels": ["job"], "regex": "owl_bridge|alertmanager|prometheus|",
                "target_label": "shard", "replacement": ""} in remote["write_relabel_configs"]


def test_each_shard_scrapes_its_own_exporter_and_blackbox_and_every_shard_s_prometheus(
        renders):
    for index in (1, 2):
        jobs = {job["job_name"]: job for job in shard_config(renders, index)["scrape_configs"]}
        own = f"10.0.2.{index}"
        assert jobs["owl_exporter"]["static_configs"] == [{"targets": [f"{own}:9181"]}]
        assert jobs["blackbox_exporter"]["static_configs"] == [{"targets": [f"{own}:9115"]}]
        assert jobs["blackbox_http"]["relabel_configs"][-1]["replacement"] == f"{own}:9115"
        assert jobs["prometheus"]["static_configs"] == [
            {"targets": ["10.0.2.1:9090", "10.0.2.2:9090"]}]
        assert jobs["owl_bridge"]["static_configs"] == [{"targets": ["10.0.0.7:9180"]}]
        assert jobs["blackbox_http"]["file_sd_configs"] == [
            {"files": [f"targets/blackbox_http-shard-{index}.json"]}]


def test_grafana_and_the_reports_read_the_long_term_store(renders, inventory_file):
    from owl.inventory import load_inventory
    for name in ("shards", "single"):
        datasource = yaml.safe_load((renders[name] / DATASOURCE).read_text())
        assert datasource["datasources"][0]["url"] == "http://10.0.0.9:8428"
    assert load_inventory(inventory_file).provider.stack.query_url == "http://10.0.0.9:8428"
    assert load_inventory(FIXTURE).provider.stack.query_url == "http://10.0.0.5:9090"


def test_one_prometheus_with_a_long_term_store_writes_to_it(renders):
    config = yaml.safe_load((renders["single"] / "prometheus/prometheus.yml").read_text())
    assert config["remote_write"] == [{"url": "http://10.0.0.9:8428/api/v1/write",
                                       "write_relabel_configs": [
                                           {"action": "labeldrop", "regex": "replica"}]}]
    assert "external_labels" not in config["global"]


# --- the real promtool -------------------------------------------------------------------------

def check(*args: str, cwd: Path) -> str:
    result = subprocess.run([require_binary(args[0]), *args[1:]], capture_output=True,
                            text=True, cwd=cwd)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


@pytest.mark.parametrize("index", (1, 2))
def test_promtool_accepts_each_shard_s_configuration_with_every_file_found(renders, index):
    prometheus = renders["shards"] / "prometheus"
    output = check("promtool", "check", "config", f"prometheus-shard-{index}.yml",
                   cwd=prometheus)
    assert "WARNING" not in output
    rule_files = len(list((REPO / "alert_rules").glob("*.yml"))) + 2  # generated, shards
    assert f"SUCCESS: {rule_files} rule files found" in output


def discovered(prometheus: Path, configs: list[str]) -> dict[tuple[str, str], list[str]]:
    """(job, instance) -> the configurations whose Prometheus scrapes it, from promtool's
    service discovery with relabelling, every file_sd job of every configuration at once."""
    promtool = require_binary("promtool")
    runs = {(config, job): subprocess.Popen(
        [promtool, "check", "service-discovery", "--timeout=1s", config, job],
        cwd=prometheus, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        for config in configs for job in FILE_SD_JOBS}
    found: dict[tuple[str, str], list[str]] = {}
    for (config, job), process in runs.items():
        output, _ = process.communicate(timeout=30)
        assert process.returncode == 0, (config, job, output)
        for target in json.loads(output or "[]"):
            found.setdefault((job, target["labels"]["instance"]), []).append(config)
    return found


def test_every_target_the_single_prometheus_scrapes_is_scraped_by_exactly_one_shard(renders):
    single = discovered(renders["single"] / "prometheus", ["prometheus.yml"])
    shards = discovered(renders["shards"] / "prometheus",
                        ["prometheus-shard-1.yml", "prometheus-shard-2.yml"])
    assert len(single) > 10
    assert sorted(shards) == sorted(single)
    assert all(len(configs) == 1 for configs in shards.values()), \
        {target: configs for target, configs in shards.items() if len(configs) != 1}
    assert {configs[0] for configs in shards.values()} == {"prometheus-shard-1.yml",
                                                          "prometheus-shard-2.yml"}


def test_promtool_tests_prometheus_shard_down(renders, tmp_path):
    rules = renders["shards"] / "prometheus" / "rules" / "shards.yml"
    check("promtool", "check", "rules", str(rules), cwd=tmp_path)
    (tmp_path / "shards_test.yml").write_text(yaml.safe_dump({
        "rule_files": [str(rules)],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                {"series": 'up{job="prometheus", instance="10.0.2.1:9090"}', "values": "1x10"},
                {"series": 'up{job="prometheus", instance="10.0.2.2:9090"}',
                 "values": "1 1 0 0 0 0 0"}],
            "alert_rule_test": [
                {"eval_time": "3m", "alertname": "PrometheusShardDown", "exp_alerts": []},
                {"eval_time": "5m", "alertname": "PrometheusShardDown", "exp_alerts": [{
                    "exp_labels": {"severity": "critical", "job": "prometheus",
                                   "instance": "10.0.2.2:9090"},
                    "exp_annotations": {
                        "summary": "Prometheus shard 10.0.2.2:9090 is down",
                        "description": (
                            "The other shards have not scraped the Prometheus shard at "
                            "10.0.2.2:9090 for 2 minutes: the sites and servers of its share "
                            "of the inventory are not probed, their alerts cannot fire, and "
                            "their availability is not recorded."),
                        "runbook_url": "https://github.com/owl-systems/owl-monitoring/blob/"
                                       "main/docs/runbooks.md#prometheussharddown"}}]}],
        }],
    }))
    check("promtool", "test", "rules", "shards_test.yml", cwd=tmp_path)


def test_the_shards_alert_has_a_severity_its_annotations_and_a_runbook_section():
    [group] = shard_rules()["groups"]
    for alert in group["rules"]:
        name = alert["alert"]
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}
        assert alert["annotations"]["runbook_url"] == RUNBOOK_URL + name.lower()
        assert f"`{alert['labels']['severity']}`" in runbook_sections()[name]


# --- the split at scale, against the exporters' ------------------------------------------------

@pytest.mark.parametrize("count", (2, 3, 5))
def test_each_shard_holds_exactly_the_targets_its_exporter_probes(count, tmp_path):
    shards = ", ".join(f"{{prometheus: 10.0.2.{i}:9090}}" for i in range(1, count + 1))
    text = inventory_yaml(300).replace(
        "bridge: 127.0.0.1:5}",
        "bridge: 127.0.0.1:5, long_term_store: {remote_write_url: "
        "'http://127.0.0.1:6/api/v1/write', query_url: 'http://127.0.0.1:6'}, "
        f"shards: [{shards}]}}")
    inventory = parse_inventory(text, "bench.yml")
    today = dt.date(2026, 12, 3)
    files = render(inventory, RenderOptions(out_dir=tmp_path, today=today, shards=count))
    single = render(inventory, RenderOptions(out_dir=tmp_path, today=today))
    for job in ("blackbox_http", "blackbox_tls_legacy", "node"):
        everything = json.loads(single[f"prometheus/targets/{job}.json"])
        split = {index: json.loads(files[f"prometheus/targets/{job}-shard-{index}.json"])
                 for index in range(1, count + 1)}
        assert sorted(map(json.dumps, everything)) == \
            sorted(json.dumps(group) for groups in split.values() for group in groups)
        assert all(split.values()), f"{job}: a shard without targets at 300 clients"
    targets = monitored_targets(inventory, today)
    for index in range(1, count + 1):
        probed = {target.key for target in targets if Shard(index, count).owns(target.key)}
        scraped = {f"{group['labels']['client']}/"
                   f"{group['labels'].get('site') or group['labels']['server']}"
                   for job in ("blackbox_http", "node")
                   for group in json.loads(files[f"prometheus/targets/{job}-shard-{index}.json"])}
        assert scraped == probed


# --- errors ------------------------------------------------------------------------------------

def test_shards_without_a_long_term_store_are_refused_naming_the_field(tmp_path, capsys):
    assert render_case(FIXTURE, tmp_path / "out", "local", "--shards", "2") == 1
    error = capsys.readouterr().err
    assert "--shards 2 needs provider.stack.long_term_store" in error
    assert "nothing rendered" in error and "Traceback" not in error
    assert not (tmp_path / "out").exists()


def test_as_many_shards_as_provider_stack_shards_lists_are_needed(tmp_path, capsys,
                                                                  inventory_file):
    assert render_case(inventory_file, tmp_path / "out", "local", "--shards", "3") == 1
    assert "--shards 3: provider.stack.shards lists 2 shards" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("profile", ("compose", "ha", "external"))
def test_shards_are_rendered_with_the_local_profile_only(tmp_path, capsys, inventory_file,
                                                        profile):
    assert profile not in SHARDED_PROFILES
    code = render_case(inventory_file, tmp_path / "out", profile, "--shards", "2")
    assert code == 1
    error = capsys.readouterr().err
    assert "--profile local only" in error or "provider.stack.ha" in error


@pytest.mark.parametrize("value", ("0", "-1", "two", "1.5"))
def test_a_shard_count_that_is_not_a_whole_number_of_one_or_more_is_refused(tmp_path, capsys,
                                                                             value):
    with pytest.raises(SystemExit) as raised:
        render_case(FIXTURE, tmp_path / "out", "local", "--shards", value)
    assert raised.value.code == 2
    error = capsys.readouterr().err
    assert "--shards" in error and "1 or more" in error and "Traceback" not in error


@pytest.mark.parametrize("section, field", [
    (STORE.replace("http://10.0.0.9:8428/api", "10.0.0.9:8428/api"), "remote_write_url"),
    (STORE.replace("query_url: http://10.0.0.9:8428", "query_url: ftp://x"), "query_url"),
    ("    long_term_store: {query_url: http://10.0.0.9:8428}\n", "remote_write_url"),
    ("    shards: [{prometheus: 10.0.2.1}]\n", "prometheus"),
    ("    shards: [{prometheus: 10.0.2.1:9090}, {prometheus: 10.0.2.1:9090}]\n",
     "shards[1].prometheus"),
    ("    shards: [{prometheus: 10.0.2.1:9090, exporters: 10.0.2.1:9181}]\n", "exporters"),
])
def test_a_bad_store_or_shard_is_an_inventory_error_naming_the_field(section, field):
    with pytest.raises(InventoryError) as raised:
        parse_inventory(with_section(FIXTURE.read_text(encoding="utf-8"), section), "inv.yml")
    assert field in str(raised.value)
