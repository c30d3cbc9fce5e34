"""A real MariaDB server (Debian's mariadb-server) for a test: its own data folder, its socket and
a port on 127.0.0.1, root without a password; stopped after the block."""

from __future__ import annotations

import os
import pwd
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.support.binaries import require_binary
from tests.support.processes import free_port, running, wait_until


@dataclass(frozen=True)
class RunningMariadb:
    port: int
    socket: Path
    process: subprocess.Popen

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def sql(self, statements: str) -> str:
        """Run ``statements`` as root; their output, tab-separated, without column names."""
        result = subprocess.run(
            [require_binary("mariadb"), "--no-defaults", f"--socket={self.socket}", "-uroot",
             "--batch", "--skip-column-names", "-e", statements],
            capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    def answers(self) -> bool:
        try:
            return self.sql("SELECT 1").strip() == "1"
        except AssertionError:
            return False


@contextmanager
def running_mariadb(workdir: Path, *flags: str) -> Iterator[RunningMariadb]:
    """``flags``: more mariadbd options (``--server-id=2``, ``--log-bin``...)."""
    workdir.mkdir(parents=True, exist_ok=True)
    data = workdir / "data"
    install = subprocess.run(
        [require_binary("mariadb-install-db"), "--no-defaults", f"--datadir={data}",
         "--auth-root-authentication-method=normal", "--skip-test-db", "--user=" + _user()],
        capture_output=True, text=True, timeout=120)
    assert install.returncode == 0, install.stdout + install.stderr
    port, socket = free_port(), workdir / "mariadb.sock"
    args = [require_binary("mariadbd"), "--no-defaults", f"--datadir={data}",
            f"--socket={socket}", f"--port={port}", "--bind-address=127.0.0.1",
            f"--pid-file={workdir / 'mariadb.pid'}", "--user=" + _user(),
            "--innodb-buffer-pool-size=16M", "--skip-name-resolve", *flags]
    with running(args, workdir / "mariadb.log") as process:
        server = RunningMariadb(port, socket, process)
        wait_until(lambda: process.poll() is not None or server.answers(), timeout=60,
                   message=f"MariaDB answering on {socket}")
        assert process.poll() is None, (workdir / "mariadb.log").read_text()
        yield server


def _user() -> str:
    """mariadbd refuses to run as root unless told which user it runs as."""
    return pwd.getpwuid(os.getuid()).pw_name
