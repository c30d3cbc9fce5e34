"""HTTP requests per site in one cycle of the ``cms`` and ``vulnerabilities`` probes, with the
site's probes sharing their answers (one ``ProbeContext``, as the exporter runs them) and without
(a context each: every probe fetches for itself, as before issue 14's item 4).

    .venv-test/bin/python bench/requests_per_site.py

Each fixture site of ``tests/fixtures/sites`` is served on 127.0.0.1 and counts the requests it
gets; the figures are counts, not times, so they do not depend on the machine.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.fixtures.sites.support import serving  # noqa: E402
from tests.test_exporter_fetches import probe_cycle  # noqa: E402
from tests.test_exporter_vulnerabilities import context_for  # noqa: E402

SITES = ("wordpress-6.8.1", "wordpress-5.8.1", "wordpress-hardened", "wordpress-4.9-readme",
         "drupal-7.57", "drupal-10.4.2", "joomla-4.2.7", "prestashop-8.2.3", "magento-2.4")


def requests_of_a_cycle(name: str, shared: bool) -> int:
    with serving(name) as site:
        if shared:
            context = context_for()
            probe_cycle(site, (context, context))
        else:
            probe_cycle(site, (context_for(), context_for()))
        return len(site.requests)


def main():
    before = after = 0
    for name in SITES:
        alone, together = requests_of_a_cycle(name, False), requests_of_a_cycle(name, True)
        before, after = before + alone, after + together
        print(f"{name:22} each probe for itself {alone:3}   shared {together:3}")
    print(f"per site: {before / len(SITES):.1f} -> {after / len(SITES):.1f} requests a cycle "
          f"({after / before:.2f} of before)")


if __name__ == "__main__":
    main()
