"""owl-monitoring installed as a user gets it, for the tests that must run what users run.

``scripts/install.sh`` (the install ``demo.sh`` makes) builds the wheel and installs it with the
locked runtime set and no extras, into a virtual environment outside the checkout, once per test
session. Its programs run from a folder outside the checkout too, so the source tree can never
be imported in place of the installed package.
"""

from __future__ import annotations

import dataclasses
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]


@dataclasses.dataclass(frozen=True)
class Installed:
    venv: pathlib.Path
    wheel: pathlib.Path
    workdir: pathlib.Path  # outside the checkout: run the installed programs from here

    @property
    def owl(self) -> str:
        return str(self.venv / "bin" / "owl")

    @property
    def python(self) -> str:
        return str(self.venv / "bin" / "python")

    def run(self, *args: str, timeout: float = 60, **kwargs) -> subprocess.CompletedProcess:
        """``owl ARGS`` from the installed environment."""
        return subprocess.run([self.owl, *args], capture_output=True, text=True,
                              timeout=timeout, cwd=self.workdir, **kwargs)


@pytest.fixture(scope="session")
def installed_owl(tmp_path_factory) -> Installed:
    root = tmp_path_factory.mktemp("user-install")
    venv, wheels, workdir = root / "venv", root / "wheels", root / "work"
    workdir.mkdir()
    result = subprocess.run(["bash", str(REPO / "scripts" / "install.sh"), str(venv),
                             str(wheels)], capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        pytest.fail(f"scripts/install.sh failed:\n{result.stdout}\n{result.stderr}")
    [wheel] = wheels.glob("owl_monitoring-*.whl")
    return Installed(venv, wheel, workdir)
