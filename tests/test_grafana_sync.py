"""``owl grafana sync`` against Grafana's own HTTP API description.

The Grafana here is :class:`tests.support.grafana_api.GrafanaApi`: it serves
``../shared/grafana/api-merged.json``, refuses any request whose path, method, parameters or body
the description does not allow, and keeps the organizations, data sources, teams, folders and
dashboards the requests create, so that a second run can be compared with the first. Every test
ends by checking that no request of the sync strayed from the description.
"""

from __future__ import annotations

import json

import pytest

from dashboards import CLIENT_DASHBOARDS
from dashboards.queries import load_dashboards
from owl_commands import cli
from owl_commands.grafana_sync import CLIENT_HEADER, DEFAULT_LABEL_PROXY_URL, FOLDER_UID, TEAM_NAME
from owl.render.grafana import DATASOURCE_UID, with_console_url
from tests.support.grafana_api import ADMIN_ID, MAIN_ORG_ID, VIEW, GrafanaApi

PASSWORD = "not-a-real-password"
INVENTORY = """
provider:
  name: OWL SYSTEMS
  stack: {{scrape_interval: 20s, console_url: "https://console.owl.example"}}
clients:
{clients}
"""
CLIENTS = {
    "demo": """  - id: demo
    name: {name}
    contract: {{tier: 3, monthly_fee: "1200.00", quote: DEV-1, start: 2025-02-01}}""",
    "acme": """  - id: acme
    name: {name}
    contract: {{tier: 1, monthly_fee: "450.00", quote: DEV-2, start: 2025-06-01}}""",
    "gone": """  - id: gone
    name: {name}
    contract: {{tier: 2, monthly_fee: "300.00", quote: DEV-3, start: 2024-01-01,
               status: terminated, terminated_on: 2025-03-31}}""",
}
NAMES = {"demo": "Demo Boutique SAS", "acme": "ACME SARL", "gone": "Gone SARL"}
CONSOLE_URL = "https://console.owl.example"
# the committed dashboards, linking to the inventory's console
EXPECTED_DASHBOARDS = {dashboard["uid"]: json.loads(with_console_url(json.dumps(dashboard),
                                                                     CONSOLE_URL))
                       for name, dashboard in load_dashboards().items()
                       if name in CLIENT_DASHBOARDS}


@pytest.fixture
def grafana():
    with GrafanaApi(password=PASSWORD) as api:
        yield api
        assert api.violations == [], "requests outside Grafana's API description"


@pytest.fixture
def password_file(tmp_path):
    path = tmp_path / "grafana-admin-password"
    path.write_text(PASSWORD + "\n")
    return path


@pytest.fixture
def sync(tmp_path, grafana, password_file, capsys):
    """Runs ``owl grafana sync`` for an inventory of the given clients; returns (code, output)."""
    def run(*client_ids: str, names: dict[str, str] | None = None, extra: tuple = ()):
        names = {**NAMES, **(names or {})}
        clients = "\n".join(CLIENTS[cid].format(name=names[cid]) for cid in client_ids)
        inventory = tmp_path / "inventory.yml"
        inventory.write_text(INVENTORY.format(clients=clients))
        code = cli.main(["grafana", "sync", "--url", grafana.url, "--inventory", str(inventory),
                         "--password-file", str(password_file), "--now", "2025-07-15", *extra])
        captured = capsys.readouterr()
        return code, captured.out + captured.err
    return run


def writes(calls):
    return [(call.method, call.path) for call in calls if call.writes]


# --- the first run ------------------------------------------------------------------------------

def test_each_monitored_client_gets_an_organization_named_after_it(grafana, sync):
    code, output = sync("demo", "acme", "gone")
    assert code == 0, output
    assert sorted(org.name for org in grafana.orgs.values()) == [
        "ACME SARL (owl:acme)", "Demo Boutique SAS (owl:demo)", "Main Org."]
    assert "created the organization 'Demo Boutique SAS (owl:demo)'" in output


@pytest.mark.parametrize("client", ["demo", "acme"])
def test_the_client_organization_has_one_data_source_sending_the_client_to_the_label_proxy(
        grafana, sync, client):
    sync("demo", "acme")
    org = grafana.org_named(f"{NAMES[client]} (owl:{client})")
    assert list(org.datasources) == [DATASOURCE_UID]
    datasource = org.datasources[DATASOURCE_UID]
    assert (datasource["type"], datasource["url"], datasource["access"]) == \
        ("prometheus", DEFAULT_LABEL_PROXY_URL, "proxy")
    assert datasource["jsonData"]["httpHeaderName1"] == CLIENT_HEADER
    assert datasource["secureJsonData"] == {"httpHeaderValue1": client}
    assert datasource["jsonData"]["timeInterval"] == "20s"
    assert datasource["isDefault"] is True


