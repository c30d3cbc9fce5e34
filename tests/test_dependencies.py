"""Every third-party module the shipped packages import is declared in setup.py, directly, and
every declared dependency is used: deptry reads the imports, the wheel's metadata the declared
set (its runtime requirements, and the ``dashboards`` extra that ``dashboards.build`` needs)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.binaries import missing
from tests.support.install import REPO

SHIPPED_PACKAGES = ("owl", "owl_commands", "exporters", "sla_bridge", "alert_rules",
                    "dashboards")
SHIPPED_EXTRAS = ('extra == "dashboards"',)
# declared but never imported, on purpose
USED_WITHOUT_IMPORT = {
    "psycopg": "SQLAlchemy's postgresql+psycopg dialect imports it for the bridge",
}


def _declared(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        lines = archive.read(metadata).decode().splitlines()
    declared = []
    for line in lines:
        if line.startswith("Requires-Dist:"):
            requirement, _, marker = line.split(":", 1)[1].partition(";")
            if not marker.strip() or marker.strip() in SHIPPED_EXTRAS:
                declared.append(requirement.strip())
    return declared


def _deptry() -> str:
    found = shutil.which("deptry", path=str(Path(sys.executable).parent))
    if found is None:
        missing("deptry is not installed (the test extra of setup.py)")
    return found


def test_the_shipped_packages_import_exactly_what_setup_py_declares(installed_owl, tmp_path):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("\n".join(_declared(installed_owl.wheel)) + "\n")
    result = subprocess.run(
        [_deptry(), *SHIPPED_PACKAGES, "--requirements-files", str(requirements),
         *(f"--known-first-party={package}" for package in SHIPPED_PACKAGES),
         "--per-rule-ignores", "DEP002=" + "|".join(USED_WITHOUT_IMPORT), "--no-ansi"],
        capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success! No dependency issues found." in result.stdout + result.stderr
