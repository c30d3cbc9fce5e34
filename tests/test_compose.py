"""docker-compose.yml, the Dockerfile and .dockerignore against what the stack really needs.

No Docker engine runs here: the files are parsed, and every address, path and command they hold is
checked against a real ``owl config render --profile compose`` of ``examples/inventory.yml``, the
``owl`` command's own parser and the compose profile (``owl.render.profile``).
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
import json
import posixpath
import re
import shlex
from pathlib import Path, PurePosixPath
from typing import NamedTuple
from urllib.parse import urlsplit

import pytest
import yaml

from owl_commands import cli
from owl_commands.grafana_sync import CLIENT_HEADER, DEFAULT_LABEL_PROXY_URL
from owl.render.alertmanager import BRIDGE_RECEIVER
from owl.render.grafana import DASHBOARD_PROVIDER_PATH, DASHBOARDS_DIR, DATASOURCE_PATH
from owl.render.profile import COMPOSE_MOUNTS, DEFAULT_SCRAPE_TOKEN_FILE, DEFAULT_TOKEN_FILE
from owl.render.prometheus import FLAGS_PATH
from owl.tsdb_retention import MINIMUM, parse_retention

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "inventory.yml"
# ${NAME}, ${NAME:-default} and ${NAME:?message}, as docker compose interpolates them.
VARIABLE = re.compile(r"\$\{(\w+)(?::([-?])([^}]*))?\}")
# A version tag: no "latest", no bare major or minor; a variant suffix such as -slim-bookworm.
PINNED_IMAGE = re.compile(r"^[\w./-]+:v?\d+\.\d+\.\d+(-[\w.]+)*$")
LOOPBACK = "127.0.0.1"
# Grafana's own defaults in the grafana/grafana image (GF_PATHS_PROVISIONING, GF_PATHS_DATA).
GRAFANA_PROVISIONING_DIR = "/etc/grafana/provisioning"
GRAFANA_DATA_DIR = "/var/lib/grafana"
OWL_SERVICES = {"owl-bridge": "bridge", "owl-exporter": "exporter"}  # service -> owl subcommand


class Mount(NamedTuple):
    source: str  # an absolute host path for a bind mount or a secret, else a named volume
    target: str
    bind: bool


@pytest.fixture(scope="module")
def rendered(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("rendered").resolve()
    assert cli.main(["config", "render", "--inventory", str(EXAMPLE), "--out", str(out),
                     "--profile", "compose", "--now", "2025-07-15"]) == 0
    return out


@pytest.fixture(scope="module")
def compose(rendered) -> dict:
    """docker-compose.yml as docker compose reads it, with OWL_RENDERED set to the render."""
    environment = {"OWL_RENDERED": str(rendered), "OWL_GRAFANA_ADMIN_PASSWORD": "not-a-secret"}
    return yaml.safe_load(interpolate((REPO / "docker-compose.yml").read_text(), environment))


def interpolate(text: str, environment: dict[str, str]) -> str:
    def value(match: re.Match) -> str:
        name, operator, argument = match.groups()
        if environment.get(name):
            return environment[name]
        assert operator == "-", f"${{{name}}} is required: {argument}"
        return argument
    return VARIABLE.sub(value, text)


def load(path: Path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def mounts(compose: dict, service: str) -> list[Mount]:
    """The service's volumes (short syntax) and secrets; relative host paths are from the repo."""
    spec = compose["services"][service]
    found = []
    for volume in spec.get("volumes", []):
        source, target = volume.split(":")[:2]
        bind = source.startswith((".", "/"))
        found.append(Mount(str((REPO / source).resolve()) if bind else source, target, bind))
    for secret in spec.get("secrets", []):
        source = (REPO / compose["secrets"][secret]["file"]).resolve()
        found.append(Mount(str(source), f"/run/secrets/{secret}", True))
    return found


def mount_of(compose: dict, service: str, path: str) -> Mount:
    """The innermost mount of ``service`` holding the container path ``path``."""
    holding = [mount for mount in mounts(compose, service)
               if PurePosixPath(path).is_relative_to(mount.target)]
    assert holding, f"{service}: nothing is mounted at {path}"
    return max(holding, key=lambda mount: len(mount.target))


