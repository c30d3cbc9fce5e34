"""Connecting to a database that cannot answer fails in seconds, or waits where it helps."""

import socket
import time

import pytest
from sqlalchemy.exc import OperationalError

from sla_bridge.storage.database import CONNECT_TIMEOUT_SECONDS, Database, DatabaseUnreachable


@pytest.fixture
def silent_server():
    """A port that accepts connections (the kernel completes them) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield listener.getsockname()[1]


def seconds_to_fail(url: str) -> float:
    """How long connecting to ``url`` takes to fail (it must fail)."""
    db = Database(url)
    started = time.monotonic()
    try:
        with pytest.raises(OperationalError):
            db.ping()
    finally:
        db.dispose()
    return time.monotonic() - started


def test_a_server_that_never_answers_fails_the_connection_within_the_connect_timeout(
        silent_server):
    url = f"postgresql://owl:owl@127.0.0.1:{silent_server}/owl"
    assert seconds_to_fail(url) < CONNECT_TIMEOUT_SECONDS + 5


def test_a_connect_timeout_in_the_url_wins(silent_server):
    url = f"postgresql://owl:owl@127.0.0.1:{silent_server}/owl?connect_timeout=2"
    assert seconds_to_fail(url) < 5


def test_an_sqlite_file_that_cannot_be_opened_is_not_waited_for(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'missing-folder' / 'bridge.db'}")
    started = time.monotonic()
    try:
        with pytest.raises(DatabaseUnreachable, match="unable to open database file"):
            db.wait_until_reachable(timeout=60)
    finally:
        db.dispose()
    assert time.monotonic() - started < 5
