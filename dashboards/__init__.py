"""Grafana dashboards as JSON files, shipped as package data and provisioned from files by
``owl config render`` (``grafana/dashboards/``). ``dashboards/build.py`` generates them (it needs
grafana-foundation-sdk, the ``dashboards`` extra); nothing else here does."""

# The dashboards a client's Grafana organization gets (owl grafana sync); on-call is OWL's own.
CLIENT_DASHBOARDS = ("client-overview.json", "sla.json", "servers.json")
