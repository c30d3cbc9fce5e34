"""A real MariaDB server (Debian's mariadb-server) for a test: its own data folder, its socket and
a port on 127.0.0.1, root without a password; stopped after the block."""

from __future__ import annotations

import os
import pwd
import subprocess
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from tests.support.binaries import require_binary
from tests.support.processes import free_port, running, wait_until

EXPORTER_USER = "exporter"
EXPORTER_PASSWORD = "exporter-secret"
# what docs/enroll-server.md grants the exporter (SLAVE MONITOR: SHOW SLAVE STATUS on 10.5+)
GRANTS = (f"CREATE USER '{EXPORTER_USER}'@'127.0.0.1' IDENTIFIED BY '{EXPORTER_PASSWORD}' "
          f"WITH MAX_USER_CONNECTIONS 3; "
          f"GRANT PROCESS, REPLICATION CLIENT, SLAVE MONITOR, SELECT ON *.* "
          f"TO '{EXPORTER_USER}'@'127.0.0.1';")


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


@contextmanager
def running_replicated_pair(workdir: Path) -> Iterator[tuple[RunningMariadb, RunningMariadb]]:
    """A primary and its replica, replicating a ``wp`` schema, each with the exporter's user."""
    with ExitStack() as stack:
        primary = stack.enter_context(running_mariadb(
            workdir / "primary", "--server-id=1", f"--log-bin={workdir / 'primary' / 'bin'}",
            "--binlog-format=ROW"))
        replica = stack.enter_context(running_mariadb(workdir / "replica", "--server-id=2"))
        for server in (primary, replica):  # each its own exporter user: not replicated
            server.sql("SET sql_log_bin = 0; " + GRANTS)
        _replicate(primary, replica)
        yield primary, replica


def _replicate(primary: RunningMariadb, replica: RunningMariadb) -> None:
    primary.sql("CREATE USER 'repl'@'127.0.0.1' IDENTIFIED BY 'repl'; "
                "GRANT REPLICATION SLAVE ON *.* TO 'repl'@'127.0.0.1';")
    replica.sql(f"CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT={primary.port}, "
                "MASTER_USER='repl', MASTER_PASSWORD='repl', MASTER_USE_GTID=slave_pos; "
                "START SLAVE;")
    primary.sql("CREATE DATABASE wp; CREATE TABLE wp.wp_posts (id INT PRIMARY KEY "
                "AUTO_INCREMENT, post_content TEXT) ENGINE=InnoDB; "
                "INSERT INTO wp.wp_posts (post_content) VALUES ('Bonjour');")
    wait_until(lambda: replica.sql("SELECT COUNT(*) FROM wp.wp_posts").strip() == "1"
               if "wp" in replica.sql("SHOW DATABASES") else False,
               timeout=30, message="the replica copying the primary")


def exporter_args(workdir: Path, server: RunningMariadb, port: int,
                  web_config: Path | None = None) -> list[str]:
    """Debian's mysqld_exporter on 127.0.0.1:``port`` watching ``server`` as the exporter's
    user (its credentials in a my.cnf of its own), with the tables collector."""
    my_cnf = workdir / f"my-{port}.cnf"
    my_cnf.write_text(f"[client]\nuser={EXPORTER_USER}\npassword={EXPORTER_PASSWORD}\n"
                      f"host=127.0.0.1\nport={server.port}\n", encoding="utf-8")
    my_cnf.chmod(0o600)
    args = [require_binary("prometheus-mysqld-exporter"), f"--config.my-cnf={my_cnf}",
            f"--web.listen-address=127.0.0.1:{port}", "--collect.info_schema.tables"]
    return args + ([f"--web.config.file={web_config}"] if web_config else [])
