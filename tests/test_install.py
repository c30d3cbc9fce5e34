"""owl-monitoring as a user installs it: the wheel, without extras, in a virtual environment of
its own outside the checkout (``scripts/install.sh``, as ``demo.sh`` and the Dockerfile do)."""

from __future__ import annotations

import json
import re
import subprocess
import zipfile

import pytest
import requests
from packaging.requirements import Requirement

from tests.support.processes import free_port, running, wait_for_http
from tests.support.install import REPO

SHIPPED_PACKAGES = ("owl", "owl_commands", "exporters", "sla_bridge", "alert_rules",
                    "dashboards")
# modules of shipped packages that need an extra, and the module that extra brings
NEEDS_EXTRA = {"dashboards.build": "grafana_foundation_sdk"}

LIST_MODULES = """
import importlib, json, pkgutil, sys
names = []
for package in sys.argv[1:]:
    module = importlib.import_module(package)
    names.append(package)
    names += [info.name for info in pkgutil.walk_packages(module.__path__, package + ".")]
print(json.dumps(names))
"""

IMPORT_EACH = """
import importlib, json, sys
failures = {}
for name in json.loads(sys.argv[1]):
    try:
        importlib.import_module(name)
    except ImportError as exc:
        failures[name] = getattr(exc, "name", None) or str(exc)
print(json.dumps({"failures": failures,
                  "owl": importlib.import_module("owl").__file__}))
"""

LIST_COMMANDS = """
import argparse, json
from owl_commands.cli import build_parser

def walk(parser, path):
    yield path
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from walk(sub, path + [name])

print(json.dumps(list(walk(build_parser(), []))))
"""


def _python(installed, script: str, *args: str) -> str:
    result = subprocess.run([installed.python, "-P", "-c", script, *args], capture_output=True,
                            text=True, timeout=120, cwd=installed.workdir)
    assert result.returncode == 0, result.stderr
    return result.stdout


def _tracked(*paths: str) -> set[str]:
    listed = subprocess.run(["git", "ls-files", *paths], capture_output=True, text=True,
                            cwd=REPO, check=True).stdout.split()
    return set(listed)


def test_the_wheel_holds_every_file_of_the_shipped_packages(installed_owl):
    with zipfile.ZipFile(installed_owl.wheel) as wheel:
        in_wheel = {name for name in wheel.namelist() if ".dist-info/" not in name}
    missing = _tracked(*SHIPPED_PACKAGES) - in_wheel
    assert missing == set()
    for data in ("alert_rules/sites.yml", "alert_rules/tests/sites_test.yml",
                 "dashboards/sla.json", "exporters/catalogue/catalogue.json",
                 "sla_bridge/openapi.yml", "sla_bridge/migrations/env.py",
                 "sla_bridge/migrations/versions/0001_initial_schema.py"):
        assert data in in_wheel


def test_every_module_of_every_shipped_package_imports_without_extras(installed_owl):
    modules = json.loads(_python(installed_owl, LIST_MODULES, *SHIPPED_PACKAGES))
    assert "sla_bridge.engine.ledger" in modules and "exporters.probes.cms" in modules
    report = json.loads(_python(installed_owl, IMPORT_EACH, json.dumps(modules)))
    assert report["failures"] == NEEDS_EXTRA
    assert report["owl"].startswith(str(installed_owl.venv)), "the checkout shadowed the install"


