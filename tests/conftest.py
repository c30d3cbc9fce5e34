import pathlib

import pytest

# real Alertmanager and SMTP servers as fixtures: `alertmanager`, `smtp`; owl as a user installs
# it: `installed_owl`
pytest_plugins = ("tests.support.alertmanager", "tests.support.smtp", "tests.support.install")

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> pathlib.Path:
    return REPO


@pytest.fixture
def example_inventory_path() -> pathlib.Path:
    return REPO / "examples" / "inventory.yml"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> str:
    """Runs the test once on SQLite and once on PostgreSQL, each time on an empty database."""
    from tests.support.databases import database_url_for

    return database_url_for(request.param, tmp_path)