def host_path(compose: dict, service: str, path: str) -> Path | None:
    """The host path seen at ``path`` in ``service``; None on a named volume."""
    mount = mount_of(compose, service, path)
    if not mount.bind:
        return None
    return Path(mount.source, PurePosixPath(path).relative_to(mount.target))


def flag(command: list[str], name: str) -> str:
    """The value of ``name`` in a command, given as ``name=value`` or ``name value``."""
    for index, word in enumerate(command):
        if word.startswith(f"{name}="):
            return word.split("=", 1)[1]
        if word == name:
            return command[index + 1]
    raise AssertionError(f"{name} is missing from {command}")


def argument_files(command: list[str]) -> list[str]:
    """The files of ``@FILE`` arguments, which Prometheus and its exporters read as flags."""
    return [word.removeprefix("@") for word in command if word.startswith("@")]


def container_ports(spec: dict) -> set[int]:
    """Ports published (``ports``) or only offered to the other services (``expose``)."""
    return {int(str(port).split(":")[-1]) for port in [*spec.get("ports", []),
                                                        *spec.get("expose", [])]}


def sqlite_file(url: str) -> str:
    assert url.startswith("sqlite:////"), f"{url} is not an absolute SQLite path"
    return url.removeprefix("sqlite:///")


# --- what each service reads, from the rendered files and its own command ---------------------

def file_values(node) -> list[str]:
    """Values of every ``*_file`` key of a configuration: credentials, passwords, TLS files."""
    if isinstance(node, dict):
        return [path for key, value in node.items()
                for path in ([value] if key.endswith("_file") else file_values(value))]
    if isinstance(node, list):
        return [path for item in node for path in file_values(item)]
    return []


def prometheus_reads(rendered: Path, command: list[str]) -> list[str]:
    config = load(rendered / "prometheus" / "prometheus.yml")
    targets = [path for job in config["scrape_configs"]
               for sd in job.get("file_sd_configs", []) for path in sd["files"]]
    return [flag(command, "--config.file"), *argument_files(command), *config["rule_files"],
            *targets, *file_values(config)]


def alertmanager_reads(rendered: Path, command: list[str]) -> list[str]:
    config = load(rendered / "alertmanager" / "alertmanager.yml")
    return [flag(command, "--config.file"), *file_values(config)]


def grafana_reads(rendered: Path, command: list[str]) -> list[str]:
    return [posixpath.join(GRAFANA_PROVISIONING_DIR, PurePosixPath(path).relative_to(
        "grafana/provisioning").as_posix()) for path in (DATASOURCE_PATH, DASHBOARD_PROVIDER_PATH)]


def bridge_reads(rendered: Path, command: list[str]) -> list[str]:
    return [flag(command, "--inventory"), flag(command, "--webhook.token-file"),
            flag(command, "--scrape.token-file"), sqlite_file(flag(command, "--database"))]


READS = {
    "prometheus": prometheus_reads,
    "alertmanager": alertmanager_reads,
    "blackbox_exporter": lambda rendered, command: [flag(command, "--config.file")],
    "grafana": grafana_reads,
    "owl-bridge": bridge_reads,
    "owl-exporter": lambda rendered, command: [flag(command, "--inventory")],
}


def addresses_called(rendered: Path) -> set[str]:
    """host:port of every part of the stack that the rendered configuration calls."""
    prometheus = load(rendered / "prometheus" / "prometheus.yml")
    alertmanager = load(rendered / "alertmanager" / "alertmanager.yml")
    jobs = prometheus["scrape_configs"]
    scraped = [target for job in jobs for group in job.get("static_configs", [])
               for target in group["targets"]]
    probers = [rule["replacement"] for job in jobs for rule in job.get("relabel_configs", [])
               if rule.get("target_label") == "__address__"]
    alertmanagers = [target for manager in prometheus["alerting"]["alertmanagers"]
                     for group in manager["static_configs"] for target in group["targets"]]
    bridge = [urlsplit(hook["url"]).netloc for receiver in alertmanager["receivers"]
              if receiver["name"] == BRIDGE_RECEIVER for hook in receiver["webhook_configs"]]
    datasources = [urlsplit(source["url"]).netloc
                   for source in load(rendered / DATASOURCE_PATH)["datasources"]]
    return {*scraped, *probers, *alertmanagers, *bridge, *datasources}


