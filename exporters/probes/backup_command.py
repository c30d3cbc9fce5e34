"""Running a backup tool (``restic``, ``borg``) as a child process, its secrets in its environment.

The child gets the exporter's environment without the variables that name a repository or carry a
password (so a stray ``RESTIC_PASSWORD`` of the service cannot stand in for the inventory's), plus
the ones the caller gives: ``RESTIC_PASSWORD_FILE``, ``BORG_PASSCOMMAND`` and so on. Secrets never
appear on a command line (``ps`` shows those) nor in logs. Cache locations (``RESTIC_CACHE_DIR``,
``BORG_BASE_DIR``, ``XDG_CACHE_HOME``) are passed through.

Each child runs in its own session and the whole process group is killed when its time is up
(``restic`` starts ``ssh`` for ``sftp:`` repositories). Its standard input is ``/dev/null``: a tool
that would ask a question gets end-of-file instead of hanging.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from exporters.probe import ProbeError

# Never inherited by a child: which repository, and how to unlock it, come from the inventory.
_WITHHELD = ("RESTIC_REPOSITORY", "RESTIC_REPOSITORY_FILE", "RESTIC_PASSWORD",
             "RESTIC_PASSWORD_FILE", "RESTIC_PASSWORD_COMMAND", "BORG_REPO", "BORG_PASSPHRASE",
             "BORG_PASSCOMMAND", "BORG_PASSPHRASE_FD", "BORG_NEW_PASSPHRASE")
MAX_MESSAGE = 300


class ToolError(ProbeError):
    """The tool could not be run, did not finish in time, or exited with an error."""


@dataclass(frozen=True)
class ToolOutput:
    returncode: int
    stdout: bytes
    stderr: str


def child_environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The exporter's environment without repositories and passwords, plus ``extra``."""
    env = {name: value for name, value in os.environ.items() if name not in _WITHHELD}
    env.update(extra)
    return env


def find_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        package = {"borg": "borgbackup"}.get(name, name)
        raise ToolError(f"{name} is not installed on the exporter's host "
                        f"(Debian package {package})")
    return path


def run_tool(args: list[str], env: Mapping[str, str], timeout: float,
             cwd: str | Path | None = None, stdout_path: Path | None = None) -> ToolOutput:
    """Run ``args``; stdout is returned, or written to ``stdout_path`` when given.

    Raises :class:`ToolError` when the tool cannot start or runs past ``timeout`` seconds. A
    non-zero exit status is returned, not raised: callers tell a failed check from a broken tool.
    """
    sink = open(stdout_path, "wb") if stdout_path is not None else subprocess.PIPE
    try:
        process = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=sink,
                                   stderr=subprocess.PIPE, env=dict(env), cwd=cwd,
                                   start_new_session=True)
    except OSError as exc:
        raise ToolError(f"cannot run {Path(args[0]).name}: {exc.strerror}") from None
    finally:
        if stdout_path is not None:
            sink.close()
    try:
        out, err = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        _kill_group(process)
        raise ToolError(f"{Path(args[0]).name} {args[1]}: no answer within {timeout:g}s, "
                        "stopped") from None
    return ToolOutput(process.returncode, out or b"", err.decode("utf-8", errors="replace"))


def _kill_group(process: subprocess.Popen):
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    process.communicate()


def summary(stderr: str) -> str:
    """The tool's own explanation, short: its last lines that say something, no traceback."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if "Traceback (most recent call last):" in lines:  # borg prints its message before and after
        lines = lines[:lines.index("Traceback (most recent call last):")]
    text = " / ".join(lines[-2:]) if lines else "no message"
    return text if len(text) <= MAX_MESSAGE else text[:MAX_MESSAGE - 3] + "..."
