"""``owl grafana sync``: one Grafana organization per client, each seeing only its own series.

For every client monitored today, the sync makes Grafana hold (and changes nothing that already
holds):

- an organization named ``<client name> (owl:<client id>)``; the ``(owl:ID)`` suffix is how the
  sync knows the organizations it manages, so that it renames one when the client's name changes
  and deletes one whose client left the inventory, and never touches any other organization;
- in it, one data source, uid ``owl-prometheus`` like OWL's own (the dashboards name that uid),
  pointing at prom-label-proxy with the header ``X-Owl-Client: <client id>``: prom-label-proxy
  (docker-compose.yml) rewrites every query to carry ``client="<client id>"``, so nothing else
  can come back. Any other data source of a managed organization is deleted. The header value is
  a secure field Grafana never shows again, so ``jsonData.owlClient`` keeps the same id readable
  for the next comparison;
- a team ``Viewers``, the only grantee of the folder ``OWL`` (View), in which the client
  dashboards are (``dashboards.CLIENT_DASHBOARDS``; on-call is OWL's own); dashboards of
  that folder that are not OWL's are deleted; the client overview is the organization's home
  dashboard. Client users are added to the organization as Viewers and to the team, by hand or
  by the login provider.

The admin (basic authentication: organizations are not reachable with an organization's token)
works in one organization at a time (``POST /api/user/using/ORG``); the sync returns it to the
organization it was in. Credentials come from ``--password-file`` or ``OWL_GRAFANA_ADMIN_PASSWORD``
(the variable docker-compose.yml gives Grafana), never from the command line.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from urllib.parse import urlencode

from owl.clock import utc_now
from owl.inventory import Client, format_duration
from owl.render.grafana import DATASOURCE_UID, with_console_url
from owl_commands.common import date_argument, deprecated_spelling, inventory_or_exit

MARKER = re.compile(r" \(owl:(?P<id>[a-z0-9][a-z0-9_-]{0,62})\)$")
DATASOURCE_NAME = "Prometheus"
TEAM_NAME = "Viewers"
FOLDER_UID = "owl"
FOLDER_TITLE = "OWL"
VIEW = 1  # Grafana's permission levels: 1 View, 2 Edit, 4 Admin
CLIENT_HEADER = "X-Owl-Client"  # prom-label-proxy --header-name, docker-compose.yml
DEFAULT_LABEL_PROXY_URL = "http://prom-label-proxy:8080"
PASSWORD_VARIABLE = "OWL_GRAFANA_ADMIN_PASSWORD"
MESSAGE = "owl grafana sync"
HOME_DASHBOARD_UID = "owl-client-overview"  # what a client sees first
MAIN_ORG_ID = 1  # Grafana's first organization: OWL's own, with the provisioned dashboards


class SyncError(Exception):
    pass


def org_name(client: Client) -> str:
    return f"{client.name} (owl:{client.id})"


def client_dashboards(console_url: str) -> dict[str, dict]:
    """The dashboards a client organization gets, by uid, as committed in ``dashboards/``, their
    links to the console at ``console_url`` (as ``owl config render`` provisions OWL's own)."""
    from dashboards import CLIENT_DASHBOARDS

    folder = resources.files("dashboards")
    loaded = [json.loads(with_console_url((folder / name).read_text(encoding="utf-8"),
                                          console_url))
              for name in CLIENT_DASHBOARDS]
    return {dashboard["uid"]: dashboard for dashboard in loaded}


@dataclass(frozen=True)
class Settings:
    label_proxy_url: str
    scrape_interval: str  # the data source's minimum step: Prometheus' scrape interval


class GrafanaSync:
    """Brings a Grafana in line with the clients; :meth:`run` returns the changes it made.

    ``api`` is a ``grafana_client.GrafanaApi`` signed in as a server admin.
    """

    def __init__(self, api, settings: Settings, dashboards: dict[str, dict]):
        self.api = api
        self.settings = settings
        self.dashboards = dashboards
        self.changes: list[str] = []

    # --- the whole run ------------------------------------------------------------------

    def run(self, clients: list[Client]) -> list[str]:
        home = self.api.user.get_actual_user()["orgId"]
        current, deleted = home, set()
        managed = self._managed_orgs()
        wanted = {client.id for client in clients}
        leaving = {client_id: org for client_id, org in managed.items()
                   if client_id not in wanted}
        try:
            for client in sorted(clients, key=lambda c: c.id):
                org_id = self._ensure_org(client, managed.get(client.id))
                if current != org_id:
                    self.api.organizations.switch_organization(org_id)
                    current = org_id
                self._ensure_org_contents(client)
            # Grafana refuses to delete the organization one works in
            safe = MAIN_ORG_ID if home in {org["id"] for org in leaving.values()} else home
            if leaving and current != safe:
                self.api.organizations.switch_organization(safe)
                current = safe
            for client_id, org in sorted(leaving.items()):
                self.api.organizations.delete_organization(org["id"])
                deleted.add(org["id"])
                self._changed(f"deleted the organization {org['name']!r} ({client_id} is no "
                              "longer a monitored client)")
        finally:
            if current != home and home not in deleted:
                self.api.organizations.switch_organization(home)
        return self.changes

    def _changed(self, what: str) -> None:
        self.changes.append(what)

    # --- organizations ----------------------------------------------------------------------

    def _managed_orgs(self) -> dict[str, dict]:
        found = {}
        for org in self.api.client.GET("/orgs?" + urlencode({"perpage": 1000})):
            match = MARKER.search(org["name"])
            if match:
                found[match.group("id")] = org
        return found

    def _ensure_org(self, client: Client, org: dict | None) -> int:
        name = org_name(client)
        if org is None:
            created = self.api.organization.create_organization({"name": name})
            self._changed(f"created the organization {name!r}")
            return created["orgId"]
        if org["name"] != name:
            self.api.organizations.update_organization(org["id"], {"name": name})
            self._changed(f"renamed the organization {org['name']!r} to {name!r}")
        return org["id"]

    def _ensure_org_contents(self, client: Client) -> None:
        self._ensure_datasource(client)
        team_id = self._ensure_team(client)
        self._ensure_folder(client, team_id)
        self._ensure_dashboards(client)
        self._ensure_home(client)

    # --- the data source ----------------------------------------------------------------------

    def datasource(self, client: Client) -> dict:
        """The data source of ``client``'s organization, as sent to Grafana."""
        return {
            "name": DATASOURCE_NAME, "uid": DATASOURCE_UID, "type": "prometheus",
            "access": "proxy", "url": self.settings.label_proxy_url, "isDefault": True,
            "basicAuth": False,
            "jsonData": {"httpMethod": "POST", "timeInterval": self.settings.scrape_interval,
                         "httpHeaderName1": CLIENT_HEADER, "owlClient": client.id},
            "secureJsonData": {"httpHeaderValue1": client.id},
        }

    def _ensure_datasource(self, client: Client) -> None:
        wanted = self.datasource(client)
        for other in self.api.datasource.list_datasources():
            if other["uid"] != DATASOURCE_UID:
                self.api.datasource.delete_datasource_by_uid(other["uid"])
                self._changed(f"{client.id}: deleted the data source {other['name']!r} (only "
                              "the client's own series may be reachable)")
        current = _get_or_none(self.api.datasource.get_datasource_by_uid, DATASOURCE_UID)
        if current is None:
            self.api.datasource.create_datasource(wanted)
            self._changed(f"{client.id}: created the data source {DATASOURCE_NAME!r} "
                          f"({self.settings.label_proxy_url}, {CLIENT_HEADER}: {client.id})")
            return
        same = all(current.get(key) == value for key, value in wanted.items()
                   if key != "secureJsonData")
        if same and (current.get("secureJsonFields") or {}).get("httpHeaderValue1"):
            return
        self.api.datasource.update_datasource_by_uid(DATASOURCE_UID, wanted)
        self._changed(f"{client.id}: updated the data source {DATASOURCE_NAME!r}")

    # --- the team and the folder ------------------------------------------------------------

    def _ensure_team(self, client: Client) -> int:
        found = self.api.client.GET("/teams/search?" + urlencode({"name": TEAM_NAME}))["teams"]
        if found:
            return found[0]["id"]
        created = self.api.teams.add_team({"name": TEAM_NAME})
        self._changed(f"{client.id}: created the team {TEAM_NAME!r}")
        return created["teamId"]

    def _ensure_folder(self, client: Client, team_id: int) -> None:
        if _get_or_none(self.api.folder.get_folder, FOLDER_UID) is None:
            self.api.folder.create_folder(FOLDER_TITLE, uid=FOLDER_UID)
            self._changed(f"{client.id}: created the folder {FOLDER_TITLE!r}")
        wanted = {("teamId", team_id, VIEW)}
        current = set()
        for item in self.api.folder.get_folder_permissions(FOLDER_UID):
            if item.get("inherited") or item.get("role") == "Admin":
                continue  # admins keep their access whatever the folder says
            for key in ("teamId", "userId", "role"):
                if item.get(key):
                    current.add((key, item[key], item["permission"]))
        if current != wanted:
            self.api.folder.update_folder_permissions(
                FOLDER_UID, {"items": [{"teamId": team_id, "permission": VIEW}]})
            self._changed(f"{client.id}: the folder {FOLDER_TITLE!r} is viewed by the team "
                          f"{TEAM_NAME!r} only")

    # --- dashboards ---------------------------------------------------------------------------

    def _ensure_dashboards(self, client: Client) -> None:
        for uid, dashboard in sorted(self.dashboards.items()):
            current = _get_or_none(self.api.dashboard.get_dashboard, uid)
            if current is not None:
                stored = {key: value for key, value in current["dashboard"].items()
                          if key not in ("id", "version")}
                if stored == dashboard and current["meta"].get("folderUid") == FOLDER_UID:
                    continue
            self.api.dashboard.update_dashboard({"dashboard": dashboard, "folderUid": FOLDER_UID,
                                                 "overwrite": True, "message": MESSAGE})
            self._changed(f"{client.id}: {'updated' if current else 'created'} the dashboard "
                          f"{dashboard['title']!r}")
        hits = self.api.client.GET("/search?" + urlencode(
            {"type": "dash-db", "folderUIDs": FOLDER_UID}))
        for hit in hits:
            if hit["uid"] not in self.dashboards:
                self.api.dashboard.delete_dashboard(hit["uid"])
                self._changed(f"{client.id}: deleted the dashboard {hit['title']!r} from the "
                              f"folder {FOLDER_TITLE!r}")


    def _ensure_home(self, client: Client) -> None:
        if HOME_DASHBOARD_UID not in self.dashboards:
            return
        if self.api.client.GET("/org/preferences").get("homeDashboardUID") == HOME_DASHBOARD_UID:
            return
        self.api.client.PATCH("/org/preferences", json={"homeDashboardUID": HOME_DASHBOARD_UID})
        self._changed(f"{client.id}: the organization's home dashboard is "
                      f"{self.dashboards[HOME_DASHBOARD_UID]['title']!r}")


def _get_or_none(getter, *args):
    from grafana_client.client import GrafanaClientError

    try:
        return getter(*args)
    except GrafanaClientError as error:
        if error.status_code == 404:
            return None
        raise


# --- the command --------------------------------------------------------------------------------

def read_password(path: Path | None) -> str:
    if path is not None:
        password = path.read_text(encoding="utf-8").strip()
    else:
        password = os.environ.get(PASSWORD_VARIABLE, "")
    if not password:
        raise SyncError(f"no Grafana admin password: give --password-file FILE or set "
                        f"{PASSWORD_VARIABLE}")
    return password


def run_sync(args) -> int:
    # imported here: every `owl` command builds this parser, only this one needs the client
    import requests
    from grafana_client import GrafanaApi
    from grafana_client.client import GrafanaException

    inventory = inventory_or_exit(args.inventory, ": nothing synchronized")
    try:
        password = read_password(args.password_file)
    except (SyncError, OSError) as exc:
        print(f"owl grafana sync: {exc}", file=sys.stderr)
        return 1
    today = args.now or inventory.today(utc_now())
    clients = inventory.monitored_clients(today)
    api = GrafanaApi.from_url(args.url, credential=(args.user, password), timeout=args.timeout)
    settings = Settings(args.label_proxy_url,
                        format_duration(inventory.provider.stack.scrape_interval))
    try:
        changes = GrafanaSync(api, settings,
                              client_dashboards(inventory.provider.stack.console_url)).run(clients)
    except (GrafanaException, requests.RequestException) as exc:
        print(f"owl grafana sync: {args.url}: {exc}", file=sys.stderr)
        return 1
    for change in changes:
        print(change)
    print(f"{len(changes)} change(s); {len(clients)} client organization(s)"
          if changes else f"nothing to change; {len(clients)} client organization(s)")
    return 0


def register(subparsers) -> None:
    grafana = subparsers.add_parser("grafana", help="Grafana organizations of the clients")
    actions = grafana.add_subparsers(dest="grafana_command", required=True, metavar="ACTION")
    sync = actions.add_parser(
        "sync", help="one organization per client with its dashboards, a Viewer team and a "
        "data source limited to its own series; idempotent")
    sync.add_argument("--url", required=True, help="Grafana's URL, e.g. http://127.0.0.1:3000")
    sync.add_argument("--inventory", required=True, metavar="FILE", help="the inventory file")
    sync.add_argument("--user", default=os.environ.get("OWL_GRAFANA_ADMIN_USER", "admin"),
                      help="a Grafana server admin (default: $OWL_GRAFANA_ADMIN_USER or admin)")
    sync.add_argument("--password-file", type=Path, metavar="FILE",
                      help=f"the admin's password (default: ${PASSWORD_VARIABLE})")
    label_proxy = sync.add_argument(
        "--label-proxy.url", dest="label_proxy_url", default=DEFAULT_LABEL_PROXY_URL,
        metavar="URL", help="prom-label-proxy as Grafana reaches it (default: %(default)s)")
    deprecated_spelling(sync, "--label-proxy-url", label_proxy)
    sync.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    sync.add_argument("--now", metavar="YYYY-MM-DD", type=date_argument,
                      help="the day contracts are judged on (default: today)")
    sync.set_defaults(handler=run_sync)
