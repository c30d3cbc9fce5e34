"""The layers only point down, checked by import-linter against `.importlinter`: the commands
(`owl_commands`) on top, the bridge and the exporter beside each other, the foundation (`owl`)
below; the SLA engine imports nothing of the project outside itself."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
from pathlib import Path

from tests.support.binaries import missing
from tests.support.install import REPO


def _lint_imports() -> str:
    found = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if found is None:
        missing("lint-imports is not installed (import-linter, the test extra of setup.py)")
    return found


def test_every_import_contract_is_kept():
    result = subprocess.run([_lint_imports(), "--config", str(REPO / ".importlinter"),
                             "--no-cache"], capture_output=True, text=True, timeout=300,
                            cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = (REPO / ".importlinter").read_text().count("[importlinter:contract:")
    assert f"{contracts} kept, 0 broken" in result.stdout


def test_the_engine_contract_forbids_every_other_module_of_the_bridge():
    config = configparser.ConfigParser()
    config.read(REPO / ".importlinter")
    forbidden = set(config["importlinter:contract:engine"]["forbidden_modules"].split())
    siblings = {f"sla_bridge.{path.stem}" for path in (REPO / "sla_bridge").iterdir()
                if path.stem != "engine" and not path.stem.startswith("__")
                and (path.suffix == ".py" or (path / "__init__.py").exists())}
    assert siblings - forbidden == set()
    assert {"owl", "owl_commands", "exporters", "alert_rules", "dashboards"} <= forbidden
