"""Whatever the inventory holds, loading it gives an inventory or problems as `file:line: ...`,
never a traceback: impossible dates, huge numbers, wrong types, odd characters, missing and
repeated keys."""

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from owl.inventory import InventoryError, load_inventory, parse_inventory
from tests.conftest import REPO
from tests.test_inventory import VALID

EXAMPLE = (REPO / "examples" / "inventory.yml").read_text(encoding="utf-8")
KEY_LINE = re.compile(r"^(?P<lead>\s*(?:- )?)(?P<key>[A-Za-z0-9_]+):(?P<value>.*)$")

ODD_SCALARS = st.sampled_from([
    "2025-02-30", "2025-06-31", "2025-13-01", "0000-01-01", "2025-06-01 25:00:00",
    "2025-06-01T10:00:00+99:00", "1e400", ".nan", "-.inf", "~", "null", "", "true", "no",
    "0x1F", "0o17", "1_000", "190:20:30", "[]", "{}", "[1, [2, [3]]]",
    "{a: {b: {c: [1, {d: e}]}}}", "'ünïcödé 🦉'", '"\\u0000"', "!!binary aGVsbG8=",
    "!!binary '***'", "!!set {a, b}", "!!omap [a: 1]", "!!int x", "!!float abc", "!!bool maybe",
    "!!timestamp soon", "!!null [1]", "*nowhere",
    "&anchor 1", "'", "- item", "? key", "|", "9" * 4400, "-" + "9" * 60,
])
IMPOSSIBLE_DATES = st.builds("{:04d}-{:02d}-{:02d}".format, st.integers(1, 9999),
                             st.integers(1, 12), st.integers(29, 31))
ODD_VALUES = st.one_of(
    ODD_SCALARS, IMPOSSIBLE_DATES,
    st.integers(-10**30, 10**30).map(str),
    st.floats().map(repr),
    st.dates().map(str),
    st.text(max_size=20).map(json.dumps),  # any text, as a quoted YAML string
    st.text(st.characters(exclude_categories=("Cs",)), max_size=12),  # raw, even unquoted
)


@st.composite
def mutated_example(draw) -> str:
    """examples/inventory.yml with one to four of its `key: value` lines changed: the value
    replaced, the key replaced, the line deleted or repeated."""
    lines = EXAMPLE.splitlines()
    for _ in range(draw(st.integers(1, 4))):
        keyed = [index for index, line in enumerate(lines) if KEY_LINE.match(line)]
        index = draw(st.sampled_from(keyed))
        match = KEY_LINE.match(lines[index])
        how = draw(st.sampled_from(["value", "key", "delete", "repeat"]))
        if how == "value":
            lines[index] = f"{match['lead']}{match['key']}: {draw(ODD_VALUES)}"
        elif how == "key":
            lines[index] = f"{match['lead']}{draw(ODD_VALUES)}:{match['value']}"
        elif how == "delete":
            del lines[index]
        else:
            lines.insert(index, lines[index])
    return "\n".join(lines) + "\n"


def assert_loads_or_reports_located_problems(path: Path) -> None:
    try:
        load_inventory(path)
    except InventoryError as exc:
        assert exc.problems
        located = re.compile(rf"^{re.escape(str(path))}:\d+: \S")
        assert [p for p in exc.problems if not located.match(p)] == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_example())
def test_a_mutated_example_loads_or_reports_every_problem_with_file_and_line(text):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "inventory.yml"
        path.write_text(text, encoding="utf-8")
        assert_loads_or_reports_located_problems(path)


def problems_of(text: str) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "inv.yml")
    return caught.value.problems