def test_the_client_dashboards_are_in_a_folder_only_the_viewer_team_sees(grafana, sync):
    sync("demo")
    org = grafana.org_named("Demo Boutique SAS (owl:demo)")
    [team] = org.teams.values()
    assert team["name"] == TEAM_NAME
    assert list(org.folders) == [FOLDER_UID]
    assert org.folder_permissions[FOLDER_UID] == [{"teamId": team["id"], "permission": VIEW}]
    stored = {uid: {key: value for key, value in kept["dashboard"].items()
                    if key not in ("id", "version")} for uid, kept in org.dashboards.items()}
    assert stored == EXPECTED_DASHBOARDS
    sla = stored["owl-sla"]
    assert [variable["query"] for variable in sla["templating"]["list"]
            if variable["name"] == "console_url"] == [CONSOLE_URL]
    assert {kept["folderUid"] for kept in org.dashboards.values()} == {FOLDER_UID}


def test_the_client_overview_is_the_home_dashboard_of_the_client_organization(grafana, sync):
    sync("demo")
    org = grafana.org_named("Demo Boutique SAS (owl:demo)")
    assert org.preferences == {"homeDashboardUID": "owl-client-overview"}


def test_the_on_call_dashboard_stays_with_owl(grafana, sync):
    sync("demo")
    org = grafana.org_named("Demo Boutique SAS (owl:demo)")
    assert "owl-on-call" not in org.dashboards
    assert grafana.orgs[MAIN_ORG_ID].dashboards == {}  # OWL's own come from provisioning


def test_the_admin_ends_in_the_organization_it_started_in(grafana, sync):
    sync("demo", "acme")
    assert grafana.current_org == MAIN_ORG_ID
    assert grafana.calls[-1].operation_id == "userSetUsingOrg"


# --- idempotence and removal ------------------------------------------------------------------

def test_a_second_run_changes_nothing(grafana, sync):
    sync("demo", "acme")
    before, first_calls = grafana.snapshot(), len(grafana.calls)
    code, output = sync("demo", "acme")
    assert code == 0
    assert "nothing to change; 2 client organization(s)" in output
    assert grafana.snapshot() == before
    # reading a client organization means working in it: switching is the only write
    assert {path for method, path in writes(grafana.calls[first_calls:])} <= {
        f"/user/using/{org.id}" for org in grafana.orgs.values()}


def test_a_client_removed_from_the_inventory_loses_its_organization_and_no_other(grafana, sync):
    sync("demo", "acme")
    grafana.orgs[99] = type(grafana.orgs[MAIN_ORG_ID])(99, "Partners", {ADMIN_ID: "Admin"})
    demo = grafana.snapshot()[grafana.org_named("Demo Boutique SAS (owl:demo)").id]
    code, output = sync("demo")
    assert code == 0
    assert sorted(org.name for org in grafana.orgs.values()) == [
        "Demo Boutique SAS (owl:demo)", "Main Org.", "Partners"]
    assert "deleted the organization 'ACME SARL (owl:acme)'" in output
    assert grafana.snapshot()[grafana.org_named("Demo Boutique SAS (owl:demo)").id] == demo


def test_a_client_loses_its_organization_on_its_termination_day(grafana, tmp_path,
                                                               password_file):
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY.format(clients=CLIENTS["gone"].format(name="Gone SARL")
                                          .replace("2025-03-31", "2025-07-20")))

    def sync_on(day: str) -> int:
        return cli.main(["grafana", "sync", "--url", grafana.url, "--inventory", str(inventory),
                         "--password-file", str(password_file), "--now", day])

    assert sync_on("2025-07-19") == 0
    assert grafana.org_named("Gone SARL (owl:gone)") is not None
    assert sync_on("2025-07-20") == 0
    assert grafana.org_named("Gone SARL (owl:gone)") is None


def test_the_organization_of_the_admins_own_context_can_be_removed(grafana, sync):
    sync("demo", "acme")
    acme = grafana.org_named("ACME SARL (owl:acme)")
    grafana.current_org = acme.id  # the admin was last working in ACME's organization
    code, output = sync("demo")
    assert code == 0, output
    assert grafana.org_named("ACME SARL (owl:acme)") is None
    assert grafana.current_org == MAIN_ORG_ID


def test_a_renamed_client_keeps_its_organization_under_the_new_name(grafana, sync):
    sync("demo")
    org_id = grafana.org_named("Demo Boutique SAS (owl:demo)").id
    code, output = sync("demo", names={"demo": "Demo Boutique SA"})
    assert code == 0
    assert grafana.orgs[org_id].name == "Demo Boutique SA (owl:demo)"
    assert "renamed the organization" in output


# --- drift ---------------------------------------------------------------------------------------

