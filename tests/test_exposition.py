"""The bridge's /metrics text is prometheus_client's own, byte for byte, scrape after scrape."""

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric

from sla_bridge.exposition import Exposition
from tests.support.bridge import SCRAPE_TOKEN, alert, at


class Changing:
    """A collector whose label sets and values change from one scrape to the next."""

    def __init__(self):
        self.scrape = 0

    def collect(self):
        self.scrape += 1
        family = GaugeMetricFamily("odd_values", 'Help with \\ and\na "newline".',
                                   labels=["client", "text"])
        for number, value in enumerate([0.0, -0.0, 1.0, -1.5, 1e22, 123456789.0, float("inf"),
                                        float("-inf"), float("nan"), 2 ** 53, self.scrape]):
            family.add_metric([f"client-{(number + self.scrape) % 4}",
                               ['a"b', "back\\slash", "new\nline", "ünï 🦉", ""][number % 5]],
                              value)
        yield family
        stamped = GaugeMetricFamily("stamped", "With timestamps.", labels=["n"])
        stamped.add_metric([str(self.scrape)], 1, timestamp=1700000000.123)
        yield stamped
        histogram = Metric("gauge_histogram", "A gauge histogram.", "gaugehistogram")
        histogram.add_sample("gauge_histogram_bucket", {"le": "+Inf"}, 3)
        histogram.add_sample("gauge_histogram_gcount", {}, 3)
        histogram.add_sample("gauge_histogram_gsum", {}, 7)
        yield histogram


def registry_with(changing: Changing) -> CollectorRegistry:
    registry = CollectorRegistry()
    Counter("requests", "Requests.", ["code"], registry=registry).labels("200").inc(3)
    Gauge("temperature", "Degrees.", registry=registry).set(-0.0)
    histogram = Histogram("latency_seconds", "Latency.", ["route"], registry=registry)
    histogram.labels("/a").observe(0.3)
    Info("build", "Build.", registry=registry).info({"version": "1.2", "commit": "abc"})
    registry.register(changing)
    return registry


def test_the_exposition_is_prometheus_clients_at_every_scrape_as_labels_and_values_change():
    changing = Changing()
    registry = registry_with(changing)
    exposition = Exposition(registry)
    for scrape in range(5):  # label sets come, go and come back between scrapes
        changing.scrape = scrape
        ours = exposition.render()
        changing.scrape = scrape
        assert ours == generate_latest(registry)


def test_the_bridges_metrics_are_prometheus_clients_text(tb):
    tb.post_alerts(alert(starts_at=at("2025-03-07 09:00")),
                   alert(alertname="Odd", severity="unheard-of", site=None, server='we"b\\1'))
    tb.clock.now = at("2025-03-07 14:00")
    for _ in range(2):
        scraped = tb.client.get("/metrics", headers={"Authorization": f"Bearer {SCRAPE_TOKEN}"})
        assert scraped.status_code == 200
        assert scraped.data == generate_latest(tb.bridge.registry)
    assert b'owl_incidents_total{client="acme",severity="critical"} 1.0' in scraped.data
