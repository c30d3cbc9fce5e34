"""Loading the inventory: every problem named with file, line and field, and what was expected."""

import subprocess
import sys
import textwrap
from decimal import Decimal

import pytest

from owl.inventory import InventoryError, parse_inventory

VALID = """\
provider:
  name: OWL SYSTEMS
clients:
  - id: acme
    name: ACME SARL
    contract:
      tier: 3
      monthly_fee: "1200.00"
      support_24_7: true
      quote: DEV-2025-0042
      start: 2025-02-01
    sites:
      - {id: shop, url: "https://shop.acme.example", cms: wordpress, shop: woocommerce}
    servers:
      - {id: web1, address: 203.0.113.10, node_exporter: "203.0.113.10:9100"}
"""


def problems_of(text: str) -> list[str]:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(text, "inv.yml")
    return caught.value.problems


def test_a_valid_inventory_loads_with_exact_money_and_defaults():
    inventory = parse_inventory(VALID, "inv.yml")
    acme = inventory.client("acme")
    assert acme.contract.monthly_fee == Decimal("1200.00")
    assert acme.contract.status == "active"
    assert inventory.provider.timezone == "Europe/Paris"
    assert inventory.calendar_for(acme).hours == {"mon-fri": "09:00-18:00"}
    assert acme.contract.penalty_rates.major == Decimal("0.015")


@pytest.mark.parametrize("change, expected", [
    (("    name: ACME SARL\n", "    name: ACME SARL\n    colour: red\n"),
     "inv.yml:6: clients[0].colour: unknown key (expected one of: id, name, contract"),
    (('monthly_fee: "1200.00"', "monthly_fee: 1200.50"),
     "inv.yml:8: clients[0].contract.monthly_fee: 1200.5 is a float, which is not exact"),
    (('monthly_fee: "1200.00"', 'monthly_fee: "12,00"'),
     "inv.yml:8: clients[0].contract.monthly_fee: '12,00' is not a decimal amount"),
    (("tier: 3", "tier: 7"), "inv.yml:7: clients[0].contract.tier: expected 0, 1, 2, 3 or 4"),
    (("tier: 3", 'tier: "3"'), "inv.yml:7: clients[0].contract.tier: expected 0, 1, 2, 3 or 4"),
    (("support_24_7: true", "support_24_7: often"),
     "inv.yml:9: clients[0].contract.support_24_7: expected a valid boolean"),
    (("  name: OWL SYSTEMS\n", "  name: OWL SYSTEMS\n  timezone: Europe/Pariss\n"),
     "inv.yml:3: provider.timezone: 'Europe/Pariss' is not a known IANA timezone"),
    (("      start: 2025-02-01\n", ""),
     "inv.yml:7: clients[0].contract.start: required key is missing"),
    (("cms: wordpress, shop", "cms: drupal, shop"),
     "inv.yml:13: clients[0].sites[0]: shop 'woocommerce' runs on cms 'wordpress'"),
    (('url: "https://shop.acme.example"', 'url: "ftp://shop"'),
     "inv.yml:13: clients[0].sites[0].url: 'ftp://shop' does not have the expected form"),
    (("id: web1", "id: shop"),
     "inv.yml:15: clients[0].servers[0].id: duplicate target id 'shop' in client 'acme'"),
    (("start: 2025-02-01", "start: 2025-02-01\n      status: suspended"),
     "inv.yml:7: clients[0].contract: status 'suspended' needs suspended_since"),
    (("tier: 3", "tier: 0"),
     "inv.yml:7: clients[0].contract: tier 0 (Découverte) is a one-month trial"),
    (("      quote: DEV-2025-0042\n", "      quote: DEV-2025-0042\n      quote: again\n"),
     "inv.yml:11: key 'quote' is repeated (first on line 10)"),
    (("clients:\n", "clients:\n  - [\n"), "inv.yml:5: invalid YAML"),
])
def test_each_problem_names_file_line_field_and_expectation(change, expected):
    old, new = change
    assert old in VALID
    problems = problems_of(VALID.replace(old, new, 1))
    assert any(p.startswith(expected) for p in problems), problems


