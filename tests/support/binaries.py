"""Finding the real binaries the tests run.

Under ``CI=true`` a missing binary is a failure: `.ci/run` installs every package the tests need,
so a missing one means the test environment is broken, not that the test does not apply.
"""

from __future__ import annotations

import os
import shutil

import pytest

from owl_commands.stack import DEBIAN_PACKAGES

# binary -> Debian package that provides it: those `owl up` runs, and those only the tests use
PACKAGES = {
    **DEBIAN_PACKAGES,
    "promtool": "prometheus",
    "amtool": "prometheus-alertmanager",
    "restic": "restic",
    "borg": "borgbackup",
    "whatweb": "whatweb",
    "mariadbd": "mariadb-server",
    "mariadb-install-db": "mariadb-server",
    "mariadb": "mariadb-client",
    "prometheus-mysqld-exporter": "prometheus-mysqld-exporter",
    "prometheus-postgres-exporter": "prometheus-postgres-exporter",
}
# servers' binaries (mariadbd) are in sbin, which a user's PATH may not hold
SBIN = ("/usr/sbin", "/sbin")


def missing(message: str):
    """A part of the test environment is missing: a failure under CI=true, else a skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def require_binary(name: str) -> str:
    """The path of ``name``; fails under CI=true, skips elsewhere, when it is not installed."""
    path = shutil.which(name) or shutil.which(name, path=os.pathsep.join(SBIN))
    if path:
        return path
    missing(f"{name} is not installed (Debian package {PACKAGES.get(name, name)})")

