"""A real Prometheus serving a month of history written by the test.

The series are backfilled with ``promtool tsdb create-blocks-from openmetrics`` into a fresh
data folder, then Prometheus runs on it with nothing to scrape, so that a test can query a past
month exactly as the report does.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.binaries import require_binary
from tests.support.processes import free_port, running, wait_for_http


@dataclass
class History:
    """Samples by metric name: (labels, unix time, value), each series' samples in order."""

    families: dict[str, list[tuple[dict[str, str], float, float]]] = field(default_factory=dict)

    def add(self, metric: str, labels: dict[str, str], points: Iterable[tuple[float, float]]
            ) -> None:
        self.families.setdefault(metric, []).extend((labels, at, value) for at, value in points)

    def openmetrics(self) -> str:
        lines = []
        for metric, samples in self.families.items():
            lines.append(f"# TYPE {metric} gauge")
            for labels, at, value in samples:
                rendered = ",".join(f'{key}="{val}"' for key, val in sorted(labels.items()))
                lines.append(f"{metric}{{{rendered}}} {value!r} {at:.0f}")
        lines.append("# EOF")
        return "\n".join(lines) + "\n"


@contextmanager
def prometheus_with(history: History, folder: Path) -> Iterator[str]:
    """Prometheus over ``history`` for the block; yields its base URL."""
    promtool, prometheus = require_binary("promtool"), require_binary("prometheus")
    folder.mkdir(parents=True, exist_ok=True)
    source, data = folder / "history.om", folder / "data"
    source.write_text(history.openmetrics(), encoding="utf-8")
    subprocess.run([promtool, "tsdb", "create-blocks-from", "openmetrics", str(source),
                    str(data)], check=True, capture_output=True)
    config = folder / "prometheus.yml"
    config.write_text("global: {scrape_interval: 1m}\nscrape_configs: []\n", encoding="utf-8")
    url = f"http://127.0.0.1:{free_port()}"
    with running([prometheus, f"--config.file={config}", f"--storage.tsdb.path={data}",
                  "--storage.tsdb.retention.time=100y",
                  f"--web.listen-address={url.removeprefix('http://')}"],
                 folder / "prometheus.log") as process:
        wait_for_http(f"{url}/-/ready", process=process,
                      ok=lambda response: response.status_code == 200)
        yield url