def test_duplicate_client_ids_are_refused():
    twice = VALID + textwrap.indent(VALID.split("clients:\n", 1)[1], "")
    problems = problems_of(twice)
    assert any("duplicate client id 'acme'" in p and p.startswith("inv.yml:16:")
               for p in problems), problems


def test_every_problem_is_reported_at_once_in_line_order():
    text = VALID.replace("tier: 3", "tier: 9").replace("id: web1", "id: shop")
    problems = problems_of(text.replace("  name: OWL SYSTEMS", "  name: OWL\n  extra: 1"))
    assert len(problems) == 3
    lines = [int(p.split(":")[1]) for p in problems]
    assert lines == sorted(lines)


def test_tier_zero_trial_ends_one_month_after_start():
    text = VALID.replace("tier: 3", "tier: 0").replace(
        "start: 2025-02-01", "start: 2025-01-31\n      status: trial")
    contract = parse_inventory(text, "inv.yml").client("acme").contract
    assert str(contract.trial_end) == "2025-02-28"


def test_owl_check_prints_a_summary_or_the_problems(tmp_path, example_inventory_path):
    ok = subprocess.run([sys.executable, "-m", "owl_commands.cli", "check", str(example_inventory_path)],
                        capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.strip().endswith("(OWL SYSTEMS, Europe/Paris)")
    bad = tmp_path / "bad.yml"
    bad.write_text(VALID.replace("tier: 3", "tier: 7"))
    failed = subprocess.run([sys.executable, "-m", "owl_commands.cli", "check", str(bad)],
                            capture_output=True, text=True)
    assert failed.returncode == 1
    assert f"{bad}:7: clients[0].contract.tier: expected 0, 1, 2, 3 or 4" in failed.stderr


DATABASES = VALID.replace(
    '      - {id: shop, url: "https://shop.acme.example", cms: wordpress, shop: woocommerce}\n',
    '      - {id: shop, url: "https://shop.acme.example", cms: wordpress, shop: woocommerce,\n'
    '         database: {id: shopdb, engine: mysql, exporter: "db.acme.example:9104"}}\n').replace(
    '      - {id: web1, address: 203.0.113.10, node_exporter: "203.0.113.10:9100"}\n',
    '      - id: web1\n'
    '        address: 203.0.113.10\n'
    '        databases:\n'
    '          - {id: wordpress, engine: mariadb, exporter: "[2001:db8::10]:9104",\n'
    '             address: "[2001:db8::10]:3306"}\n')


def test_databases_load_on_sites_and_servers_with_their_instance():
    client = parse_inventory(DATABASES, "inv.yml").clients[0]
    assert client.sites[0].database.instance == "db.acme.example:9104"
    assert client.servers[0].databases[0].instance == "[2001:db8::10]:3306"


@pytest.mark.parametrize("change, expected", [
    (("id: shopdb", "id: wordpress"),
     "inv.yml:14: clients[0].sites[0].database.id: duplicate database id 'wordpress' in client "
     "'acme' (also servers[0].databases[0])"),
    (("engine: mysql", "engine: oracle"),
     "inv.yml:14: clients[0].sites[0].database.engine: expected 'mysql', 'mariadb' or "
     "'postgresql'"),
    (('exporter: "db.acme.example:9104"', 'exporter: "db.acme.example"'),
     "inv.yml:14: clients[0].sites[0].database.exporter: 'db.acme.example' does not have the "
     "expected form"),
    (('exporter: "db.acme.example:9104"',
      'exporter: "db.acme.example:9104", exporter_username: prometheus'),
     "inv.yml:14: clients[0].sites[0].database: exporter_username and exporter_password_file "
     "go together"),
])
def test_a_bad_database_is_refused_naming_its_field(change, expected):
    old, new = change
    assert old in DATABASES
    problems = problems_of(DATABASES.replace(old, new, 1))
    assert any(p.startswith(expected) for p in problems), problems