# --- docker-compose.yml against the render ----------------------------------------------------

def test_every_address_the_render_calls_is_a_service_exposing_that_port(compose, rendered):
    services = compose["services"]
    for address in sorted(addresses_called(rendered)):
        host, port = address.rsplit(":", 1)
        assert host in services, f"{address}: no service {host}"
        assert int(port) in container_ports(services[host]), f"{host} does not expose {port}"


@pytest.mark.parametrize("service", ["prometheus", "alertmanager"])
def test_links_in_alerts_point_where_the_service_is_published_on_the_host(compose, service):
    spec = compose["services"][service]
    [published] = spec["ports"]
    host, port, _ = published.split(":")
    assert flag(spec["command"], "--web.external-url") == f"http://{host}:{port}/"


def test_prometheus_keeps_the_rendered_retention_which_covers_what_the_stack_reads(
        compose, rendered):
    [flags] = argument_files(compose["services"]["prometheus"]["command"])
    assert host_path(compose, "prometheus", flags) == rendered / FLAGS_PATH
    lines = (rendered / FLAGS_PATH).read_text().splitlines()
    retention = flag([line for line in lines if not line.startswith("#")],
                     "--storage.tsdb.retention.time")
    assert parse_retention(retention) >= MINIMUM  # tests/test_retention.py: the longest read


@pytest.mark.parametrize("option", ["--alertmanager.url", "--prometheus.url"])
def test_the_bridge_reaches_the_services_it_asks_for_silences_and_reports(compose, option):
    url = flag(compose["services"]["owl-bridge"]["command"], option)
    host, port = urlsplit(url).netloc.rsplit(":", 1)
    assert host in compose["services"], url
    assert int(port) in container_ports(compose["services"][host])


@pytest.mark.parametrize("service", READS)
def test_every_file_a_service_reads_is_mounted_into_it_and_exists_on_the_host(
        compose, rendered, service):
    for path in READS[service](rendered, compose["services"][service].get("command", [])):
        host = host_path(compose, service, path)
        if host is not None:
            assert list(host.parent.glob(host.name)), f"{service} reads {path}: {host} is missing"


def test_each_mount_of_the_rendered_folder_is_where_the_profile_says(compose, rendered):
    mounted = {}
    for service in compose["services"]:
        for mount in mounts(compose, service):
            if mount.bind and Path(mount.source).is_relative_to(rendered):
                relative = Path(mount.source).relative_to(rendered).as_posix()
                assert COMPOSE_MOUNTS.get(relative) == mount.target, f"{service}: {mount}"
                mounted[relative] = mount.target
    assert mounted == COMPOSE_MOUNTS


def test_each_mounted_part_of_the_rendered_folder_exists_after_a_render(compose, rendered):
    missing = {Path(mount.source).relative_to(rendered).as_posix()
               for service in compose["services"] for mount in mounts(compose, service)
               if mount.bind and Path(mount.source).is_relative_to(rendered)
               and not Path(mount.source).exists()}
    # The render writes grafana/dashboards/ only when the dashboards package has dashboards.
    may_be_missing = set() if any((REPO / "dashboards").glob("*.json")) else {DASHBOARDS_DIR}
    assert missing <= may_be_missing


def test_grafana_reads_dashboards_from_the_rendered_dashboards_folder(compose, rendered):
    provider = load(rendered / DASHBOARD_PROVIDER_PATH)["providers"][0]
    assert host_path(compose, "grafana", provider["options"]["path"]) == rendered / DASHBOARDS_DIR


def test_alertmanager_and_the_bridge_read_the_same_rendered_webhook_token(compose, rendered):
    alertmanager = load(rendered / "alertmanager" / "alertmanager.yml")
    [bridge_receiver] = [receiver for receiver in alertmanager["receivers"]
                         if receiver["name"] == BRIDGE_RECEIVER]
    [hook] = bridge_receiver["webhook_configs"]
    sent = host_path(compose, "alertmanager",
                     hook["http_config"]["authorization"]["credentials_file"])
    expected = host_path(compose, "owl-bridge", flag(compose["services"]["owl-bridge"]["command"],
                                                     "--webhook.token-file"))
    assert sent == expected == rendered / DEFAULT_TOKEN_FILE


