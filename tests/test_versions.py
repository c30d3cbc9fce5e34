"""CMS version strings compared with packaging, after translating the CMS world's spellings."""

import pytest

from exporters.versions import InvalidVersion, parse, same_branch


@pytest.mark.parametrize("older, newer", [
    ("6.4.3", "6.4.10"),
    ("6.4", "6.4.1"),
    ("4.0.0-beta", "4.0.0"),  # a pre-release comes before its release
    ("5.0.0-RC2", "5.0.0"),
    ("4.0.0-alpha1", "4.0.0-beta"),
    ("2.4.7", "2.4.7-p3"),  # Magento's patch releases come after it
    ("2.4.7-p3", "2.4.7-p10"),
    ("2.4.7-p10", "2.4.8"),
    ("1.7.8.9", "1.7.8.10"),  # PrestaShop's fourth number
    ("10.2.5", "10.2.x-dev"),  # a development branch is above its releases
    ("10.2.x-dev", "10.3.0"),
    ("8.x-1.5", "8.x-1.10"),  # a Drupal contributed module
    ("v5.3.1", "5.3.2"),
])
def test_the_first_version_is_older_than_the_second(older, newer):
    assert parse(older) < parse(newer)


@pytest.mark.parametrize("text", ["unknown", "", "eleven", "6.x.y-foo"])
def test_what_is_not_a_version_is_refused(text):
    with pytest.raises(InvalidVersion):
        parse(text)


@pytest.mark.parametrize("version, branch, inside", [
    ("6.8.1", "6.8", True), ("6.8.1", "6", True), ("10.10.1", "10.1", False),
    ("2.4.7-p3", "2.4.7", True), ("1.7.8.10", "1.7", True), ("6.8", "6.8.1", False),
])
def test_a_version_belongs_to_a_branch_number_by_number(version, branch, inside):
    assert same_branch(version, branch) is inside
