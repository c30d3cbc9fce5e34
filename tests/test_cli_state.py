"""The commands find the state `owl up` keeps: --state DIR, else $OWL_STATE, else .owl/state;
--database URL overrides it. A database that is missing is created by `owl db upgrade` and `owl
bridge` only; the other commands say so and leave no file behind."""

import os
import sqlite3
import subprocess
import sys

import pytest
import requests

from owl_commands.cli import build_parser
from sla_bridge.auth import TokenStore
from sla_bridge.storage.database import Database
from tests.conftest import REPO
from tests.support.processes import free_port, running, wait_for_http

INVENTORY = str(REPO / "examples" / "inventory.yml")


def owl(cwd, *args, state=None):
    """``owl ARGS`` run in ``cwd``, with OWL_STATE set to ``state`` (or unset)."""
    env = {key: value for key, value in os.environ.items() if key != "OWL_STATE"}
    if state is not None:
        env["OWL_STATE"] = str(state)
    return subprocess.run([sys.executable, "-m", "owl_commands.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def authenticated(database_file, token):
    db = Database(f"sqlite:///{database_file}")
    try:
        return TokenStore(db, None).authenticate(token)
    finally:
        db.dispose()


@pytest.mark.parametrize("how", ["OWL_STATE", "--state"])
def test_a_client_token_is_made_in_the_bridge_db_of_the_state_folder(tmp_path, how):
    state = tmp_path / "somewhere" / "state"
    env_state, flags = (state, []) if how == "OWL_STATE" else (None, ["--state", str(state)])
    upgraded = owl(tmp_path, "db", "upgrade", *flags, state=env_state)
    assert upgraded.returncode == 0, upgraded.stderr
    made = owl(tmp_path, "client-token", "add", "acme", "--inventory", INVENTORY, *flags,
               state=env_state)
    assert made.returncode == 0, made.stderr
    principal = authenticated(state / "bridge.db", made.stdout.strip())
    assert (principal.kind, principal.client) == ("client", "acme")
    assert not (tmp_path / "owl-bridge.db").exists()
    assert not (tmp_path / ".owl").exists()


def test_without_state_or_owl_state_the_state_folder_is_dot_owl_state(tmp_path):
    assert owl(tmp_path, "db", "upgrade").returncode == 0
    made = owl(tmp_path, "operator", "add", "alice")
    assert made.returncode == 0, made.stderr
    assert authenticated(tmp_path / ".owl" / "state" / "bridge.db", made.stdout.strip())


def test_database_overrides_the_state_folder(tmp_path):
    other = tmp_path / "other.db"
    result = owl(tmp_path, "db", "upgrade", "--database", f"sqlite:///{other}",
                 state=tmp_path / "state")
    assert result.returncode == 0, result.stderr
    assert other.exists()
    assert not (tmp_path / "state").exists()


@pytest.mark.parametrize("command", [
    ["ledger", "--month", "2025-06", "--inventory", INVENTORY],
    ["sla", "export-events"],
    ["operator", "add", "alice"],
    ["client-token", "add", "acme", "--inventory", INVENTORY],
], ids=" ".join)
def test_a_command_on_a_missing_database_says_so_and_creates_nothing(tmp_path, command):
    state = tmp_path / "state"
    result = owl(tmp_path, *command, state=state)
    assert result.returncode == 1
    assert result.stderr.startswith(f"no database at {(state / 'bridge.db').resolve()}: "
                                    "`owl up` creates one in its state folder, or create it "
                                    "with `owl db upgrade --database sqlite:///")
    assert "Traceback" not in result.stderr
    assert not state.exists()


def test_a_database_whose_schema_is_behind_is_refused_naming_the_upgrade_to_run(tmp_path):
    database = tmp_path / "old.db"
    sqlite3.connect(database).close()
    url = f"sqlite:///{database}"
    result = owl(tmp_path, "ledger", "--month", "2025-06", "--inventory", INVENTORY,
                 "--database", url)
    assert result.returncode == 1
    assert result.stderr == ("the database schema is not current: run "
                             f"`owl db upgrade --database {url}`\n")


def test_the_bridge_creates_the_database_of_owl_state_and_accepts_its_tokens(tmp_path):
    state = tmp_path / "state"
    port = free_port()
    env = {**os.environ, "OWL_STATE": str(state), "OWL_WEBHOOK_TOKEN": "webhook-token"}
    bridge = [sys.executable, "-m", "owl_commands.cli", "bridge", "--inventory", INVENTORY,
              "--web.listen-address", f"127.0.0.1:{port}"]
    with running(bridge, tmp_path / "bridge.log", env=env, cwd=tmp_path) as process:
        wait_for_http(f"http://127.0.0.1:{port}/healthz", process=process)
        made = owl(tmp_path, "client-token", "add", "acme", "--inventory", INVENTORY,
                   state=state)
        assert made.returncode == 0, made.stderr
        response = requests.get(f"http://127.0.0.1:{port}/api/v1/incidents",
                                headers={"Authorization": f"Bearer {made.stdout.strip()}"},
                                timeout=10)
    assert response.status_code == 200, response.text
    assert (state / "bridge.db").exists()


@pytest.mark.parametrize("command", [["up", "--inventory", INVENTORY], ["demo", "break"],
                                     ["demo", "repair"], ["demo", "site"]], ids=" ".join)
def test_every_state_option_defaults_to_owl_state(monkeypatch, tmp_path, command):
    monkeypatch.setenv("OWL_STATE", str(tmp_path))
    assert build_parser().parse_args(command).state == str(tmp_path)
    monkeypatch.delenv("OWL_STATE")
    assert build_parser().parse_args(command).state == ".owl/state"


@pytest.mark.parametrize("url, message", [
    ("mysql://u@localhost/owl", "--database 'mysql://u@localhost/owl' is not a database URL "
                                "such as sqlite:///PATH or postgresql://USER@HOST/NAME\n"),
    ("sqlite:///not-a-database.db", "cannot read the database sqlite:///not-a-database.db: "
                                    "file is not a database\n"),
])
def test_a_database_url_that_cannot_be_used_is_refused_in_one_line(tmp_path, url, message):
    (tmp_path / "not-a-database.db").write_text("some text\n")
    result = owl(tmp_path, "operator", "add", "alice", "--database", url)
    assert (result.returncode, result.stderr) == (1, message)


@pytest.mark.parametrize("kind, add, revoke", [
    ("operator", ["operator", "add", "alice"], ["operator", "revoke", "alice"]),
    ("client", ["client-token", "add", "acme", "--inventory", INVENTORY],
     ["client-token", "revoke", "acme"])], ids=["operator", "client"])
def test_a_revoked_token_is_refused_and_revoking_it_again_says_there_is_none(tmp_path, kind, add,
                                                                             revoke):
    assert owl(tmp_path, "db", "upgrade").returncode == 0
    made = owl(tmp_path, *add)
    database = tmp_path / ".owl" / "state" / "bridge.db"
    assert authenticated(database, made.stdout.strip()).kind == kind
    revoked = owl(tmp_path, *revoke)
    assert revoked.returncode == 0, revoked.stderr
    assert "1 token(s) revoked" in revoked.stderr
    assert authenticated(database, made.stdout.strip()) is None
    again = owl(tmp_path, *revoke)
    assert again.returncode == 1
    assert f"no valid {kind} token named" in again.stderr