def test_prometheus_scrapes_the_bridge_with_the_scrape_token_the_bridge_reads(compose, rendered):
    prometheus = load(rendered / "prometheus" / "prometheus.yml")
    [job] = [job for job in prometheus["scrape_configs"] if job["job_name"] == "owl_bridge"]
    sent = host_path(compose, "prometheus", job["authorization"]["credentials_file"])
    expected = host_path(compose, "owl-bridge", flag(compose["services"]["owl-bridge"]["command"],
                                                     "--scrape.token-file"))
    assert sent == expected == rendered / DEFAULT_SCRAPE_TOKEN_FILE
    assert sent.read_text(encoding="utf-8").strip()


def test_the_inventory_is_mounted_read_only_into_the_owl_services(compose):
    for service in OWL_SERVICES:
        inventory = flag(compose["services"][service]["command"], "--inventory")
        assert host_path(compose, service, inventory) == EXAMPLE
        [volume] = [volume for volume in compose["services"][service]["volumes"]
                    if volume.split(":")[1] == inventory]
        assert volume.endswith(":ro"), volume


def test_state_is_kept_on_named_volumes(compose):
    commands = {name: spec.get("command", []) for name, spec in compose["services"].items()}
    state_dirs = {
        "prometheus": flag(commands["prometheus"], "--storage.tsdb.path"),
        "alertmanager": flag(commands["alertmanager"], "--storage.path"),
        "grafana": GRAFANA_DATA_DIR,
        "owl-bridge": posixpath.dirname(sqlite_file(flag(commands["owl-bridge"], "--database"))),
        "owl-exporter": flag(commands["owl-exporter"], "--storage.path"),
    }
    for service, directory in state_dirs.items():
        mount = mount_of(compose, service, directory)
        assert not mount.bind and mount.target == directory, f"{service}: {mount}"
        assert mount.source in compose["volumes"], f"{service}: {mount.source} is not declared"


@pytest.mark.parametrize("service", OWL_SERVICES)
def test_the_owl_service_command_is_accepted_by_the_owl_parser(compose, service):
    args = cli.build_parser().parse_args(compose["services"][service]["command"])
    assert args.command == OWL_SERVICES[service]


@pytest.mark.parametrize("service", OWL_SERVICES)
def test_the_owl_service_listens_on_every_interface_at_the_port_it_exposes(compose, service):
    spec = compose["services"][service]
    host, port = flag(spec["command"], "--web.listen-address").rsplit(":", 1)
    assert host == "0.0.0.0"
    assert int(port) in container_ports(spec)


def test_the_owl_services_run_the_image_built_here_at_the_package_version(compose):
    version = importlib.metadata.version("owl-monitoring")
    for service in OWL_SERVICES:
        spec = compose["services"][service]
        assert spec["build"] == "."
        assert spec["image"] == f"owl-monitoring:{version}"


def test_every_image_is_pinned_to_a_version_tag(compose):
    for service, spec in compose["services"].items():
        assert PINNED_IMAGE.match(spec["image"]), f"{service}: {spec['image']}"


def test_ports_are_published_on_loopback_only(compose):
    for service, spec in compose["services"].items():
        for port in spec.get("ports", []):
            assert isinstance(port, str) and port.count(":") == 2, f"{service}: {port!r}"
            assert port.split(":")[0] == LOOPBACK, f"{service}: {port}"


def test_every_service_restarts_unless_stopped_and_is_health_checked_on_its_port(compose):
    for service, spec in compose["services"].items():
        assert spec.get("restart") == "unless-stopped", service
        url = re.search(r"http://[^'\" ]+", " ".join(spec["healthcheck"]["test"]))
        assert url, f"{service}: the healthcheck asks no URL"
        assert urlsplit(url.group()).port in container_ports(spec), f"{service}: {url.group()}"


