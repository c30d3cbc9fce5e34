"""docker-compose.ha.yml, the high-availability stack as compose services, against a real render.

No Docker engine runs here: the file is parsed and every address, mount and command it holds is
checked against ``owl config render --profile ha --secrets.container-readable`` of
``examples/inventory-ha-compose.yml``, the ``owl`` command's parser and docker-compose.yml; the
rendered files are checked by the real promtool, amtool and haproxy (failing under CI=true when
one is missing, tests/support/binaries.py).
"""

from __future__ import annotations

import ipaddress
import os
import posixpath
import re
import stat
from pathlib import Path, PurePosixPath

import pytest
import yaml

from owl.render.ha import HAPROXY_PATH
from owl_commands import cli
from tests.test_compose import (PINNED_IMAGE, argument_files, file_values, flag, interpolate,
                                load)
from tests.test_render_ha import check

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.ha.yml"
EXAMPLE = REPO / "examples" / "inventory-ha-compose.yml"
NETWORK = "owl-ha"
REPLICAS = ("a", "b")
MEMBERS = ("a", "b", "c")
TOKENS = ("bridge-webhook-token", "bridge-scrape-token", "bridge-web-secret")
# the part of docker-compose.yml each service of the HA file runs
SINGLE = {**{f"prometheus-{r}": "prometheus" for r in REPLICAS},
          **{f"alertmanager-{m}": "alertmanager" for m in MEMBERS},
          "owl-bridge-a": "owl-bridge", "owl-bridge-b": "owl-bridge",
          "owl-db-upgrade": "owl-bridge",
          "blackbox_exporter": "blackbox_exporter", "owl-exporter": "owl-exporter",
          "grafana": "grafana"}
# PostgreSQL's versions have two parts (15.13): the image's tag, with its Debian release
PINNED_POSTGRES = re.compile(r"^postgres:\d+\.\d+-[a-z]+$")
OWL_SERVICES = {"owl-bridge-a": "bridge", "owl-bridge-b": "bridge", "owl-db-upgrade": "db",
                "owl-exporter": "exporter"}


def render(out: Path, *options: str) -> None:
    """The example rendered with the ha profile, under the usual umask (022) whatever the
    test run's: the modes the tests read are then the render's own."""
    previous = os.umask(0o022)
    try:
        assert cli.main(["config", "render", "--inventory", str(EXAMPLE), "--out", str(out),
                         "--profile", "ha", "--now", "2025-07-15", *options]) == 0
    finally:
        os.umask(previous)


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rendered-ha").resolve()
    render(out, "--secrets.container-readable")
    return out


def read_compose(path: Path, rendered: Path) -> dict:
    environment = {"OWL_RENDERED": str(rendered), "OWL_GRAFANA_ADMIN_PASSWORD": "not-a-secret",
                   "OWL_POSTGRES_PASSWORD": "not-a-secret"}
    return yaml.safe_load(interpolate(path.read_text(encoding="utf-8"), environment))


@pytest.fixture(scope="module")
def compose(rendered) -> dict:
    return read_compose(COMPOSE_FILE, rendered)


@pytest.fixture(scope="module")
def single(rendered) -> dict:
    return read_compose(REPO / "docker-compose.yml", rendered)


