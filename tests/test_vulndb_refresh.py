"""`owl vulndb refresh` and the exporter's daily refresh of its data files, against feeds and
upstream APIs served on 127.0.0.1: what they write, and that without a network nothing changes."""

import datetime as dt
import io
import shutil
import tarfile

import pytest
import yaml
from prometheus_client import generate_latest

from exporters.app import Exporter, build_registry
from exporters.catalogue.model import load_catalogue, shipped_catalogue_path
from exporters.context import ProbeContext
from exporters.data_refresh import DataRefresh
from exporters.probe import ResultCache
from exporters.vulndb.model import dump_database, load_database
from owl.inventory import Probes, parse_inventory
from tests.fixtures.sites.support import client, inventory_text
from tests.support.processes import free_port
from tests.support.routes import serving_routes
from tests.test_catalogue import upstream_routes
from tests.test_vulndb import FIXTURES, database, owl  # noqa: F401 (the fixture)


def friendsofphp_tarball() -> bytes:
    """The fixture advisories as GitHub serves the repository: one top folder in a .tar.gz."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        archive.add(FIXTURES / "friendsofphp", arcname="security-advisories-master")
    return buffer.getvalue()


def feed_routes() -> dict:
    return {"/wordfence": (200, "application/json", (FIXTURES / "wordfence.json").read_bytes()),
            "/friendsofphp.tar.gz": (200, "application/gzip", friendsofphp_tarball()),
            "/kev": (200, "application/json", (FIXTURES / "kev.json").read_bytes())}


def feed_args(base: str) -> list[str]:
    return ["--feed", f"wordfence={base}/wordfence", "--feed",
            f"friendsofphp={base}/friendsofphp.tar.gz", "--feed", f"cisa-kev={base}/kev"]


def records(db) -> dict:
    return {record.id: (record.severity, record.known_exploited) for record in db.vulnerabilities}


def test_refresh_merges_the_three_feeds_as_importing_each_does(tmp_path, database):
    db = tmp_path / "vulndb.json"
    key = tmp_path / "wordfence.key"
    key.write_text("s3cret-key\n")
    with serving_routes(feed_routes()) as feeds:
        done = owl("vulndb", "refresh", "--db", str(db), "--wordfence.key-file", str(key),
                   *feed_args(feeds.url))
        sent = dict(zip(feeds.requests, feeds.request_headers))
    assert done.returncode == 0, done.stderr
    assert records(load_database(db)) == records(database)
    assert "advisories marked known exploited" in done.stdout
    assert sent["/wordfence"]["Authorization"] == "Bearer s3cret-key"
    assert "Authorization" not in sent["/kev"], "the key goes to Wordfence only"
    assert "s3cret-key" not in done.stdout + done.stderr


def test_refresh_without_a_network_says_so_and_leaves_the_database_as_it_was(tmp_path, database):
    db = tmp_path / "vulndb.json"
    db.write_text(dump_database(database))
    before = db.read_bytes()
    base = f"http://127.0.0.1:{free_port()}"
    done = owl("vulndb", "refresh", "--db", str(db), *feed_args(base))
    assert done.returncode == 1
    assert "cannot reach http://127.0.0.1:" in done.stderr and "nothing written" in done.stderr
    assert "Traceback" not in done.stderr
    assert db.read_bytes() == before


@pytest.mark.parametrize("route, body, message", [
    ("/friendsofphp.tar.gz", b"<html>moved</html>", "not a readable tarball"),
    ("/kev", b"{\"vulnerabilities\": 3}", "cannot read a feed"),
])
def test_refresh_stops_on_a_feed_it_cannot_read_and_writes_nothing(tmp_path, route, body,
                                                                    message):
    db = tmp_path / "vulndb.json"
    routes = {**feed_routes(), route: (200, "application/octet-stream", body)}
    with serving_routes(routes) as feeds:
        done = owl("vulndb", "refresh", "--db", str(db), *feed_args(feeds.url))
    assert done.returncode == 1 and message in done.stderr, done.stderr
    assert not db.exists()


def test_refresh_refuses_an_unknown_feed_name():
    done = owl("vulndb", "refresh", "--db", "x.json", "--feed", "nvd=http://x")
    assert done.returncode == 2 and "NAME one of wordfence, friendsofphp, cisa-kev" in done.stderr


def exported(context) -> dict:
    text = generate_latest(build_registry(ResultCache(), context)).decode()
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith("owl_data_file_refresh_success")}


def test_the_exporters_refresh_writes_both_files_and_exports_its_success(tmp_path, database):
    catalogue = tmp_path / "catalogue.json"
    shutil.copy(shipped_catalogue_path(), catalogue)
    db = tmp_path / "vulndb.json"
    with serving_routes({**feed_routes(), **upstream_routes()}) as upstream:
        probes = Probes(cms_catalogue=str(catalogue), vulnerability_db=str(db),
                        vulnerability_feeds={"wordfence": f"{upstream.url}/wordfence",
                                             "friendsofphp": f"{upstream.url}/friendsofphp.tar.gz",
                                             "cisa-kev": f"{upstream.url}/kev"})
        context = ProbeContext(probes)
        DataRefresh(context, {name: f"{upstream.url}/{name}"
                              for name in ("wordpress", "drupal", "joomla", "github")}).run()
    assert exported(context) == {'owl_data_file_refresh_success{file="cms_catalogue"}': 1.0,
                                 'owl_data_file_refresh_success{file="vulnerability_db"}': 1.0}
    assert records(load_database(db)) == records(database)
    assert load_catalogue(catalogue).date == context.today()
    assert context.catalogue.get().date == context.today(), "the probes read the new one"


def test_without_a_network_the_exporters_refresh_changes_nothing_and_exports_the_failure(
        tmp_path, database):
    catalogue = tmp_path / "catalogue.json"
    shutil.copy(shipped_catalogue_path(), catalogue)
    db = tmp_path / "vulndb.json"
    db.write_text(dump_database(database))
    before = (catalogue.read_bytes(), db.read_bytes())
    base = f"http://127.0.0.1:{free_port()}"
    probes = Probes(cms_catalogue=str(catalogue), vulnerability_db=str(db),
                    vulnerability_feeds={"wordfence": f"{base}/w", "friendsofphp": f"{base}/f",
                                         "cisa-kev": f"{base}/k"})
    context = ProbeContext(probes)
    DataRefresh(context, {name: base for name in ("wordpress", "drupal", "joomla",
                                                  "github")}).run()
    assert (catalogue.read_bytes(), db.read_bytes()) == before
    assert set(exported(context).values()) == {0.0}
    assert "cannot reach" in context.refreshes["vulnerability_db"].message


@pytest.mark.parametrize("every, scheduled", [("6h", True), (None, False)])
def test_the_exporter_schedules_the_refresh_one_interval_after_start_or_never(every, scheduled):
    data = yaml.safe_load(inventory_text(client("acme", {"www": "http://127.0.0.1:9/"})))
    data["provider"]["probes"] = {"data_refresh": every}
    exporter = Exporter(parse_inventory(yaml.safe_dump(data)), kinds=())
    exporter.start()
    try:
        next_run = exporter.scheduler.next_run("refresh-data-files")
    finally:
        exporter.stop()
    if scheduled:
        wait = next_run - dt.datetime.now(dt.timezone.utc)
        assert dt.timedelta(hours=5, minutes=59) < wait <= dt.timedelta(hours=6)
    else:
        assert next_run is None
