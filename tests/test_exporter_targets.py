"""Which targets the exporter probes: monitored clients only, split between shards."""

import datetime as dt
import subprocess
import sys

import pytest

from exporters.app import Exporter
from exporters.sharding import Shard, parse_shard, shard_of
from exporters.targets import monitored_targets
from owl.inventory import parse_inventory
from tests.fixtures.sites.support import client, inventory_text

TRIAL_START = dt.date(2025, 6, 1)  # trial_end 2025-07-01: monitored up to 30 June included


def inventory():
    return parse_inventory(inventory_text(
        client("active", {"www": "http://127.0.0.1:9/"}, ("web1",)),
        client("suspended", {"www": "http://127.0.0.1:9/"}, status="suspended",
               suspended_since=dt.date(2025, 6, 10)),
        client("trial", {"www": "http://127.0.0.1:9/"}, tier=0, start=TRIAL_START),
        client("gone", {"www": "http://127.0.0.1:9/"}, status="terminated",
               terminated_on=dt.date(2025, 6, 15)),
    ))


def keys(targets):
    return [target.key for target in targets]


@pytest.mark.parametrize("today, expected", [
    (dt.date(2025, 6, 14), ["active/www", "active/web1", "suspended/www", "trial/www", "gone/www"]),
    (dt.date(2025, 6, 15), ["active/www", "active/web1", "suspended/www", "trial/www"]),
    (dt.date(2025, 6, 30), ["active/www", "active/web1", "suspended/www", "trial/www"]),
    (dt.date(2025, 7, 1), ["active/www", "active/web1", "suspended/www"]),
])
def test_terminated_clients_and_finished_trials_are_not_probed(today, expected):
    assert keys(monitored_targets(inventory(), today)) == expected


def test_targets_carry_client_and_site_or_server_labels():
    site, server = monitored_targets(inventory(), dt.date(2025, 6, 1))[:2]
    assert (site.kind, site.labels()) == ("site", {"client": "active", "site": "www"})
    assert (server.kind, server.labels()) == ("server", {"client": "active", "server": "web1"})


def test_today_is_the_providers_date():
    evening_utc = dt.datetime(2025, 6, 30, 22, 30, tzinfo=dt.timezone.utc)  # 00:30 in Paris
    assert inventory().today(evening_utc) == dt.date(2025, 7, 1)
    trial = inventory().client("trial")
    assert trial.contract.unmonitored_reason(inventory().today(evening_utc)) is not None


def test_exporter_targets_follow_its_clock():
    now = dt.datetime(2025, 6, 30, 12, tzinfo=dt.timezone.utc)
    exporter = Exporter(inventory(), kinds=(), clock=lambda: now)
    assert "trial/www" in keys(exporter.targets())
    now += dt.timedelta(days=1)
    assert "trial/www" not in keys(exporter.targets())


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8])
def test_every_target_is_in_exactly_one_shard(count):
    inventory_ = parse_inventory(inventory_text(*(
        client(f"client{number}", {f"site{site}": "http://127.0.0.1:9/" for site in range(3)},
               ("web1",)) for number in range(20))))
    today = dt.date(2025, 6, 1)
    everything = keys(monitored_targets(inventory_, today))
    shards = [keys(Exporter(inventory_, (), Shard(index, count),
                            clock=lambda: dt.datetime(2025, 6, 1, tzinfo=dt.timezone.utc))
                   .targets()) for index in range(1, count + 1)]
    assert sorted(key for shard in shards for key in shard) == sorted(everything)
    if count > 1:
        assert all(shards), "with 80 targets every shard gets some"


def test_shards_are_stable_across_processes():
    # Fixed values: crc32 does not depend on the process, unlike hash() with PYTHONHASHSEED.
    assert [shard_of("demo/shop", n) for n in (2, 3, 4)] == [1, 1, 1]
    assert [shard_of("demo/web1", n) for n in (2, 3, 4)] == [2, 3, 4]
    assert [shard_of("client-é/site", n) for n in (2, 3, 4)] == [2, 1, 4]
    other = subprocess.run(
        [sys.executable, "-c", "from exporters.sharding import shard_of; "
         "print(shard_of('acme/www', 4))"],
        capture_output=True, text=True, check=True, env={"PYTHONHASHSEED": "123"})
    assert other.stdout.strip() == str(shard_of("acme/www", 4)) == "3"


@pytest.mark.parametrize("text, shard", [("1/1", Shard(1, 1)), ("2/3", Shard(2, 3)),
                                         (" 3/3 ", Shard(3, 3))])
def test_parse_shard(text, shard):
    assert parse_shard(text) == shard


@pytest.mark.parametrize("text", ["0/3", "4/3", "1/0", "1", "a/b", "1/-2", ""])
def test_parse_shard_refuses(text):
    with pytest.raises(ValueError):
        parse_shard(text)
