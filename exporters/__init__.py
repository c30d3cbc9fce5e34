"""The owl exporter: probes run on a schedule against the inventory's targets, served to Prometheus.

Layout: :mod:`exporters.targets` (what is monitored), :mod:`exporters.sharding` (which exporter
instance probes what), :mod:`exporters.probe` (probe kinds, results and their cache),
:mod:`exporters.scheduler` (APScheduler jobs), :mod:`exporters.context` (the inventory's probe
settings and data files), :mod:`exporters.kinds` (the list of probe kinds and collectors, one line
each), :mod:`exporters.probes` (the probe modules),
:mod:`exporters.collectors` (Prometheus collectors reading the cache), :mod:`exporters.app` (the
WSGI app) and :mod:`owl_commands.exporter` (``owl exporter``).
"""
