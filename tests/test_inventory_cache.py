"""The inventory cache: a file loaded again is read back validated, never stale, never from a
folder someone else could write to."""

import pytest

from owl.inventory import InventoryError, cache, load_inventory
from owl.inventory import loading
from tests.test_inventory import VALID


@pytest.fixture
def cache_dir(tmp_path, monkeypatch):
    folder = tmp_path / "cache"
    monkeypatch.setenv("OWL_CACHE_DIR", str(folder))
    return folder


@pytest.fixture
def parses(monkeypatch):
    """How many times the YAML was parsed."""
    count = []
    parse = loading.parse_inventory

    def counted(*args):
        count.append(1)
        return parse(*args)

    monkeypatch.setattr(loading, "parse_inventory", counted)
    return count


def write(tmp_path, text, name="inventory.yml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_an_inventory_loaded_again_is_read_back_without_parsing(tmp_path, cache_dir, parses):
    path = write(tmp_path, VALID)
    first = load_inventory(path)
    again = load_inventory(path)
    assert again == first and again is not first
    assert len(parses) == 1
    assert [entry.stat().st_mode & 0o777 for entry in cache_dir.iterdir()] == [0o600]
    assert cache_dir.stat().st_mode & 0o777 == 0o700


def test_an_edited_inventory_is_parsed_again(tmp_path, cache_dir, parses):
    path = write(tmp_path, VALID)
    load_inventory(path)
    path.write_text(VALID.replace("name: ACME SARL", "name: ACME SAS"), encoding="utf-8")
    assert [c.name for c in load_inventory(path).clients][0] == "ACME SAS"
    assert len(parses) == 2


def test_an_inventory_with_problems_is_never_kept(tmp_path, cache_dir):
    path = write(tmp_path, VALID.replace("tier: 3", "tier: 9"))
    for _ in range(2):
        with pytest.raises(InventoryError):
            load_inventory(path)
    assert not cache_dir.exists() or list(cache_dir.iterdir()) == []


def test_an_entry_others_could_have_written_is_not_read(tmp_path, cache_dir, parses):
    path = write(tmp_path, VALID)
    load_inventory(path)
    [entry] = cache_dir.iterdir()
    entry.chmod(0o666)
    load_inventory(path)
    assert len(parses) == 2


def test_a_damaged_entry_is_parsed_over(tmp_path, cache_dir, parses):
    path = write(tmp_path, VALID)
    load_inventory(path)
    [entry] = cache_dir.iterdir()
    entry.write_bytes(entry.read_bytes()[:100])
    assert load_inventory(path).clients
    assert len(parses) == 2


def test_the_cache_can_be_turned_off(tmp_path, monkeypatch, parses):
    monkeypatch.setenv("OWL_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    path = write(tmp_path, VALID)
    load_inventory(path)
    load_inventory(path)
    assert len(parses) == 2 and not (tmp_path / "xdg").exists()


def test_a_cache_folder_that_cannot_be_written_only_means_parsing(tmp_path, monkeypatch, parses):
    blocker = write(tmp_path, "not a folder", name="blocker")
    monkeypatch.setenv("OWL_CACHE_DIR", str(blocker / "cache"))
    path = write(tmp_path, VALID)
    assert load_inventory(path) == load_inventory(path)
    assert len(parses) == 2


def test_only_the_entries_used_last_are_kept(tmp_path, cache_dir):
    for number in range(cache.KEPT + 3):
        path = write(tmp_path, VALID.replace("name: ACME SARL", f"name: ACME {number}"))
        load_inventory(path)
    assert len(list(cache_dir.glob("inventory-*.pickle"))) == cache.KEPT


def test_without_a_home_folder_the_inventory_is_parsed_without_a_cache(tmp_path, monkeypatch,
                                                                       parses):
    monkeypatch.delenv("OWL_CACHE_DIR")
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)

    def no_home():
        raise RuntimeError("Could not determine home directory.")

    monkeypatch.setattr("pathlib.Path.home", no_home)
    path = write(tmp_path, VALID)
    assert load_inventory(path) == load_inventory(path)
    assert len(parses) == 2
