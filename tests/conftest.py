import pathlib

import pytest

REPO = pathlib.Path(__file__).resolve().parent.parent


@pytest.fixture
def repo_root() -> pathlib.Path:
    return REPO


@pytest.fixture
def example_inventory_path() -> pathlib.Path:
    return REPO / "examples" / "inventory.yml"
