"""The content probe against home pages served on 127.0.0.1 (tests/fixtures/content/): a blog's
normal life is no change, a defacement without a defacer's words and a redesign are, until an
operator accepts the new page with ``owl baseline accept``."""

from __future__ import annotations

import json
import logging
import re
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
from prometheus_client import generate_latest

from exporters.app import Exporter
from exporters.probe import run_probe
from exporters.probes.content import THRESHOLDS, content_probe
from exporters.targets import Target
from owl.inventory import parse_inventory
from owl.render.blackbox import DEFACEMENT_MARKERS
from tests.fixtures.sites.support import client, inventory_text
from tests.support.binaries import require_binary
from tests.support.routes import serving_routes

PAGES = Path(__file__).resolve().parent / "fixtures" / "content"
WWW = {"client": "acme", "site": "www"}
ASPECTS = ("title", "text", "structure")


def page(name: str) -> tuple[int, str, bytes]:
    return 200, "text/html; charset=UTF-8", (PAGES / name).read_bytes()


@contextmanager
def site_showing(name: str):
    """A site on 127.0.0.1 whose home page is fixture ``name``; ``show(other)`` changes it."""
    with serving_routes({"/": page(name)}) as server:
        server.show = lambda other: server.routes.__setitem__("/", page(other))
        yield server


class Prober:
    """An exporter on one site, ``storage`` its --storage.path (None: memory only); each
    :meth:`run` runs its content kind once, as its scheduler would."""

    def __init__(self, url: str, storage: Path | None = None, tier: int = 1):
        self.url = url
        self.storage = storage
        self.inventory = parse_inventory(inventory_text(client("acme", {"www": url}, tier=tier)))
        self.exporter = Exporter(self.inventory, storage_path=storage)

    def kind(self, name: str = "content"):
        [kind] = [kind for kind in self.exporter.scheduler.kinds if kind.name == name]
        return kind

    def run(self, name: str = "content"):
        [target] = self.exporter.targets()
        return run_probe(self.kind(name), target, self.exporter.cache)

    def restarted(self) -> Prober:
        return Prober(self.url, self.storage)

    def value(self, name: str, **labels) -> float | None:
        return self.exporter.registry.get_sample_value(name, {**WWW, **labels})

    def similarity(self) -> dict[str, float | None]:
        return {aspect: self.value("owl_content_similarity_ratio", aspect=aspect)
                for aspect in ASPECTS}

    def changed(self) -> float | None:
        return self.value("owl_content_changed")

    def baseline_time(self) -> float | None:
        return self.value("owl_content_baseline_timestamp_seconds")


def owl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "owl_commands.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_the_first_successful_run_takes_the_home_page_as_the_baseline():
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url)
        run = prober.run()
    assert run.result.success, run.result.error
    assert prober.similarity() == {"title": 1.0, "text": 1.0, "structure": 1.0}
    assert prober.changed() == 0
    assert prober.baseline_time() == pytest.approx(run.started_at, abs=1)


def test_a_new_post_another_date_nonce_banner_and_cart_count_are_no_change():
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url)
        prober.run()
        site.show("wordpress-front-new-post.html")
        prober.run()
    similarity = prober.similarity()
    assert similarity["title"] == 1.0 and similarity["structure"] == 1.0
    assert THRESHOLDS["text"] < similarity["text"] < 1.0
    assert prober.changed() == 0


def test_a_defacement_without_a_defacers_words_is_a_change_on_every_aspect():
    defaced = (PAGES / "defaced.html").read_text(encoding="utf-8")
    assert not any(re.search(marker, defaced) for marker in DEFACEMENT_MARKERS), \
        "SiteDefaced would see this one"
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url)
        prober.run()
        site.show("defaced.html")
        prober.run()
    assert all(value < THRESHOLDS[aspect] for aspect, value in prober.similarity().items())
    assert prober.changed() == 1


def test_a_redesign_is_a_change_and_stays_one_at_the_next_runs():
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url)
        first = prober.run()
        site.show("redesign.html")
        prober.run()
        prober.run()
    assert prober.changed() == 1
    assert prober.baseline_time() == pytest.approx(first.started_at, abs=1)


def test_an_error_status_compares_nothing_and_the_baseline_survives_it():
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url)
        prober.run()
        baseline = prober.baseline_time()
        site.routes["/"] = (500, "text/html", b"<h1>Internal Server Error</h1>")
        failed = prober.run()
        assert not failed.result.success and "HTTP 500" in failed.result.error
        assert prober.changed() is None and prober.similarity()["text"] is None
        assert prober.value("owl_probe_success", probe="content") == 0
        site.show("wordpress-front.html")
        prober.run()
    assert prober.changed() == 0
    assert prober.similarity()["text"] == 1.0
    assert prober.baseline_time() == baseline


