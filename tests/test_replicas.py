"""Bridge replicas start safely, as real `owl bridge` processes: two started at the same moment on
one empty database both come up, migrate it once and record each client's contract once; a
bridge started before its database server waits for it, and gives up with a clear message.

Before: on an empty PostgreSQL schema one of two replicas exited in 2 of 5 starts (both ran the
migrations), the contract snapshots were written twice in 1 of 5, and a bridge whose PostgreSQL was
down exited after 2 s.
"""

from __future__ import annotations

import re
import subprocess
import sys
import threading
import time
from contextlib import ExitStack

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from owl.inventory import parse_inventory
from sla_bridge.contract_terms import terms_from_inventory
from sla_bridge.service import SlaService
from sla_bridge.service.contract_history import record_changed_contracts
from sla_bridge.storage.database import Database
from sla_bridge.storage.schema import Event
from tests.support.bridge import INVENTORY, WEBHOOK_TOKEN, at
from tests.support.databases import postgres_url, reset_postgres
from tests.support.processes import free_port, running, wait_for_http, wait_until
from tests.support.tcp_relay import TcpRelay

ROUNDS = 5
CLIENTS = {"acme", "globex", "trial"}  # tests.support.bridge.INVENTORY's
ENV = {"OWL_WEBHOOK_TOKEN": WEBHOOK_TOKEN, "PATH": "/usr/bin:/bin"}


@pytest.fixture
def inventory(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(INVENTORY)
    return path


def bridge_command(inventory, url: str, port: int, *flags: str) -> list[str]:
    return [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory", str(inventory),
            "--database", url, "--web.listen-address", f"127.0.0.1:{port}", *flags]


def healthy(response) -> bool:
    return response.status_code == 200


def contract_events(db: Database) -> dict[str, int]:
    """How many ``contract`` events each client has."""
    with db.read() as session:
        return dict(session.execute(select(Event.client, func.count())
                                    .where(Event.kind == "contract").group_by(Event.client)).all())


def start_replicas_together(inventory, url: str, logs: list) -> list[str]:
    """Start two bridges on ``url`` at the same moment; what went wrong with them, if anything."""
    ports = [free_port(), free_port()]
    problems = []
    with ExitStack() as stack:
        processes = [stack.enter_context(running(bridge_command(inventory, url, port), log,
                                                 env=ENV))
                     for port, log in zip(ports, logs)]
        for process, port, log in zip(processes, ports, logs):
            try:
                wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=60, process=process,
                              ok=healthy)
            except (RuntimeError, TimeoutError) as exc:
                problems.append(f"{exc}:\n{log.read_text()[-2000:]}")
    db = Database(url)
    try:
        if not db.is_current():
            problems.append("the schema is not at the latest migration")
        contracts = contract_events(db)
    finally:
        db.dispose()
    if contracts != {client: 1 for client in CLIENTS}:
        problems.append(f"contract events per client: {contracts}")
    return problems


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_two_bridges_started_together_on_an_empty_database_both_come_up_and_record_once(
        tmp_path, inventory, kind):
    failed = {}
    for round_ in range(ROUNDS):
        if kind == "postgresql":
            url = postgres_url()
            reset_postgres(url)
        else:
            url = f"sqlite:///{tmp_path / f'round{round_}.db'}"
        logs = [tmp_path / f"round{round_}-replica{i}.log" for i in (1, 2)]
        problems = start_replicas_together(inventory, url, logs)
        if problems:
            failed[round_] = problems
    print(f"\n{kind}: {ROUNDS - len(failed)} of {ROUNDS} rounds passed")
    assert not failed, "\n\n".join(f"round {r}: " + "\n".join(p) for r, p in failed.items())


def test_a_replica_starting_while_another_records_the_contracts_waits_and_records_none(
        database_url):
    """The replicas' start-up transactions, made to overlap: the second waits for the first to
    commit, then finds its snapshots (it used to read none and record them all again)."""
    first, second = Database(database_url), Database(database_url)
    first.upgrade()
    terms = terms_from_inventory(parse_inventory(INVENTORY, "i"))
    replica = SlaService(second, terms, lambda: at("2025-03-07 10:00"))
    recorded = []
    try:
        with first.write() as session:
            assert record_changed_contracts(session, terms, replica.clock) == sorted(CLIENTS)
            thread = threading.Thread(target=lambda: recorded.append(replica.record_contracts()))
            thread.start()
            thread.join(0.5)
            assert thread.is_alive(), "the second replica did not wait for the first"
        thread.join(30)
        assert recorded == [[]]
        assert contract_events(first) == {client: 1 for client in CLIENTS}
    finally:
        first.dispose()
        second.dispose()


def relayed_postgres_url(relay: TcpRelay) -> str:
    return make_url(postgres_url()).set(host="127.0.0.1", port=relay.port).render_as_string(
        hide_password=False)


def postgres_address() -> tuple[str, int]:
    url = make_url(postgres_url())
    return url.host or "127.0.0.1", url.port or 5432


def shown_url(relay: TcpRelay) -> str:
    """The relayed URL as the bridge shows it: its driver, no password."""
    return make_url(relayed_postgres_url(relay)).set(drivername="postgresql+psycopg") \
        .render_as_string(hide_password=True)


def retry_line(relay: TcpRelay) -> re.Pattern:
    return re.compile(re.escape(f"database unreachable at {shown_url(relay)} (") +
                      r".+\), retrying in \d+s")


def password_shown(text: str) -> bool:
    password = make_url(postgres_url()).password
    return bool(password) and f":{password}@" in text


def test_a_bridge_started_while_postgresql_is_unreachable_comes_up_once_it_answers(
        tmp_path, inventory):
    reset_postgres(postgres_url())
    log = tmp_path / "bridge.log"
    port = free_port()
    with TcpRelay(postgres_address()) as relay:
        command = bridge_command(inventory, relayed_postgres_url(relay), port,
                                 "--storage.wait-timeout", "2m")
        retries = retry_line(relay)
        with running(command, log, env=ENV) as process:
            wait_until(lambda: len(retries.findall(log.read_text())) >= 2, timeout=30,
                       message="two 'database unreachable' log lines")
            assert process.poll() is None, log.read_text()
            relay.open()
            started = time.monotonic()
            wait_for_http(f"http://127.0.0.1:{port}/healthz", timeout=30, process=process,
                          ok=healthy)
            print(f"\nup {time.monotonic() - started:.1f}s after PostgreSQL became reachable")
    text = log.read_text()
    assert not password_shown(text), "the password is logged"
    assert "Traceback" not in text


@pytest.mark.parametrize("wait, retries", [("0", False), ("3s", True)])
def test_a_bridge_whose_postgresql_stays_unreachable_gives_up_after_its_wait_timeout(
        inventory, wait, retries):
    with TcpRelay(postgres_address()) as relay:  # never opened: every connection is refused
        command = bridge_command(inventory, relayed_postgres_url(relay), free_port(),
                                 "--storage.wait-timeout", wait)
        started = time.monotonic()
        finished = subprocess.run(command, env=ENV, capture_output=True, text=True, timeout=60)
        seconds = time.monotonic() - started
    assert finished.returncode == 1, finished.stderr
    last = finished.stderr.strip().splitlines()[-1]
    assert last.startswith(f"database unreachable at {shown_url(relay)}"), finished.stderr
    assert "the bridge is not started (--storage.wait-timeout" in last
    assert bool(retry_line(relay).search(finished.stderr)) == retries, finished.stderr
    assert not password_shown(finished.stderr) and "Traceback" not in finished.stderr
    assert seconds >= 3 if retries else seconds < 15
