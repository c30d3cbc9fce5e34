"""The render of an inventory of N clients as one Prometheus and in 4 shards (issue 15, item 4).

    PYTHONPATH=. .venv-test/bin/python bench/render_shards.py [CLIENTS]

The inventory is scale.py's (2 sites and a server a client), with a long-term store and 4 shards;
each render is done twice, in memory then written to a scratch folder, and timed.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
import time
from pathlib import Path

from bench.scale import inventory_yaml
from owl.inventory import parse_inventory
from owl.render import RenderOptions, render, write_rendered

SHARDS = 4


def sharded_inventory(clients: int):
    shards = ", ".join(f"{{prometheus: 10.0.2.{i}:9090}}" for i in range(1, SHARDS + 1))
    text = inventory_yaml(clients).replace(
        "bridge: 127.0.0.1:5}",
        "bridge: 127.0.0.1:5, long_term_store: {remote_write_url: "
        "'http://127.0.0.1:6/api/v1/write', query_url: 'http://127.0.0.1:6'}, "
        f"shards: [{shards}]}}")
    return parse_inventory(text, "bench.yml")


def main() -> int:
    clients = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    inventory = sharded_inventory(clients)
    for count in (1, SHARDS, 1, SHARDS):
        with tempfile.TemporaryDirectory() as folder:
            start = time.perf_counter()
            files = render(inventory, RenderOptions(out_dir=Path(folder),
                                                    today=dt.date(2026, 12, 3), shards=count))
            rendered = time.perf_counter()
            write_rendered(files, Path(folder))
            written = time.perf_counter()
        print(f"{clients} clients, {count} shard(s): {len(files)} files, render "
              f"{rendered - start:.2f} s, write {written - rendered:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