def test_a_restarted_exporter_with_the_same_storage_keeps_the_baseline(tmp_path):
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url, storage=tmp_path / "state")
        prober.run()
        baseline = prober.baseline_time()
        site.show("defaced.html")
        restarted = prober.restarted()
        restarted.run()
    assert restarted.changed() == 1, "the defaced page did not become the baseline"
    assert restarted.baseline_time() == baseline
    saved = json.loads((tmp_path / "state" / "content" / "acme.www.baseline.json").read_text())
    assert saved["site"] == "acme/www" and saved["last"]["changed"] is True


def test_without_storage_a_restarted_exporter_takes_the_page_it_first_sees_as_the_baseline():
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url)
        prober.run()
        site.show("redesign.html")
        restarted = prober.restarted()
        restarted.run()
    assert restarted.changed() == 0


def test_an_operator_accepts_a_redesign_while_the_exporter_runs_and_the_change_ends(tmp_path):
    storage = tmp_path / "state"
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url, storage=storage)
        prober.run()
        old_baseline = prober.baseline_time()
        site.show("redesign.html")
        prober.run()
        assert prober.changed() == 1
        accepted = owl("baseline", "accept", "acme/www", "--storage.path", str(storage))
        assert accepted.returncode == 0, accepted.stderr
        assert "acme/www" in accepted.stdout
        acceptance = (storage / "content" / "acme.www.accepted.json").read_text()
        prober.run()
        assert prober.changed() == 0
        assert prober.similarity() == {"title": 1.0, "text": 1.0, "structure": 1.0}
        assert prober.baseline_time() > old_baseline
        new_baseline = prober.baseline_time()
        prober.run()
        assert prober.baseline_time() == new_baseline, "an acceptance is taken once"
        site.show("wordpress-front.html")
        prober.run()
    assert prober.changed() == 1, "the old page is now unlike the accepted one"
    assert (storage / "content" / "acme.www.accepted.json").read_text() == acceptance, \
        "the exporter never writes over the operator's file"


def test_show_lists_each_site_with_its_baseline_date_and_latest_similarity(tmp_path):
    storage = tmp_path / "state"
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url, storage=storage)
        prober.run()
        site.show("defaced.html")
        prober.run()
    shown = owl("baseline", "show", "--storage.path", str(storage))
    assert shown.returncode == 0, shown.stderr
    [line] = shown.stdout.splitlines()
    assert re.fullmatch(
        rf"acme/www: baseline \d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d UTC from {re.escape(site.url)}/; "
        r"last run \S+ \S+ UTC: title 0\.\d\d, text 0\.00, structure 0\.00, REPLACED", line), line


def test_accepting_a_site_without_a_baseline_fails_naming_the_site_and_those_with_one(tmp_path):
    storage = tmp_path / "state"
    with site_showing("wordpress-front.html") as site:
        Prober(site.url, storage=storage).run()
    refused = owl("baseline", "accept", "acme/wwww", "--storage.path", str(storage))
    assert refused.returncode == 1
    assert "site acme/wwww has no baseline" in refused.stderr
    assert "sites with one: acme/www" in refused.stderr
    assert not (storage / "content" / "acme.wwww.accepted.json").exists()
    malformed = owl("baseline", "accept", "acme", "--storage.path", str(storage))
    assert malformed.returncode == 2 and "'acme' is not CLIENT/SITE" in malformed.stderr


def test_an_unreadable_baseline_file_is_ignored_with_a_warning_naming_it(tmp_path, caplog):
    baseline_file = tmp_path / "state" / "content" / "acme.www.baseline.json"
    baseline_file.parent.mkdir(parents=True)
    baseline_file.write_text('{"version": 1, "site": "acme/www", "baseline": {"time": "x"}}')
    with site_showing("defaced.html") as site, caplog.at_level(logging.WARNING):
        prober = Prober(site.url, storage=tmp_path / "state")
        run = prober.run()
    assert run.result.success
    assert str(baseline_file) in caplog.text
    assert prober.changed() == 0, "the page seen is the new baseline"
    assert json.loads(baseline_file.read_text())["baseline"]["title"] == \
        "greetz from the shadow crew"


def test_the_home_page_is_fetched_once_when_the_cms_and_content_probes_run_together():
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url)
        prober.run("cms")
        prober.run("content")
    assert site.requests.count("/") == 1


@pytest.mark.parametrize("tier", [0, 1, 2, 3, 4])
def test_the_content_probe_runs_on_every_site_of_every_tier(tier):
    inventory = parse_inventory(inventory_text(client("acme", {"www": "https://acme.example/"},
                                                      tier=tier)))
    target = Target(inventory.clients[0], site=inventory.clients[0].sites[0])
    assert content_probe().applies_to(target)


def test_the_content_exposition_passes_promtool():
    with site_showing("wordpress-front.html") as site:
        prober = Prober(site.url)
        prober.run()
        site.show("defaced.html")
        prober.run()
    exposition = generate_latest(prober.exporter.registry)
    for family in ("owl_content_similarity_ratio{", "owl_content_changed{",
                   "owl_content_baseline_timestamp_seconds{"):
        assert family.encode() in exposition
    check = subprocess.run([require_binary("promtool"), "check", "metrics"], input=exposition,
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr
