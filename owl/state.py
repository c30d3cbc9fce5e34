"""Where the stack keeps its state: the one folder that ``owl up`` fills and other commands read.

The folder is ``--state DIR``, else the environment variable ``OWL_STATE``, else ``.owl/state``
under the working directory. It holds the rendered configuration, the data of Prometheus and
Alertmanager, logs, tokens and the bridge's SQLite database, ``DIR/bridge.db``, which the commands
that take ``--database URL`` use unless that option names another database.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

DEFAULT_STATE_DIR = ".owl/state"
STATE_VARIABLE = "OWL_STATE"
STATE_DEFAULT_HELP = f"${STATE_VARIABLE}, else {DEFAULT_STATE_DIR}"


@dataclasses.dataclass(frozen=True)
class StatePaths:
    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def database(self) -> Path:
        return self.root / "bridge.db"

    @property
    def database_url(self) -> str:
        return f"sqlite:///{self.database.resolve()}"

    @property
    def webhook_token_file(self) -> Path:
        return self.root / "secrets" / "bridge-webhook-token"

    @property
    def scrape_token_file(self) -> Path:
        return self.root / "secrets" / "bridge-scrape-token"

    @property
    def web_secret_file(self) -> Path:
        return self.root / "secrets" / "bridge-web-secret"

    @property
    def operator_token_file(self) -> Path:
        return self.root / "secrets" / "demo-operator-token"


def default_state_dir() -> str:
    """The state folder when no ``--state`` is given: ``$OWL_STATE``, else ``.owl/state``."""
    return os.environ.get(STATE_VARIABLE) or DEFAULT_STATE_DIR


def add_state_option(parser, purpose: str = "the state folder of `owl up`") -> None:
    """``--state DIR`` on ``parser``, its default read from the environment now."""
    parser.add_argument("--state", default=default_state_dir(), metavar="DIR",
                        help=f"{purpose} (default: {STATE_DEFAULT_HELP})")


def add_database_options(parser) -> None:
    """``--state DIR`` and ``--database URL``; read the chosen database with
    :func:`database_url`."""
    add_state_option(parser, "the state folder of `owl up`, whose bridge.db is the database")
    parser.add_argument("--database", metavar="URL",
                        help="SQLAlchemy URL of the database instead: sqlite:///PATH or "
                        "postgresql://... (default: sqlite:///DIR/bridge.db)")


def database_url(args) -> str:
    """``--database``, else the SQLite database of the state folder."""
    return args.database or StatePaths(Path(args.state)).database_url
