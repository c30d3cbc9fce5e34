"""``owl exporter`` end to end: a subprocess probing a fixture site, scraped over HTTP."""

import datetime as dt
import subprocess
import sys

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures.sites.support import client, inventory_text, serving
from tests.support.binaries import require_binary
from tests.support.processes import free_port, running, wait_for_http, wait_until


def samples(exposition: str) -> dict:
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(exposition) for sample in family.samples}


def test_owl_exporter_serves_the_probe_results(tmp_path):
    promtool = require_binary("promtool")
    with serving("wordpress-5.8.1") as site:
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(inventory_text(
            client("acme", {"www": site.url}),
            client("gone", {"www": site.url}, status="terminated",
                   terminated_on=dt.date(2025, 3, 1)),
            client("trial", {"www": site.url}, tier=0, start=dt.date(2025, 1, 1))))
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        storage = tmp_path / "storage" / "shard-1"
        args = [sys.executable, "-m", "owl_commands.cli", "exporter", "--inventory", str(inventory),
                "--web.listen-address", f"127.0.0.1:{port}", "--storage.path", str(storage)]
        with running(args, tmp_path / "exporter.log") as process:
            assert wait_for_http(f"{base}/healthz", timeout=15, process=process).text == "ok\n"
            exposition = wait_until(lambda: _scraped_once(base), timeout=15, interval=0.1,
                                    message="first cms run")
            assert requests.get(f"{base}/nowhere", timeout=5).status_code == 404
    assert storage.is_dir(), "--storage.path is created when missing"
    found = samples(exposition)
    assert found[("owl_probe_success", (("client", "acme"), ("probe", "cms"),
                                        ("site", "www")))] == 1
    assert found[("owl_cms_info", (("client", "acme"), ("cms", "wordpress"),
                                   ("confidence", "high"), ("method", "meta_generator"),
                                   ("site", "www"), ("version", "5.8.1")))] == 1
    assert not [key for key in found if ("client", "gone") in key[1] or ("client", "trial")
                in key[1]], "terminated clients and finished trials are not probed"
    check = subprocess.run([promtool, "check", "metrics"], input=exposition.encode(),
                           capture_output=True, timeout=30)
    assert check.returncode == 0, check.stdout + check.stderr


def _scraped_once(base: str) -> str | None:
    text = requests.get(f"{base}/metrics", timeout=5).text
    return text if "owl_cms_info{" in text else None


def test_owl_exporter_refuses_an_invalid_inventory_or_shard(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text("provider: {}\n")
    bad_inventory = subprocess.run([sys.executable, "-m", "owl_commands.cli", "exporter", "--inventory",
                                    str(inventory)], capture_output=True, text=True, timeout=30)
    assert bad_inventory.returncode == 1 and "provider.name" in bad_inventory.stderr
    bad_shard = subprocess.run([sys.executable, "-m", "owl_commands.cli", "exporter", "--inventory",
                                str(inventory), "--shard", "4/3"],
                               capture_output=True, text=True, timeout=30)
    assert bad_shard.returncode == 2 and "I must be between 1 and N" in bad_shard.stderr


def test_owl_exporter_refuses_a_storage_path_it_cannot_create_naming_it(tmp_path):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(inventory_text(client("acme", {"www": "http://127.0.0.1:9/"})))
    regular_file = tmp_path / "not-a-folder"
    regular_file.write_text("")
    storage = regular_file / "exporter"
    refused = subprocess.run([sys.executable, "-m", "owl_commands.cli", "exporter", "--inventory",
                              str(inventory), "--web.listen-address", f"127.0.0.1:{free_port()}",
                              "--storage.path", str(storage)],
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode == 1
    assert f"cannot use --storage.path {storage}: " in refused.stderr