def binds(compose: dict, service: str) -> dict[str, Path]:
    """Container path -> host path of the service's bind mounts (relative: from the repo)."""
    found = {}
    for volume in compose["services"][service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith((".", "/")):
            found[target] = (REPO / source).resolve()
    return found


def host_path(compose: dict, service: str, path: str) -> Path:
    """The host file ``service`` sees at the container path ``path``."""
    mounts = binds(compose, service)
    holding = [target for target in mounts if PurePosixPath(path).is_relative_to(target)]
    assert holding, f"{service}: nothing is mounted at {path}"
    target = max(holding, key=len)
    return Path(mounts[target], PurePosixPath(path).relative_to(target))


def static_ip(compose: dict, service: str) -> str:
    return compose["services"][service]["networks"][NETWORK]["ipv4_address"]


def addresses(compose: dict) -> dict[str, str]:
    """Static IP -> service."""
    return {static_ip(compose, name): name for name, spec in compose["services"].items()
            if isinstance(spec.get("networks"), dict)}


def flags_file(compose: dict, service: str) -> list[str]:
    """The flags of the service's ``@FILE`` argument, as the render wrote them."""
    [path] = argument_files(compose["services"][service]["command"])
    lines = host_path(compose, service, path).read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def relative_to_config(config_file: str, paths: list[str]) -> list[str]:
    """Paths of a configuration as its reader resolves them: relative to its folder."""
    folder = PurePosixPath(config_file).parent
    return [posixpath.normpath(PurePosixPath(folder, path)) for path in paths]


def reads(compose: dict, service: str) -> list[str]:
    """Container paths of every file ``service`` reads: its command's and its configuration's."""
    command = compose["services"][service].get("command", [])
    if service.startswith(("prometheus-", "alertmanager-")):
        config_file = flag(command, "--config.file")
        config = load(host_path(compose, service, config_file))
        named = [*config.get("rule_files", []), *config.get("templates", []),
                 *(path for job in config.get("scrape_configs", [])
                   for sd in job.get("file_sd_configs", []) for path in sd["files"]),
                 *file_values(config)]
        return [config_file, *argument_files(command), *relative_to_config(config_file, named)]
    if service.startswith("owl-bridge-"):
        return [flag(command, option) for option in ("--inventory", "--webhook.token-file",
                                                     "--scrape.token-file", "--web.secret-file")]
    if service == "haproxy":
        return [flag(command, "-f")]
    if service == "blackbox_exporter":
        return [flag(command, "--config.file")]
    if service == "owl-exporter":
        return [flag(command, "--inventory")]
    if service == "grafana":
        provider = "/etc/grafana/provisioning/dashboards/owl.yml"
        [dashboards] = load(host_path(compose, service, provider))["providers"]
        return ["/etc/grafana/provisioning/datasources/prometheus.yml", provider,
                posixpath.join(dashboards["options"]["path"], "*.json")]
    return []


def haproxy_sections(rendered: Path) -> dict[str, list[str]]:
    """``frontend NAME`` / ``backend NAME``: the section's lines."""
    text = (rendered / HAPROXY_PATH).read_text(encoding="utf-8")
    return {section.splitlines()[0]: [line.strip() for line in section.splitlines()[1:]]
            for section in text.split("\n\n") if section.startswith(("frontend ", "backend "))}


# --- services and images ------------------------------------------------------------------

def test_the_file_runs_each_replica_member_and_part_of_the_ha_stack(compose):
    assert set(compose["services"]) == {*SINGLE, "haproxy", "postgres"}


def test_each_part_runs_the_image_docker_compose_yml_runs_and_the_owl_parts_build_it(
        compose, single):
    for service, part in SINGLE.items():
        spec, theirs = compose["services"][service], single["services"][part]
        assert spec["image"] == theirs["image"], service
        assert spec.get("build") == theirs.get("build"), service


def test_every_image_is_pinned_to_a_version_tag(compose):
    for service, spec in compose["services"].items():
        pinned = PINNED_POSTGRES if service == "postgres" else PINNED_IMAGE
        assert pinned.match(spec["image"]), f"{service}: {spec['image']}"


@pytest.mark.parametrize("service", OWL_SERVICES)
def test_the_owl_service_command_is_accepted_by_the_owl_parser(compose, service):
    args = cli.build_parser().parse_args(compose["services"][service]["command"])
    assert args.command == OWL_SERVICES[service]


def test_both_bridges_and_the_migrations_use_the_postgres_service(compose):
    for service in ("owl-bridge-a", "owl-bridge-b", "owl-db-upgrade"):
        url = flag(compose["services"][service]["command"], "--database")
        assert url == "postgresql://owl@postgres:5432/owl", service
        assert "PGPASSWORD" in compose["services"][service]["environment"], service
    assert compose["services"]["postgres"]["environment"]["POSTGRES_USER"] == "owl"
    assert compose["services"]["postgres"]["environment"]["POSTGRES_DB"] == "owl"
    for service in ("owl-bridge-a", "owl-bridge-b"):
        assert compose["services"][service]["depends_on"] == {
            "owl-db-upgrade": {"condition": "service_completed_successfully"}}


def test_ports_are_published_on_loopback_only_for_the_balancer_and_grafana(compose):
    published = {name for name, spec in compose["services"].items() if spec.get("ports")}
    assert published == {"haproxy", "grafana"}
    for service in published:
        for port in compose["services"][service]["ports"]:
            assert port.startswith("127.0.0.1:"), f"{service}: {port}"


# --- the network: static addresses, as the inventory gives them -----------------------------

def test_every_long_running_service_has_its_own_static_address_in_the_subnet_outside_ip_range(
        compose):
    [pool] = compose["networks"][NETWORK]["ipam"]["config"]
    subnet, dynamic = ipaddress.ip_network(pool["subnet"]), ipaddress.ip_network(pool["ip_range"])
    fixed = [static_ip(compose, name) for name in compose["services"] if name != "owl-db-upgrade"]
    assert len(set(fixed)) == len(fixed)
    for address in map(ipaddress.ip_address, fixed):
        assert address in subnet and address not in dynamic, address


def test_every_address_the_render_calls_is_a_services_static_address(compose, rendered):
    by_ip = addresses(compose)
    replica = load(rendered / "prometheus/prometheus-a.yml")
    called = [target for job in replica["scrape_configs"]
              for group in job.get("static_configs", []) for target in group["targets"]]
    called += [rule["replacement"] for job in replica["scrape_configs"]
               for rule in job.get("relabel_configs", [])
               if rule.get("target_label") == "__address__"]
    called += [target for manager in replica["alerting"]["alertmanagers"]
               for group in manager["static_configs"] for target in group["targets"]]
    datasource = load(rendered / "grafana/provisioning/datasources/prometheus.yml")
    called += [source["url"].removeprefix("http://").rstrip("/")
               for source in datasource["datasources"]]
    for address in called:
        assert address.rsplit(":", 1)[0] in by_ip, f"{address}: no service has this address"


@pytest.mark.parametrize("member", MEMBERS)
def test_each_alertmanager_gossips_on_its_static_ip_with_the_other_members_as_peers(
        compose, member):
    service = f"alertmanager-{member}"
    flags = flags_file(compose, service)
    own = static_ip(compose, service)
    others = {static_ip(compose, f"alertmanager-{m}") for m in MEMBERS if m != member}
    assert flag(flags, "--cluster.listen-address") == f"{own}:9094"
    assert flag(flags, "--cluster.advertise-address") == f"{own}:9094"
    assert flag(flags, "--web.listen-address") == f"{own}:9093"
    peers = [line.split("=", 1)[1] for line in flags if line.startswith("--cluster.peer=")]
    assert sorted(peers) == sorted(f"{ip}:9094" for ip in others)


@pytest.mark.parametrize("replica", REPLICAS)
def test_each_prometheus_listens_on_its_static_ip_and_alerts_every_member(
        compose, rendered, replica):
    service = f"prometheus-{replica}"
    own = static_ip(compose, service)
    assert flag(flags_file(compose, service), "--web.listen-address") == f"{own}:9090"
    config = load(host_path(compose, service, flag(compose["services"][service]["command"],
                                                   "--config.file")))
    [manager] = config["alerting"]["alertmanagers"]
    assert manager["static_configs"][0]["targets"] == [
        f"{static_ip(compose, f'alertmanager-{m}')}:9093" for m in MEMBERS]
    healthcheck = " ".join(compose["services"][service]["healthcheck"]["test"])
    assert f"http://{own}:9090/" in healthcheck


def test_haproxys_bridge_backend_is_the_two_bridge_services_on_their_listen_port(
        compose, rendered):
    sections = haproxy_sections(rendered)
    servers = [line.split()[2] for line in sections["backend owl-bridge-replicas"]
               if line.startswith("server ")]
    port = flag(compose["services"]["owl-bridge-a"]["command"], "--web.listen-address")
    assert servers == [f"{static_ip(compose, s)}:{port.rsplit(':', 1)[1]}"
                       for s in ("owl-bridge-a", "owl-bridge-b")]


@pytest.mark.parametrize("name, members", [("prometheus", [f"prometheus-{r}" for r in REPLICAS]),
                                           ("alertmanager",
                                            [f"alertmanager-{m}" for m in MEMBERS])])
def test_haproxys_other_backends_are_the_replica_services(compose, rendered, name, members):
    servers = [line.split()[2] for line in haproxy_sections(rendered)[f"backend {name}-replicas"]
               if line.startswith("server ")]
    assert [server.rsplit(":", 1)[0] for server in servers] == [
        static_ip(compose, member) for member in members]


def test_haproxys_frontends_bind_its_static_ip_on_the_ports_it_publishes(compose, rendered):
    own = static_ip(compose, "haproxy")
    bound = [line.split()[1] for header, lines in haproxy_sections(rendered).items()
             if header.startswith("frontend ") for line in lines if line.startswith("bind ")]
    assert {address.rsplit(":", 1)[0] for address in bound} == {own}
    published = {port.split(":")[2] for port in compose["services"]["haproxy"]["ports"]}
    assert {address.rsplit(":", 1)[1] for address in bound} == published


# --- mounts: what each service reads is what the render wrote -------------------------------

@pytest.mark.parametrize("service", [name for name in SINGLE if name != "owl-db-upgrade"]
                         + ["haproxy"])
def test_every_file_a_service_reads_is_mounted_into_it_and_written_by_the_render(
        compose, rendered, service):
    paths = reads(compose, service)
    assert paths, service
    for path in paths:
        host = host_path(compose, service, path)
        assert list(host.parent.glob(host.name)), f"{service} reads {path}: {host} is missing"


def test_every_mounted_host_path_is_the_example_inventory_or_one_the_render_writes(
        compose, rendered):
    for service in compose["services"]:
        for target, source in binds(compose, service).items():
            assert source == EXAMPLE or source.is_relative_to(rendered), f"{service}: {source}"
            # the render's secrets/ folder is 0700: only its files, one by one
            assert source not in (rendered, rendered / "secrets"), f"{service}: {source}"
            assert source.exists(), f"{service}: {source} is not written by the render"


def test_everything_mounted_from_the_render_is_readable_by_the_containers_users(
        compose, rendered):
    # prometheus and alertmanager run as nobody, the owl services as owl: not the host's owner
    for service in compose["services"]:
        for source in binds(compose, service).values():
            for path in [source, *(source.rglob("*") if source.is_dir() else [])]:
                mode = stat.S_IMODE(path.stat().st_mode)
                needed = 0o005 if path.is_dir() else 0o004
                assert mode & needed == needed, f"{service}: {path} is {oct(mode)}"


def test_state_is_kept_on_declared_named_volumes(compose):
    for service, spec in compose["services"].items():
        for volume in spec.get("volumes", []):
            source = volume.split(":")[0]
            if not source.startswith((".", "/")):
                assert source in compose["volumes"], f"{service}: {source}"


def test_the_default_rendered_folder_and_its_secrets_are_kept_out_of_git():
    default = "rendered-ha"  # where docs/ha.md renders, and what the compose file mounts
    assert f"--out {default} " in (REPO / "docs" / "ha.md").read_text(encoding="utf-8")
    assert f"${{OWL_RENDERED:-./{default}}}" in COMPOSE_FILE.read_text(encoding="utf-8")
    assert f"/{default}/" in (REPO / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_the_tokens_are_readable_by_the_containers_users_with_the_option(rendered):
    for token in TOKENS:
        mode = stat.S_IMODE((rendered / "secrets" / token).stat().st_mode)
        assert mode == 0o644, f"{token}: {oct(mode)}"


def test_without_the_option_the_ha_render_keeps_the_tokens_private(tmp_path):
    render(tmp_path)
    for token in TOKENS:
        assert stat.S_IMODE((tmp_path / "secrets" / token).stat().st_mode) == 0o600


# --- the rendered files, checked by the real binaries ---------------------------------------

@pytest.mark.parametrize("replica", REPLICAS)
def test_promtool_accepts_each_replicas_rendered_configuration(rendered, replica):
    output = check("promtool", "check", "config",
                   str(rendered / f"prometheus/prometheus-{replica}.yml"))
    assert "SUCCESS" in output and "WARNING" not in output


def test_amtool_accepts_the_rendered_alertmanager_yml(rendered):
    check("amtool", "check-config", str(rendered / "alertmanager/alertmanager.yml"))


def test_haproxy_accepts_the_rendered_balancer(rendered):
    assert "Configuration file is valid" in check("haproxy", "-c", "-f",
                                                  str(rendered / HAPROXY_PATH))
