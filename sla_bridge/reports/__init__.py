"""The monthly client report (contract sections 5, 7, 8): what happened, what the client is owed.

- :mod:`~sla_bridge.reports.model`: what a report says, as plain values.
- :mod:`~sla_bridge.reports.build`: gathers it from the bridge's records and from Prometheus.
- :mod:`~sla_bridge.reports.document`: the same Jinja2 templates as HTML and, with WeasyPrint, PDF.
- :mod:`~sla_bridge.reports.store`: stored reports, immutable, each with its SHA-256 and version.
- :mod:`~sla_bridge.reports.delivery`: the bridge's monthly job that produces and emails them.
"""