@pytest.mark.parametrize("old, new, expected", [
    pytest.param("start: 2025-02-01", "start: 2025-02-30",
                 "inv.yml:11: clients[0].contract.start: 2025-02-30 is not a valid date (day is "
                 "out of range for month); quote it if it is meant as text",
                 id="an impossible date names its line and field"),
    pytest.param("start: 2025-02-01", "start: 2025-02-01 25:00:00",
                 "inv.yml:11: clients[0].contract.start: 2025-02-01 25:00:00 is not a valid "
                 "date (hour must be in 0..23)", id="an impossible hour names its line and field"),
    pytest.param("name: ACME SARL", "name: 2025-06-31",
                 "inv.yml:5: clients[0].name: 2025-06-31 is not a valid date (day is out of "
                 "range for month); quote it if it is meant as text",
                 id="an impossible date where text is expected says to quote it"),
    pytest.param("tier: 3", "tier: !!int three",
                 "inv.yml:7: clients[0].contract.tier: three is not a valid integer;",
                 id="an explicit tag its value cannot have is reported"),
    pytest.param("tier: 3", "tier: " + "9" * 5000,
                 f"inv.yml:7: clients[0].contract.tier: {'9' * 37}... is not a valid integer "
                 "(more than 4300 digits)", id="an integer of 5000 digits is reported shortened"),
    pytest.param("      start: 2025-02-01\n", "      start: 2025-02-01\n      reopen_window: "
                 "99999999999d\n", "inv.yml:12: clients[0].contract.reopen_window: "
                 "'99999999999d' is longer than a duration can be",
                 id="a duration too long for Python is reported"),
    pytest.param('monthly_fee: "1200.00"', 'monthly_fee: "1e30"',
                 "inv.yml:8: clients[0].contract.monthly_fee: '1e30' is too large an amount",
                 id="an amount beyond exact cents is reported"),
    pytest.param("    sites:\n      - {id: shop, url: \"https://shop.acme.example\", cms: "
                 "wordpress, shop: woocommerce}\n", "    sites: 5\n",
                 "inv.yml:12: clients[0].sites: expected a valid list, got 5",
                 id="sites that are not a list are reported"),
    pytest.param("name: ACME SARL", "name: ACME\x00SARL",
                 "inv.yml:5: invalid YAML: character #x0000: ",  # libyaml's words follow
                 id="a character YAML forbids names its line"),
    pytest.param("  name: OWL SYSTEMS", "  name: &loop {again: *loop}",
                 "inv.yml:2: provider.name: expected a valid string",
                 id="an alias inside its own anchor is reported"),
    pytest.param("  name: OWL SYSTEMS", "  name: " + "[" * 3000 + "]" * 3000,
                 "inv.yml:2: invalid YAML: exceeded maximum nesting depth",  # libyaml's limit
                 id="nesting too deep for the parser names its line"),
])
def test_odd_values_are_reported_as_file_line_field_problem(old, new, expected):
    assert old in VALID
    problems = problems_of(VALID.replace(old, new, 1))
    assert any(problem.startswith(expected) for problem in problems), problems


def test_an_inventory_that_is_not_utf8_names_the_line_of_the_first_bad_byte(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_bytes(VALID.replace("ACME SARL", "ACME S\xe0RL").encode("latin-1"))
    with pytest.raises(InventoryError) as caught:
        load_inventory(path)
    assert caught.value.problems == [f"{path}:5: the inventory is not UTF-8 text "
                                     "(invalid continuation byte)"]


def test_owl_check_reports_an_impossible_date_without_a_traceback(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(VALID.replace("start: 2025-02-01", "start: 2025-06-31"))
    result = subprocess.run([sys.executable, "-m", "owl_commands.cli", "check", str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr == (f"{path}:11: clients[0].contract.start: 2025-06-31 is not a valid "
                             "date (day is out of range for month); quote it if it is meant as "
                             "text\n1 problem(s) found\n")


def test_anchors_and_merge_keys_give_the_inventory_written_out():
    assert "  name: OWL SYSTEMS\n" in VALID and "name: ACME SARL" in VALID
    anchored = VALID.replace("  name: OWL SYSTEMS\n", "  name: &provider OWL SYSTEMS\n", 1) \
        .replace("name: ACME SARL", "name: *provider", 1)
    written_out = VALID.replace("name: ACME SARL", "name: OWL SYSTEMS", 1)
    assert parse_inventory(anchored, "inv.yml") == parse_inventory(written_out, "inv.yml")


def test_a_key_repeated_beside_a_merge_key_names_its_line():
    text = "base: &base {a: 1}\nmerged:\n  <<: *base\n  b: 2\n  b: 3\n"
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "inv.yml")
    assert caught.value.problems == ["inv.yml:5: key 'b' is repeated (first on line 4)"]
