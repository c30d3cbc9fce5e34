"""``owl config render --profile ha``: golden files of the replicas' parts, the real binaries'
checks (promtool, amtool, haproxy -c), and the inventory's ``provider.stack.ha`` validated with
errors naming the field. The live run of the rendered stack is tests/test_ha_live.py.

Golden files: ``tests/golden/render/fixture-ha/``, the files the ha profile adds to the render
of the fixture inventory with ``HA_SECTION``; every other file is the local profile's.
``OWL_UPDATE_GOLDEN=1`` rewrites them.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import yaml

from owl.inventory import InventoryError, parse_inventory
from tests.support.binaries import require_binary
from tests.test_render import (FIXTURE, GOLDEN, files_under, golden_files, render_case,
                               update_golden_if_asked)

GOLDEN_HA = GOLDEN / "fixture-ha"
HA_SECTION = """\
    ha:
      prometheus: [10.0.1.1:9090, 10.0.1.2:9090]
      alertmanager:
        - {address: 10.0.1.1:9093, cluster: 10.0.1.1:9094}
        - {address: 10.0.1.2:9093, cluster: 10.0.1.2:9094}
        - {address: 10.0.1.3:9093, cluster: 10.0.1.3:9094}
      bridges: [10.0.1.1:9180, 10.0.1.2:9180]
