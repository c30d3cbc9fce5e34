"""The vulnerability database: importers of public feed formats, OSV ranges, matching."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from exporters.vulndb.friendsofphp import read_friendsofphp
from exporters.vulndb.match import Index, Installed
from exporters.vulndb.model import Event, Range, VulnDbError, load_database
from exporters.vulndb.wordfence import read_wordfence
from exporters.versions import parse

FIXTURES = Path(__file__).parent / "fixtures" / "vulndb"


def owl(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "owl_commands.cli", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    db = tmp_path_factory.mktemp("vulndb") / "vulndb.json"
    for fmt, source in (("wordfence", "wordfence.json"), ("friendsofphp", "friendsofphp"),
                        ("cisa-kev", "kev.json")):
        done = owl("vulndb", "import", "--format", fmt, str(FIXTURES / source), "--db", str(db))
        assert done.returncode == 0, done.stderr
    return load_database(db)


def test_imports_normalize_ids_severities_and_ecosystems(database):
    by_id = {v.id: v for v in database.vulnerabilities}
    assert sorted(by_id) == ["CVE-2018-7600", "CVE-2019-6340", "CVE-2020-35489",
                             "CVE-2022-21661", "CVE-2022-24086", "CVE-2022-31181",
                             "CVE-2023-23752", "CVE-2023-32243", "SA-CONTRIB-2023-018",
                             "SA-CORE-2023-001", "c4f1e0a9-7d2b-4b8e-9a61-2f3e5d7c9a44"]
    cf7 = by_id["CVE-2020-35489"]
    assert (cf7.severity, cf7.source, cf7.aliases) == (
        "critical", "wordfence", ["wordfence:0a1b7a4e-4c4f-4a3a-9c3b-0b5b3a6e8a11"])
    assert (cf7.affected[0].ecosystem, cf7.affected[0].package) == ("wordpress-plugin",
                                                                    "contact-form-7")
    drupalgeddon = by_id["CVE-2018-7600"]
    assert drupalgeddon.severity == "critical"  # "Highly critical" in Drupal's terms
    assert drupalgeddon.known_exploited  # from the KEV catalogue
    assert "SA-CORE-2018-002" in drupalgeddon.aliases
    assert (drupalgeddon.affected[0].ecosystem, len(drupalgeddon.affected[0].ranges)) == \
        ("drupal-core", 4)
    assert by_id["SA-CORE-2023-001"].severity == "medium"
    assert by_id["SA-CONTRIB-2023-018"].affected[0].ecosystem == "drupal-module"
    assert by_id["CVE-2022-24086"].affected[0].ecosystem == "magento-core"
    assert not by_id["CVE-2022-21661"].known_exploited


def test_symfony_and_informational_records_are_left_out_with_a_note():
    records, notes = read_friendsofphp(FIXTURES / "friendsofphp")
    assert len(records) == 7 and notes == [
        "1 advisories for packages other than CMS cores and extensions left out"]
    records, notes = read_wordfence(FIXTURES / "wordfence.json")
    assert len(records) == 4 and "informational" in notes[0]


@pytest.mark.parametrize("ecosystem, package, version, expected", [
    ("wordpress-plugin", "contact-form-7", "5.3.1", ["CVE-2020-35489"]),  # last affected
    ("wordpress-plugin", "contact-form-7", "5.3.2", []),  # the fix
    ("wordpress-plugin", "Contact-Form-7", "4.0", ["CVE-2020-35489"]),  # from the beginning
    ("wordpress-core", "wordpress", "5.8.1", ["CVE-2022-21661"]),
    ("wordpress-core", "wordpress", "5.7.5", []),  # fixed in its branch
    ("wordpress-core", "wordpress", "5.6.9", []),  # outside both ranges
    ("wordpress-plugin", "essential-addons-for-elementor-lite", "5.7.1", ["CVE-2023-32243"]),
    ("wordpress-plugin", "essential-addons-for-elementor-lite", "5.3.9", []),
    ("wordpress-theme", "storefront", "4.5.4", ["c4f1e0a9-7d2b-4b8e-9a61-2f3e5d7c9a44"]),
    ("drupal-core", "drupal", "7.57", ["CVE-2018-7600"]),
    ("drupal-core", "drupal", "7.58", []),
    ("drupal-core", "drupal", "8.6.9", ["CVE-2019-6340"]),
    ("drupal-core", "drupal", "8.5.0", ["CVE-2018-7600", "CVE-2019-6340"]),
    ("drupal-core", "drupal", "10.2.x-dev", []),
    ("drupal-core", "drupal", "9.5.1", ["SA-CORE-2023-001"]),
    ("drupal-module", "webform", "6.1.4", ["SA-CONTRIB-2023-018"]),
    ("magento-core", "magento", "2.4.3-p1", ["CVE-2022-24086"]),
    ("magento-core", "magento", "2.4.3-p2", []),  # the patch release fixed it
    ("magento-core", "magento", "2.3.7-p2", ["CVE-2022-24086"]),
    ("prestashop-core", "prestashop", "1.7.8.6", ["CVE-2022-31181"]),
    ("prestashop-core", "prestashop", "1.7.8.10", []),
    ("prestashop-core", "prestashop", "1.6.0.9", []),
    ("joomla-core", "joomla", "4.2.7", ["CVE-2023-23752"]),
    ("joomla-core", "joomla", "4.0.0-beta", []),  # a pre-release is before 4.0.0
    ("joomla-core", "joomla", "unknown", []),
    ("drupal-core", "drupal", "8", []),  # a major alone cannot be compared
])
def test_a_version_matches_the_advisories_whose_ranges_contain_it(database, ecosystem, package,
                                                                   version, expected):
    found = Index(database).matches([Installed("core", ecosystem, package, version)])
    assert [match.vulnerability.id for match in found] == expected


@pytest.mark.parametrize("events, version, affected", [
    ([Event(introduced="0"), Event(fixed="2.0")], "1.9", True),
    ([Event(introduced="0"), Event(fixed="2.0")], "2.0", False),
    ([Event(introduced="1.0"), Event(last_affected="2.0")], "2.0", True),
    ([Event(introduced="1.0"), Event(last_affected="2.0")], "2.0.1", False),
    ([Event(introduced="1.0"), Event(fixed="1.5"), Event(introduced="2.0")], "1.7", False),
    ([Event(introduced="1.0"), Event(fixed="1.5"), Event(introduced="2.0")], "3.0", True),
])
def test_osv_events_are_read_in_version_order(events, version, affected):
    assert Range(events=events).contains(parse(version)) is affected


@pytest.mark.parametrize("fmt, name, content, message", [
    ("wordfence", "feed.json", '{"x": {"software": [{"type": "plugin", "slug": "a", '
     '"affected_versions": {"a": {"from_version": "*", "to_version": "one"}}}]}}',
     r"feed\.json: record x: software\[0\]\.affected_versions\['a'\]"),
    ("wordfence", "feed.json", '{"x": {"software": [{"type": "plugin-ish"}]}}',
     r"software\[0\]\.type: 'plugin-ish'"),
    ("wordfence", "feed.json", '[1, 2', r"feed\.json:1: not JSON"),
    ("friendsofphp", "a.yaml", "title: t\nreference: composer://drupal/core\nbranches:\n"
     "  8.x:\n    versions: ['<8.x.y']\n", r"a\.yaml: branches\.8\.x\.versions: '<8\.x\.y'"),
    ("friendsofphp", "a.yaml", "title: t\nbranches: {}\n", r"a\.yaml: reference: missing"),
    ("friendsofphp", "a.yaml", "title: [t\n", r"a\.yaml:2: not YAML"),
])
def test_a_bad_feed_is_refused_naming_file_and_field(tmp_path, fmt, name, content, message):
    (tmp_path / name).write_text(content)
    done = owl("vulndb", "import", "--format", fmt, str(tmp_path / name), "--db",
               str(tmp_path / "db.json"))
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert __import__("re").search(message, done.stderr), done.stderr
    assert not (tmp_path / "db.json").exists()


def test_a_database_with_a_bad_range_is_refused_naming_the_record(tmp_path, database):
    data = json.loads(json.dumps(database.model_dump(mode="json")))
    data["vulnerabilities"][1]["affected"][0]["ranges"][0]["events"][0] = {"fixed": "soon"}
    path = tmp_path / "db.json"
    path.write_text(json.dumps(data))
    with pytest.raises(VulnDbError, match=r"vulnerabilities\.1 \(CVE-2019-6340\)\.affected"):
        load_database(path)


def test_importing_again_replaces_records_instead_of_duplicating_them(tmp_path):
    db = tmp_path / "db.json"
    for _ in range(2):
        done = owl("vulndb", "import", "--format", "wordfence", str(FIXTURES / "wordfence.json"),
                   "--db", str(db))
        assert done.returncode == 0
    assert len(load_database(db).vulnerabilities) == 4
    assert "4 advisories imported from wordfence, 4 in the database" in done.stdout
