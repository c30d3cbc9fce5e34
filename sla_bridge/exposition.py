"""``/metrics`` in Prometheus' text format, byte for byte as prometheus_client writes it, with the
text of each label set kept from one scrape to the next.

At 10,000 clients the bridge exposes over 100,000 samples, and ``generate_latest`` sorts, escapes
and formats every sample's labels anew on each scrape: most of a two-second scrape. The label
sets hardly change between scrapes (clients times severities), so :class:`Exposition` keeps the
text of those the last scrape wrote; a set gone from a scrape is forgotten by the next one, so
the memory is bounded by one scrape's series. Tests compare the output with ``generate_latest``.
"""

from __future__ import annotations

from prometheus_client.openmetrics import exposition as openmetrics
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

# Prometheus' text format (0.0.4) names some OpenMetrics types differently.
_TEXT_TYPES = {"info": "gauge", "stateset": "gauge", "gaugehistogram": "histogram",
               "unknown": "untyped"}
_SUFFIXED = {"counter": "_total", "info": "_info"}
# Samples prometheus_client moves to a gauge family of their own, after the family's samples.
_OPENMETRICS_SUFFIXES = ("_created", "_gsum", "_gcount")


class Exposition:
    """The text of ``registry``'s metrics, as :func:`prometheus_client.generate_latest`."""

    def __init__(self, registry: Collector):
        self.registry = registry
        self._label_texts: dict[tuple, str] = {}

    def render(self) -> bytes:
        known, kept = self._label_texts, {}
        memo = _Memo()
        output: list[str] = []
        for family in self.registry.collect():
            output.extend(self._family_lines(family, known, kept, memo))
        self._label_texts = kept
        return "".join(output).encode("utf-8")

    def _family_lines(self, family, known: dict, kept: dict, memo: _Memo) -> list[str]:
        name = family.name + _SUFFIXED.get(family.type, "")
        lines = _header(name, family.documentation, _TEXT_TYPES.get(family.type, family.type))
        suffixes = {family.name + suffix: suffix for suffix in _OPENMETRICS_SUFFIXES}
        apart: dict[str, list[str]] = {}
        for sample in family.samples:
            key = tuple(sample.labels.items())
            labels = kept.get(key)
            if labels is None:
                labels = kept[key] = known.get(key) or _label_text(sample.labels)
            timestamp = "" if sample.timestamp is None else \
                f" {int(float(sample.timestamp) * 1000):d}"
            line = f"{memo.name(sample.name)}{labels} {memo.value(sample.value)}{timestamp}\n"
            suffix = suffixes.get(sample.name)
            (apart.setdefault(suffix, []) if suffix else lines).append(line)
        for suffix, moved in sorted(apart.items()):
            lines.extend(_header(family.name + suffix, family.documentation, "gauge"))
            lines.extend(moved)
        return lines


class _Memo:
    """Sample names and values as written, within one scrape (both repeat across samples)."""

    def __init__(self):
        self.names: dict[str, str] = {}
        self.values: dict[float, str] = {}

    def name(self, name: str) -> str:
        text = self.names.get(name)
        if text is None:
            text = self.names[name] = _metric_name(name)
        return text

    def value(self, value: float) -> str:
        if value == 0:  # 0.0 and -0.0 are equal keys but written apart
            return floatToGoString(value)
        text = self.values.get(value)
        if text is None:
            text = self.values[value] = floatToGoString(value)
        return text


def _header(name: str, documentation: str, kind: str) -> list[str]:
    name = _metric_name(name)
    escaped = documentation.replace("\\", r"\\").replace("\n", r"\n")
    return [f"# HELP {name} {escaped}\n", f"# TYPE {name} {kind}\n"]


def _metric_name(name: str) -> str:
    return openmetrics.escape_metric_name(name, openmetrics.UNDERSCORES)


def _label_text(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    pairs = ",".join(
        f'{openmetrics.escape_label_name(name, openmetrics.UNDERSCORES)}='
        f'"{_escape_value(value)}"'
        for name, value in sorted(labels.items()))
    return "{" + pairs + "}"


def _escape_value(value: str) -> str:
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r'\"')
