"""Grafana dashboards as JSON files, shipped as package data and provisioned from files by
``owl config render`` (``grafana/dashboards/``)."""