def test_the_installed_environment_is_consistent_and_exactly_the_lock(installed_owl):
    checked = subprocess.run([installed_owl.python, "-m", "pip", "check"], capture_output=True,
                             text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout
    listed = subprocess.run([installed_owl.python, "-m", "pip", "list", "--format", "json"],
                            capture_output=True, text=True, timeout=120, check=True).stdout
    installed = {_normal(p["name"]): p["version"] for p in json.loads(listed)}
    for own in ("owl-monitoring", "pip", "setuptools"):  # the package and the venv's tools
        installed.pop(own, None)
    assert installed == _locked()


def test_owl_version_and_help_work_for_every_subcommand(installed_owl):
    version = installed_owl.run("--version")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"owl-monitoring {_setup_version()}"
    commands = json.loads(_python(installed_owl, LIST_COMMANDS))
    assert ["check"] in commands and ["sla", "replay"] in commands
    for command in commands:
        result = installed_owl.run(*command, "--help")
        assert result.returncode == 0, (command, result.stderr)
        assert result.stdout.startswith("usage: owl"), command


def test_the_installed_exporter_and_bridge_serve_metrics_and_health(installed_owl, tmp_path):
    inventory = str(REPO / "examples" / "inventory.yml")
    exporter, bridge = free_port(), free_port()
    token_file = tmp_path / "webhook-token"
    token_file.write_text("a-webhook-token\n")
    scrape_token_file = tmp_path / "scrape-token"
    scrape_token_file.write_text("a-scrape-token\n")
    with running([installed_owl.owl, "exporter", "--inventory", inventory,
                  "--web.listen-address", f"127.0.0.1:{exporter}"], tmp_path / "exporter.log",
                 cwd=installed_owl.workdir) as exporter_process, \
         running([installed_owl.owl, "bridge", "--inventory", inventory,
                  "--database", f"sqlite:///{tmp_path / 'bridge.db'}",
                  "--web.listen-address", f"127.0.0.1:{bridge}",
                  "--webhook.token-file", str(token_file),
                  "--scrape.token-file", str(scrape_token_file)], tmp_path / "bridge.log",
                 cwd=installed_owl.workdir) as bridge_process:
        for port, process, metric, headers in (
                (exporter, exporter_process, "owl_probe_success", {}),
                (bridge, bridge_process, "owl_incidents_open",
                 {"Authorization": "Bearer a-scrape-token"})):
            health = wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60,
                                   process=process)
            assert health.status_code == 200
            metrics = requests.get(f"http://127.0.0.1:{port}/metrics", headers=headers,
                                   timeout=10)
            assert metrics.status_code == 200
            assert metric in metrics.text
        ready = requests.get(f"http://127.0.0.1:{bridge}/readyz", timeout=10)
        assert ready.json()["status"] == "ok"
        assert requests.get(f"http://127.0.0.1:{bridge}/metrics", timeout=10).status_code == 401
        # the pages come with their templates, styles and French catalogue
        signin = requests.get(f"http://127.0.0.1:{bridge}/signin", timeout=10)
        assert signin.status_code == 200 and "Se souvenir de cet appareil" in signin.text
        styles = requests.get(f"http://127.0.0.1:{bridge}/static/owl.css", timeout=10)
        assert styles.status_code == 200 and styles.headers["Content-Type"].startswith("text/css")


# --- the lock --------------------------------------------------------------------------------

def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    pins = re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)",
                      (REPO / "requirements.lock").read_text(), flags=re.M)
    return {_normal(name): version for name, version in pins}


def _setup_version() -> str:
    return re.search(r'version="([^"]+)"', (REPO / "setup.py").read_text()).group(1)


def _runtime_requirements(wheel) -> list[Requirement]:
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    requirements = [Requirement(line.split(":", 1)[1]) for line in lines
                    if line.startswith("Requires-Dist:")]
    return [r for r in requirements if r.marker is None]


def test_the_lock_pins_every_runtime_requirement_within_its_range(installed_owl):
    locked = _locked()
    for requirement in _runtime_requirements(installed_owl.wheel):
        name = _normal(requirement.name)
        assert name in locked, f"{name} is not in requirements.lock: run scripts/lock.sh"
        assert requirement.specifier.contains(locked[name]), \
            f"{name}=={locked[name]} is outside {requirement.specifier}: run scripts/lock.sh"


def test_every_pin_of_the_lock_carries_its_hashes():
    text = (REPO / "requirements.lock").read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 6)[-1])
    pins = [entry for entry in entries if "==" in entry.split("\n", 1)[0]]
    assert len(pins) == len(_locked())
    for entry in pins:
        assert "--hash=sha256:" in entry, entry.split()[0]


@pytest.mark.parametrize("path", ["Dockerfile", "scripts/common.sh"])
def test_the_deployed_installs_take_the_lock_with_its_hashes_and_no_other_dependency(path):
    text = (REPO / path).read_text().replace("\\\n", " ")
    installs = [command.strip() for command in re.split(r"&&|\n", text)
                if re.search(r"pip\"? install", command) and "--upgrade pip" not in command]
    from_lock = [c for c in installs if "-r " in c]
    assert from_lock and all(re.search(r"--require-hashes -r \S*requirements\.lock", c)
                             for c in from_lock)
    own = [c for c in installs if "-r " not in c and "-e " not in c]
    assert own and all("--no-deps" in c for c in own), own


def test_the_docker_build_context_includes_the_lock():
    ignore = (REPO / ".dockerignore").read_text().splitlines()
    assert "!requirements.lock" in ignore
