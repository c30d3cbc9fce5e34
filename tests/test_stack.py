"""`owl up` checks itself: it refuses to start on a taken address, naming what holds it, and once
up it stops, non-zero, as soon as one of its components exits, saying which with the end of its
log. It runs as a user installs it (`installed_owl`)."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess

import psutil
import pytest

from owl_commands.stack import DEBIAN_PACKAGES
from tests.support.binaries import require_binary
from tests.support.install import REPO
from tests.support.processes import free_port, wait_until

INVENTORY = """
provider:
  name: OWL SYSTEMS
  smtp: {{host: 127.0.0.1, port: {smtp}, sender: monitoring@owl-systems.example}}
  stack:
    prometheus: 127.0.0.1:{prometheus}
    alertmanager: 127.0.0.1:{alertmanager}
    blackbox_exporter: 127.0.0.1:{blackbox}
    exporter: 127.0.0.1:{exporter}
    bridge: 127.0.0.1:{bridge}
clients:
  - id: demo
    name: Demo Boutique SAS
    contract: {{tier: 1, monthly_fee: "450.00", quote: DEV-1, start: 2025-02-01}}
    sites: [{{id: shop, url: "http://127.0.0.1:{demo}/"}}]
"""
NAMES = ("prometheus", "alertmanager", "blackbox", "exporter", "bridge", "demo", "smtp")


@pytest.fixture
def inventory(tmp_path):
    ports = {name: free_port() for name in NAMES}
    path = tmp_path / "inventory.yml"
    path.write_text(INVENTORY.format(**ports))
    return path, ports


def _up_args(inventory_path, ports, state) -> list[str]:
    return ["up", "--inventory", str(inventory_path), "--state", str(state),
            "--demo-site.listen-address", f"127.0.0.1:{ports['demo']}",
            "--node-exporter.listen-address", "none"]


def test_owl_up_refuses_a_taken_port_and_names_the_process_that_holds_it(
        installed_owl, inventory, tmp_path):
    require_binary("prometheus")
    path, ports = inventory
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", ports["bridge"]))
        holder.listen()
        result = installed_owl.run(*_up_args(path, ports, tmp_path / "state"))
    assert result.returncode == 1
    assert (f"owl-bridge: 127.0.0.1:{ports['bridge']} is already in use by pid {os.getpid()}"
            in result.stderr), result.stderr
    assert "owl-monitoring is up" not in result.stdout
    assert not (tmp_path / "state").exists()


@pytest.fixture
def running_stack(installed_owl, inventory, tmp_path):
    for binary in ("prometheus", "prometheus-alertmanager", "prometheus-blackbox-exporter"):
        require_binary(binary)
    path, ports = inventory
    log_path = tmp_path / "owl-up.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen([installed_owl.owl, *_up_args(path, ports, tmp_path / "s1")],
                                   stdout=log, stderr=subprocess.PIPE, text=True,
                                   cwd=installed_owl.workdir)
    try:
        wait_until(lambda: "owl-monitoring is up" in log_path.read_text()
                   or process.poll() is not None, timeout=90, message="owl up ready")
        assert process.poll() is None, process.stderr.read()
        yield process, path, ports
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)


def test_a_second_owl_up_refuses_to_start_beside_a_running_one(installed_owl, running_stack,
                                                                tmp_path):
    _process, path, ports = running_stack
    second = installed_owl.run(*_up_args(path, ports, tmp_path / "s2"))
    assert second.returncode == 1
    assert f"prometheus: 127.0.0.1:{ports['prometheus']} is already in use by pid" \
        in second.stderr
    assert "owl-monitoring is up" not in second.stdout
    assert not (tmp_path / "s2").exists(), "no second state, no second operator token"


def test_owl_up_stops_and_says_which_component_exited_with_the_end_of_its_log(running_stack):
    process, _path, _ports = running_stack
    [demo_site] = [child for child in psutil.Process(process.pid).children(recursive=True)
                   if "site" in child.cmdline() and "demo" in child.cmdline()]
    demo_site.kill()
    code = process.wait(timeout=30)
    stderr = process.stderr.read()
    assert code == 1
    assert f"demo-site exited with code {-signal.SIGKILL}; stopping the stack" in stderr
    assert "--- last lines of" in stderr and "demo-site.log ---" in stderr
    assert "/demo/*.broken" in stderr, "the end of the demo site's log"


def test_the_setup_scripts_install_every_debian_package_owl_up_runs():
    common = (REPO / "scripts" / "common.sh").read_text()
    listed = re.search(r"STACK_PACKAGES=\(([^)]*)\)", common).group(1).split()
    assert set(DEBIAN_PACKAGES.values()) <= set(listed)
