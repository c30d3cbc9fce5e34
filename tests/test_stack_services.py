"""The command lines ``owl up`` runs Prometheus and Alertmanager with (``owl_commands.stack.services``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from owl_commands import stack
from owl.inventory import load_inventory

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "inventory.yml"


def command_of(name: str, tmp_path: Path) -> list[str]:
    listed = stack.services(load_inventory(EXAMPLE), stack.StatePaths(tmp_path), EXAMPLE,
                            "127.0.0.1:9182", None)
    [args] = [service.args for service in listed if service.name == name]
    return args


@pytest.mark.parametrize("name, address", [("prometheus", "127.0.0.1:9090"),
                                           ("alertmanager", "127.0.0.1:9093")])
def test_links_in_alerts_point_at_the_address_owl_up_runs_the_service_at(name, address,
                                                                         tmp_path):
    args = command_of(name, tmp_path)
    assert f"--web.listen-address={address}" in args
    assert f"--web.external-url=http://{address}/" in args