# --- prom-label-proxy: each client organization of Grafana sees its own series ------------------

def test_client_data_sources_of_the_sync_reach_the_label_proxy_service(compose):
    host, port = urlsplit(DEFAULT_LABEL_PROXY_URL).netloc.rsplit(":", 1)
    assert host in compose["services"]
    assert int(port) in container_ports(compose["services"][host])
    assert flag(compose["services"][host]["command"], "--insecure-listen-address") == \
        f"0.0.0.0:{port}"


def test_the_label_proxy_enforces_the_client_label_from_the_header_the_sync_sets(compose):
    command = compose["services"]["prom-label-proxy"]["command"]
    assert flag(command, "--label") == "client"
    assert flag(command, "--header-name") == CLIENT_HEADER
    # template variables of the dashboards list label values through the proxy
    assert "--enable-label-apis" in command


def test_the_label_proxy_forwards_to_the_prometheus_service(compose):
    upstream = urlsplit(flag(compose["services"]["prom-label-proxy"]["command"], "--upstream"))
    host, port = upstream.netloc.rsplit(":", 1)
    assert host == "prometheus" and int(port) in container_ports(compose["services"]["prometheus"])


def test_the_label_proxy_is_not_published_on_the_host(compose):
    # whoever reaches it chooses the client: only Grafana, on the compose network, may
    assert "ports" not in compose["services"]["prom-label-proxy"]
    assert "prom-label-proxy" in compose["services"]["grafana"]["depends_on"]


# --- Dockerfile and .dockerignore -------------------------------------------------------------

def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of the Dockerfile, comments dropped, continued lines joined."""
    lines = [line for line in (REPO / "Dockerfile").read_text().splitlines()
             if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
    return [(words[0].upper(), words[1]) for words in
            (line.split(None, 1) for line in joined.splitlines() if line.strip())]


def instructions(name: str) -> list[str]:
    return [arguments for instruction, arguments in dockerfile() if instruction == name]


def shell_commands() -> list[list[str]]:
    """The commands of every RUN, split at ``&&``."""
    commands = [[]]
    for run in instructions("RUN"):
        for word in shlex.split(run):
            if word == "&&":
                commands.append([])
            else:
                commands[-1].append(word)
        commands.append([])
    return [command for command in commands if command]


def test_the_base_image_is_python_3_11_pinned_to_a_version_tag():
    [base] = instructions("FROM")
    assert base.startswith("python:3.11.") and PINNED_IMAGE.match(base), base


def test_the_image_runs_as_the_user_owl_with_uid_10001_who_owns_the_owl_services_state(compose):
    assert instructions("USER")[-1] == "owl"
    [useradd] = [command for command in shell_commands() if command[0] == "useradd"]
    assert useradd[-1] == "owl" and flag(useradd, "--uid") == "10001"
    bridge_state = posixpath.dirname(sqlite_file(flag(compose["services"]["owl-bridge"]["command"],
                                                      "--database")))
    exporter_state = flag(compose["services"]["owl-exporter"]["command"], "--storage.path")
    for state in (bridge_state, exporter_state):
        # a new named volume takes the owner of the image's folder it is mounted on
        [owned] = [command for command in shell_commands()
                   if command[0] == "install" and command[-1] == state]
        assert flag(owned, "-o") == "owl", state


def test_the_entrypoint_is_the_installed_owl_command():
    [entrypoint] = instructions("ENTRYPOINT")
    [command] = json.loads(entrypoint)
    [script] = importlib.metadata.entry_points(group="console_scripts", name=command)
    assert script.load() is cli.main


def test_the_build_context_holds_the_package_sources_and_nothing_private():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]

    def ignored(name: str) -> bool:
        verdict = False
        for pattern in patterns:
            if fnmatch.fnmatchcase(name, pattern.removeprefix("!")):
                verdict = not pattern.startswith("!")
        return verdict

    needed = {"setup.py", "requirements.lock", "owl", "owl_commands", "sla_bridge", "exporters",
              "alert_rules", "dashboards"}
    assert not {name for name in needed if ignored(name)}
    assert all(ignored(name) for name in (".git", ".venv", "tests", "rendered", ".env"))
