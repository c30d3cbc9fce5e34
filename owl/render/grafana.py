"""Grafana provisioning: the Prometheus datasource and a file provider for the dashboards.

Dashboards are JSON files of the ``dashboards`` package, copied to ``grafana/dashboards/``; Grafana
reads them from :data:`~owl.render.profile.GRAFANA_DASHBOARDS_DIR`, where that directory is
mounted or copied. A dashboard with a ``console_url`` variable (the on-call one, whose incident
table links to the console's incident pages) gets the inventory's ``provider.stack.console_url``
there; the others are copied as they are.
"""

from __future__ import annotations

import importlib.resources
import json

from owl.inventory import Inventory, format_duration
from owl.render.profile import GRAFANA_DASHBOARDS_DIR, Profile
from owl.render.serialize import to_yaml

DATASOURCE_PATH = "grafana/provisioning/datasources/prometheus.yml"
DASHBOARD_PROVIDER_PATH = "grafana/provisioning/dashboards/owl.yml"
DASHBOARDS_DIR = "grafana/dashboards"
# Dashboards name their datasource by this uid, so it must never change.
DATASOURCE_UID = "owl-prometheus"
CONSOLE_URL_VARIABLE = "console_url"  # the same as dashboards.build.CONSOLE_URL_VARIABLE


def render_grafana(inventory: Inventory, profile: Profile) -> dict[str, str]:
    return {
        DATASOURCE_PATH: to_yaml(datasource_provisioning(inventory, profile)),
        DASHBOARD_PROVIDER_PATH: to_yaml(dashboard_provisioning()),
        **dashboard_copies(inventory.provider.stack.console_url),
    }


def datasource_provisioning(inventory: Inventory, profile: Profile) -> dict:
    return {"apiVersion": 1, "datasources": [{
        "name": "Prometheus",
        "uid": DATASOURCE_UID,
        "type": "prometheus",
        "access": "proxy",
        "url": query_url(inventory, profile),
        "isDefault": True,
        "editable": False,
        "jsonData": {"timeInterval": format_duration(inventory.provider.stack.scrape_interval)},
    }]}


def query_url(inventory: Inventory, profile: Profile) -> str:
    """The long-term store's query API when the inventory has one (the global view of every
    Prometheus, docs/sharding.md), else Prometheus' as the profile reaches it."""
    store = inventory.provider.stack.long_term_store
    return store.query_url if store is not None else f"http://{profile.prometheus}"


def dashboard_provisioning() -> dict:
    return {"apiVersion": 1, "providers": [{
        "name": "owl",
        "orgId": 1,
        "folder": "OWL",
        "type": "file",
        "disableDeletion": True,
        "allowUiUpdates": False,
        "options": {"path": GRAFANA_DASHBOARDS_DIR},
    }]}


def dashboard_copies(console_url: str) -> dict[str, str]:
    """The ``dashboards/*.json`` files, each pointing to ``console_url``; none when there is no
    dashboards package."""
    try:
        source = importlib.resources.files("dashboards")
    except ModuleNotFoundError:
        return {}
    return {f"{DASHBOARDS_DIR}/{item.name}":
            with_console_url(item.read_text(encoding="utf-8"), console_url)
            for item in sorted(source.iterdir(), key=lambda item: item.name)
            if item.is_file() and item.name.endswith(".json")}


def with_console_url(text: str, console_url: str) -> str:
    """Dashboard JSON ``text`` with its ``console_url`` constant set to ``console_url``; ``text``
    itself when it has no such variable."""
    dashboard = json.loads(text)
    variables = [variable for variable in dashboard.get("templating", {}).get("list", [])
                 if variable.get("name") == CONSOLE_URL_VARIABLE]
    if not variables:
        return text
    for variable in variables:
        variable["query"] = console_url  # a constant's value
    # As dashboards/build.py writes them, so only the value differs from the committed file.
    return json.dumps(dashboard, sort_keys=True, indent=2, ensure_ascii=False) + "\n"