"""
STACK_LINE = "    evaluation_interval: 15s\n"  # the fixture's last line of provider.stack
REPLICAS = ("a", "b")
MEMBERS = ("a", "b", "c")
HA_FILES = {*(f"prometheus/prometheus-{r}.yml" for r in REPLICAS),
            *(f"prometheus/flags-{r}" for r in REPLICAS),
            *(f"alertmanager/flags-{m}" for m in MEMBERS), "haproxy/haproxy.cfg"}


def with_ha(text: str, section: str = HA_SECTION) -> str:
    assert text.count(STACK_LINE) == 1
    return text.replace(STACK_LINE, STACK_LINE + section)


@pytest.fixture(scope="module")
def renders(tmp_path_factory) -> dict[str, Path]:
    """The fixture with HA_SECTION, rendered with the ha profile and with the local one."""
    inventory = tmp_path_factory.mktemp("inventory") / "inventory.yml"
    inventory.write_text(with_ha(FIXTURE.read_text(encoding="utf-8")), encoding="utf-8")
    outputs = {}
    for profile in ("ha", "local"):
        outputs[profile] = tmp_path_factory.mktemp(profile)
        assert render_case(inventory, outputs[profile], profile) == 0
    return outputs


def test_the_replicas_cluster_and_balancer_files_match_golden_files(renders):
    actual = {path: text for path, text in files_under(renders["ha"]).items()
              if path in HA_FILES}
    update_golden_if_asked(actual, GOLDEN_HA)
    assert sorted(actual) == sorted(HA_FILES)
    assert actual == files_under(GOLDEN_HA), "fixture-ha differs (OWL_UPDATE_GOLDEN=1 if meant)"


def test_every_other_file_is_the_local_profiles_and_the_single_prometheus_is_gone(renders):
    ha, local = golden_files(renders["ha"]), golden_files(renders["local"])
    assert {path: text for path, text in ha.items() if path not in HA_FILES} == \
        {path: text for path, text in local.items()
         if path not in ("prometheus/prometheus.yml", "prometheus/flags")}


def replica(renders, name: str) -> dict:
    return yaml.safe_load((renders["ha"] / f"prometheus/prometheus-{name}.yml").read_text())


def test_the_replicas_differ_only_by_their_replica_label_which_alerts_drop(renders):
    a, b = replica(renders, "a"), replica(renders, "b")
    assert (a["global"].pop("external_labels"), b["global"].pop("external_labels")) == \
        ({"replica": "a"}, {"replica": "b"})
    assert a == b
    assert a["alerting"]["alert_relabel_configs"] == [{"action": "labeldrop",
                                                       "regex": "replica"}]


def test_each_replica_alerts_every_alertmanager_and_scrapes_every_part_of_the_stack(renders):
    config = replica(renders, "a")
    assert config["alerting"]["alertmanagers"] == [{"static_configs": [{"targets": [
        "10.0.1.1:9093", "10.0.1.2:9093", "10.0.1.3:9093"]}]}]
    targets = {job["job_name"]: job.get("static_configs") for job in config["scrape_configs"]}
    assert targets["prometheus"] == [{"targets": ["10.0.1.1:9090", "10.0.1.2:9090"]}]
    assert targets["alertmanager"] == [{"targets": ["10.0.1.1:9093", "10.0.1.2:9093",
                                                    "10.0.1.3:9093"]}]
    # the bridge's per-client aggregates once, through the balancer, not once per replica
    assert targets["owl_bridge"] == [{"targets": ["10.0.0.7:9180"]}]


def test_every_member_of_the_cluster_has_the_others_as_peers(renders):
    flags = (renders["ha"] / "alertmanager/flags-b").read_text().splitlines()
    assert "--cluster.listen-address=10.0.1.2:9094" in flags
    assert [f for f in flags if f.startswith("--cluster.peer=")] == [
        "--cluster.peer=10.0.1.1:9094", "--cluster.peer=10.0.1.3:9094"]
    assert "--cluster.peer-timeout=15s" in flags


def check(binary: str, *args: str) -> str:
    result = subprocess.run([require_binary(binary), *args], capture_output=True, text=True,
                            timeout=30)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    return output


@pytest.mark.parametrize("name", REPLICAS)
def test_promtool_accepts_each_replicas_configuration_with_every_file_found(renders, name):
    output = check("promtool", "check", "config",
                   str(renders["ha"] / f"prometheus/prometheus-{name}.yml"))
    assert "WARNING" not in output
    assert "SUCCESS" in output


def test_amtool_accepts_the_clusters_alertmanager_yml(renders):
    check("amtool", "check-config", str(renders["ha"] / "alertmanager/alertmanager.yml"))


def test_haproxy_accepts_the_balancers_configuration(renders):
    assert "Configuration file is valid" in check(
        "haproxy", "-c", "-f", str(renders["ha"] / "haproxy/haproxy.cfg"))


def backends(renders) -> dict[str, list[str]]:
    """haproxy.cfg's frontends by the address they bind: their backend's lines."""
    sections = (renders["ha"] / "haproxy/haproxy.cfg").read_text().split("\n\n")
    bound = {}
    for frontend, backend in zip(sections, sections[1:]):
        if frontend.startswith("frontend "):
            address = frontend.split("    bind ")[1].split("\n")[0]
            bound[address] = [line.strip() for line in backend.splitlines()[1:]]
    return bound


def test_the_balancer_spreads_deliveries_over_the_bridges_each_checked_on_healthz(renders):
    assert backends(renders)["10.0.0.7:9180"] == [
        "balance roundrobin", "option httpchk GET /healthz", "http-check expect status 200",
        "server owl-bridge-a 10.0.1.1:9180 check", "server owl-bridge-b 10.0.1.2:9180 check"]


def test_grafana_reports_and_silences_reach_the_first_ready_prometheus_and_alertmanager(
        renders):
    bound = backends(renders)
    assert bound["10.0.0.5:9090"][:2] == ["balance first", "option httpchk GET /-/ready"]
    assert bound["10.0.0.5:9090"][3:] == ["server prometheus-a 10.0.1.1:9090 check",
                                          "server prometheus-b 10.0.1.2:9090 check"]
    assert bound["10.0.0.5:9093"][3:] == [f"server alertmanager-{m} 10.0.1.{i}:9093 check"
                                          for i, m in enumerate(MEMBERS, start=1)]
    datasource = (renders["ha"] / "grafana/provisioning/datasources/prometheus.yml")
    assert "http://10.0.0.5:9090" in datasource.read_text()


# --- the inventory's provider.stack.ha ----------------------------------------------------------

def test_the_ha_profile_without_provider_stack_ha_renders_nothing_and_says_what_is_missing(
        tmp_path, capsys):
    assert render_case(FIXTURE, tmp_path / "out", "ha") == 1
    assert "--profile ha needs provider.stack.ha" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def problems(section: str) -> str:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(with_ha(FIXTURE.read_text(encoding="utf-8"), section), "inventory.yml")
    return str(caught.value)


@pytest.mark.parametrize("section, expected", [
    (HA_SECTION.replace("10.0.1.2:9090]", "10.0.1.2]"),
     "provider.stack.ha.prometheus[1]: '10.0.1.2' is not an address such as"),
    (HA_SECTION.replace("10.0.1.3:9093, cluster: 10.0.1.3:9094", "10.0.1.3:9093"),
     "provider.stack.ha.alertmanager[2].cluster: required key is missing"),
    (HA_SECTION.replace("        - {address: 10.0.1.3:9093, cluster: 10.0.1.3:9094}\n", ""),
     "provider.stack.ha.alertmanager: List should have at least 3 items"),
    (HA_SECTION.replace("10.0.1.2:9180]", "10.0.1.1:9180]"),
     "provider.stack.ha: bridges[1]: 10.0.1.1:9180 is also bridges[0]"),
    (HA_SECTION.replace("10.0.1.2:9180]", "10.0.0.7:9180]"),
     "provider.stack: bridge: 10.0.0.7:9180 is also a replica's address in ha"),
    (HA_SECTION.replace("10.0.1.2:9090]", "10.0.0.5:9090]"),
     "provider.stack: prometheus: 10.0.0.5:9090 is also a replica's address in ha"),
    (HA_SECTION.replace("cluster: 10.0.1.2:9094", "cluster: am-b.example:9094"),
     "provider.stack.ha.alertmanager[1].cluster: 'am-b.example:9094': the gossip address needs "
     "an IP address"),
    (HA_SECTION + "      peer_timeout: 0s\n",
     "provider.stack.ha: peer_timeout must be more than 0s"),
])
def test_a_wrong_ha_section_is_refused_naming_the_field(section, expected):
    assert expected in problems(section)
