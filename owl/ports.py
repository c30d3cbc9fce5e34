"""Whether a listen address is free, and which process holds it when it is not."""

from __future__ import annotations

import errno
import socket

import psutil


def split_address(address: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:port`` for IPv6) as a host and an int port."""
    host, _, port = address.rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def is_free(address: str) -> bool:
    """True when a server could listen on ``address`` now."""
    host, port = split_address(address)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        # as servers do: a port left in TIME_WAIT by a stopped server is free
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True


def holder(port: int) -> str:
    """Who listens on ``port``: "pid 123 (prometheus --config.file=...)", or what can be said."""
    try:
        connections = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        return "a process this user cannot see"
    for connection in connections:
        if connection.status == psutil.CONN_LISTEN and connection.laddr.port == port:
            return _describe(connection.pid)
    return "a process this user cannot see"


def _describe(pid: int | None) -> str:
    if pid is None:
        return "a process of another user"
    try:
        command = " ".join(psutil.Process(pid).cmdline()) or psutil.Process(pid).name()
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return f"pid {pid}"
    if len(command) > 120:
        command = command[:117] + "..."
    return f"pid {pid} ({command})"
