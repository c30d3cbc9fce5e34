import os
import pathlib

import pytest

# real Alertmanager and SMTP servers as fixtures: `alertmanager`, `smtp`; owl as a user installs
# it: `installed_owl`
pytest_plugins = ("tests.support.alertmanager", "tests.support.smtp", "tests.support.install")

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session", autouse=True)
def inventory_cache_of_the_session(tmp_path_factory):
    """The inventory cache (owl.inventory.cache) of the tests and the commands they start, in a
    folder of their own rather than the user's."""
    os.environ["OWL_CACHE_DIR"] = str(tmp_path_factory.mktemp("owl-cache"))


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


@pytest.fixture
def tb(database_url):
    """A bridge on ``tests.support.bridge.INVENTORY`` whose clock stands at 10:00 in Paris on
    Friday 7 March 2025 (the test moves it), once on each database."""
    from tests.support.bridge import at, make_bridge

    bridge = make_bridge(database_url, at("2025-03-07 10:00"))
    yield bridge
    bridge.bridge.db.dispose()
