"""The bearer tokens of the SLA bridge, each kept in a file and nowhere else: the one Alertmanager
sends with its deliveries, and the one Prometheus scrapes ``/metrics`` with.

Rendered configuration names the file (``credentials_file``), never the token; the bridge reads
the same file. An existing file is reused, so rendering again does not break a running bridge.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path


class TokenFileError(ValueError):
    """The token file exists but cannot serve as one."""


def ensure_token_file(path: Path, mode: int = 0o600, what: str = "webhook") -> bool:
    """Create ``path`` with a random token unless it exists: ``mode`` (0600), in a 0700
    directory if that directory is new.

    docker-compose mounts a secret file with its host owner and mode, so the containers' users
    (``nobody``, ``owl``) can read it only if it is 0644; the 0700 directory still keeps other
    users of the host out.

    Returns whether it was created. An existing file must hold a token: an empty one is refused.
    """
    path = Path(path)
    if path.exists():
        check_token_file(path, what)
        return False
    _make_private_dir(path.parent)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(secrets.token_urlsafe(32))
    return True


def _make_private_dir(directory: Path) -> None:
    """Create ``directory`` private (0700) if it is missing; its parents are ordinary."""
    if directory.exists():
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    directory.mkdir(mode=0o700)
    directory.chmod(0o700)  # whatever the umask


def check_token_file(path: Path, what: str = "webhook") -> None:
    """A ``TokenFileError`` if ``path`` exists but holds no token; a missing file is fine."""
    path = Path(path)
    if path.exists() and not path.read_text(encoding="utf-8").strip():
        raise TokenFileError(f"{path}: the {what} token file is empty")
