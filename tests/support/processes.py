"""Starting real servers for a test and waiting until they answer."""

from __future__ import annotations

import socket
import subprocess
import time
from contextlib import contextmanager

import requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, timeout: float = 30.0, process: subprocess.Popen | None = None,
                  ok=lambda response: response.status_code < 500) -> requests.Response:
    """Poll ``url`` until ``ok(response)``; fail early if ``process`` exits."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"{process.args[0]} exited with {process.returncode} "
                               f"before answering on {url}")
        try:
            response = requests.get(url, timeout=2)
            if ok(response):
                return response
        except requests.RequestException as exc:
            last_error = exc
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not answer within {timeout}s (last error: {last_error})")


def wait_until(predicate, timeout: float, interval: float = 0.5, message: str = "condition"):
    """Poll ``predicate`` until it returns something truthy, and return that."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{message} not reached within {timeout}s")


@contextmanager
def running(args: list[str], log_path, **popen_kwargs):
    """Run ``args`` for the duration of the block, its output in ``log_path``; stop it after."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **popen_kwargs)
        try:
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