def test_changes_made_by_hand_in_a_client_organization_are_undone(grafana, sync):
    sync("demo")
    org = grafana.org_named("Demo Boutique SAS (owl:demo)")
    reference = grafana.snapshot()[org.id]
    org.datasources["direct"] = {"uid": "direct", "name": "Prometheus direct", "id": 500,
                                 "type": "prometheus", "url": "http://prometheus:9090",
                                 "orgId": org.id, "version": 1, "access": "proxy"}
    org.datasources[DATASOURCE_UID]["url"] = "http://prometheus:9090"
    org.folder_permissions[FOLDER_UID].append({"role": "Viewer", "permission": VIEW})
    org.dashboards["owl-sla"]["dashboard"]["title"] = "Edited by hand"
    org.preferences["homeDashboardUID"] = "stray"
    org.dashboards["stray"] = {"dashboard": {"uid": "stray", "id": 501, "version": 1,
                                             "title": "Stray"},
                               "folderUid": FOLDER_UID, "slug": "stray"}
    code, output = sync("demo")
    assert code == 0
    repaired = grafana.snapshot()[org.id]
    assert set(repaired["datasources"]) == {DATASOURCE_UID}
    assert repaired["datasources"][DATASOURCE_UID]["url"] == DEFAULT_LABEL_PROXY_URL
    assert repaired["permissions"] == reference["permissions"]
    assert repaired["dashboards"]["owl-sla"]["title"] == EXPECTED_DASHBOARDS["owl-sla"]["title"]
    assert "stray" not in repaired["dashboards"]
    assert repaired["preferences"] == reference["preferences"]
    assert "deleted the data source 'Prometheus direct'" in output


# --- credentials ---------------------------------------------------------------------------------

def test_the_password_can_come_from_the_environment(grafana, tmp_path, monkeypatch):
    monkeypatch.setenv("OWL_GRAFANA_ADMIN_PASSWORD", PASSWORD)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY.format(clients=CLIENTS["demo"].format(name="Demo")))
    assert cli.main(["grafana", "sync", "--url", grafana.url, "--inventory", str(inventory),
                     "--now", "2025-07-15"]) == 0
    assert grafana.org_named("Demo (owl:demo)") is not None


def test_without_a_password_nothing_is_sent(grafana, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("OWL_GRAFANA_ADMIN_PASSWORD", raising=False)
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY.format(clients=CLIENTS["demo"].format(name="Demo")))
    assert cli.main(["grafana", "sync", "--url", grafana.url, "--inventory",
                     str(inventory)]) == 1
    assert "OWL_GRAFANA_ADMIN_PASSWORD" in capsys.readouterr().err
    assert grafana.calls == []


def test_a_wrong_password_stops_the_sync_with_grafanas_answer(grafana, tmp_path, capsys):
    wrong = tmp_path / "wrong"
    wrong.write_text("wrong")
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY.format(clients=CLIENTS["demo"].format(name="Demo")))
    assert cli.main(["grafana", "sync", "--url", grafana.url, "--inventory", str(inventory),
                     "--password-file", str(wrong)]) == 1
    assert "Unauthorized" in capsys.readouterr().err
    assert len(grafana.orgs) == 1


# --- the double itself holds to the description ----------------------------------------------

@pytest.mark.parametrize("method, path, body, problem", [
    ("GET", "/api/organisations", None, "no operation has the path"),
    ("PATCH", "/api/orgs", None, "the path has no such method"),
    ("POST", "/api/orgs", {"name": "x", "nmae": "typo"}, "does not match the description"),
    ("POST", "/api/orgs", None, "the body is required"),
    ("GET", "/api/orgs?pre_page=10", None, "'pre_page' is not in the description"),
    ("GET", "/api/orgs/abc", None, "must be an integer"),
    ("POST", "/api/user/using/2", {"orgId": 2}, "takes no body"),
    ("GET", "/api/search?type=dashboards", None, "must be one of"),
])
def test_a_request_outside_the_description_is_refused_and_recorded(grafana, method, path, body,
                                                                    problem):
    import requests

    response = requests.request(method, grafana.url + path, auth=("admin", PASSWORD),
                                data=None if body is None else json.dumps(body),
                                headers={"Content-Type": "application/json"}, timeout=5)
    assert response.status_code >= 400
    assert len(grafana.violations) == 1 and problem in grafana.violations[0]
    grafana.violations.clear()


def test_an_unreachable_grafana_stops_the_sync_naming_its_address(tmp_path, password_file,
                                                                  capsys):
    from tests.support.processes import free_port

    url = f"http://127.0.0.1:{free_port()}"
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(INVENTORY.format(clients=CLIENTS["demo"].format(name="Demo")))
    assert cli.main(["grafana", "sync", "--url", url, "--inventory", str(inventory),
                     "--password-file", str(password_file), "--timeout", "2"]) == 1
    assert f"owl grafana sync: {url}:" in capsys.readouterr().err
