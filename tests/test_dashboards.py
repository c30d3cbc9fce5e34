"""The committed dashboards: what the generator builds, valid for Grafana, and consistent.

- Each ``dashboards/*.json`` is exactly what ``python -m dashboards.build`` writes (a golden test:
  edit ``dashboards/build.py``, then run it).
- Each validates against Grafana's dashboard JSON Schemas in ``../shared/grafana/`` (11.6, the
  Grafana docker-compose runs, and 12.3) and loads into the grafana-foundation-sdk models without
  losing a key.
- Each panel names the one datasource uid, uses only variables the dashboard defines, sets a unit
  and thresholds, and names its series; every query is PromQL that promtool accepts.
- Client dashboards select only the client's series: in a client's Grafana organization every
  query goes through prom-label-proxy, where a series without that client's label is not there.
- No panel reads a series per incident (the bridge has none): the on-call tables by client and
  severity, and the SLA dashboard's deadlines and ledger, link to the bridge's console, whose
  address ``owl config render`` takes from the inventory.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import Dashboard

from dashboards import CLIENT_DASHBOARDS, build
from dashboards.queries import (
    BUILT_IN,
    expand,
    load_dashboards,
    month_start,
    panel_queries,
    panels,
    selectors,
    variables_used,
)
from owl.inventory import Stack
from owl.render.grafana import CONSOLE_URL_VARIABLE, DATASOURCE_UID
from owl_commands import cli
from tests.support.binaries import require_binary

REPO = Path(__file__).resolve().parent.parent
SHARED_GRAFANA = REPO.parent / "shared" / "grafana"
SCHEMAS = {"Grafana 11.6": "dashboard.v11.6.schema.json", "Grafana 12.3": "dashboard.schema.json"}
DASHBOARDS = load_dashboards()
# What promtool is given for Grafana's variables: any value of the right kind will do.
SAMPLE_VALUES = {"client": "demo", "site": ".*", "server": ".*", "database": ".*",
                 "month": "0d",
                 "__range": "3600s", "__range_s": "3600", "__range_ms": "3600000",
                 "__interval": "15s", "__interval_ms": "15000", "__rate_interval": "1m"}
NAMED_SERIES_PANELS = ("timeseries", "bargauge")  # panels with a legend of their own
EXAMPLE_INVENTORY = REPO / "examples" / "inventory.yml"
DATA_FIELD = re.compile(r'\$\{__data\.fields\["(\w+)"\]\}')  # a data link's field of the row
GROUPING_LABELS = re.compile(r"\bby \(([^)]*)\)")
CONSOLE_DASHBOARDS = ("on-call.json", "sla.json")  # with links to the bridge's console
DATABASE_RULES = REPO / "alert_rules" / "databases.yml"
# (alert, engine's job, what its rule compares): a panel of the servers dashboard draws the same
DATABASE_EXPRESSIONS = [
    ("DatabaseConnectionsNearLimit", build.MYSQLD, build.mysql_connections_used),
    ("DatabaseConnectionsNearLimit", build.POSTGRES, build.postgres_connections_used),
    ("DatabaseSlowQueriesRising", build.MYSQLD, build.mysql_slow_queries_per_minute),
    ("DatabaseTablesNeedOptimising", build.MYSQLD, build.mysql_tables_to_optimise),
    ("DatabaseBufferPoolHitRatioLow", build.MYSQLD, build.mysql_buffer_pool_hit_ratio),
    ("DatabaseBufferPoolHitRatioLow", build.POSTGRES, build.postgres_buffer_pool_hit_ratio),
]


def defined_variables(dashboard: dict) -> set[str]:
    return {variable["name"] for variable in dashboard["templating"]["list"]}


def variable(dashboard: dict, name: str) -> dict:
    [found] = [found for found in dashboard["templating"]["list"] if found["name"] == name]
    return found


def panel_titled(dashboard: dict, title: str) -> dict:
    [found] = [panel for panel in panels(dashboard) if panel["title"] == title]
    return found


def data_links(panel: dict) -> list[dict]:
    return panel["fieldConfig"]["defaults"].get("links", [])


# --- generated, and shipped ---------------------------------------------------------------------

@pytest.mark.parametrize("name", build.DASHBOARDS)
def test_the_committed_dashboard_is_what_the_generator_builds(name):
    committed = (REPO / "dashboards" / name).read_text(encoding="utf-8")
    assert committed == build.render(name), \
        f"dashboards/{name} differs from dashboards/build.py: run python -m dashboards.build"


def test_the_dashboards_folder_holds_the_generated_dashboards_and_nothing_else():
    assert sorted(DASHBOARDS) == sorted(build.DASHBOARDS)


def test_each_dashboard_has_its_own_fixed_uid_and_the_owl_tag():
    uids = [dashboard["uid"] for dashboard in DASHBOARDS.values()]
    assert len(set(uids)) == len(uids)
    assert all(uid.startswith("owl-") for uid in uids)
    assert all("owl" in dashboard["tags"] for dashboard in DASHBOARDS.values())


def test_client_organizations_get_every_dashboard_but_on_call():
    assert set(CLIENT_DASHBOARDS) == set(build.DASHBOARDS) - {"on-call.json"}


# --- valid for Grafana --------------------------------------------------------------------------

@pytest.fixture(scope="module", params=SCHEMAS)
def schema_validator(request):
    path = SHARED_GRAFANA / SCHEMAS[request.param]
    if not path.exists():
        pytest.fail(f"{path} is missing: the Grafana reference data of ../shared/grafana/")
    schema = json.loads(path.read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("name", DASHBOARDS)
def test_the_dashboard_validates_against_grafanas_dashboard_schema(schema_validator, name):
    problems = [f"{'/'.join(map(str, error.absolute_path))}: {error.message[:300]}"
                for error in schema_validator.iter_errors(DASHBOARDS[name])]
    assert problems == []


@pytest.mark.parametrize("name", DASHBOARDS)
def test_the_dashboard_loads_into_the_sdk_models_and_back_unchanged(name):
    model = Dashboard.from_json(DASHBOARDS[name])
    assert json.loads(json.dumps(model, cls=JSONEncoder)) == DASHBOARDS[name]


# --- consistent ---------------------------------------------------------------------------------

@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_panel_query_and_variable_names_the_one_datasource_uid(name):
    dashboard = DASHBOARDS[name]
    refs = [(panel["title"], panel.get("datasource")) for panel in panels(dashboard)]
    refs += [(panel["title"], target.get("datasource")) for panel in panels(dashboard)
             for target in panel.get("targets", [])]
    refs += [(variable["name"], variable["datasource"])
             for variable in dashboard["templating"]["list"] if "datasource" in variable]
    wrong = [(where, ref) for where, ref in refs
             if ref != {"type": "prometheus", "uid": DATASOURCE_UID}]
    assert wrong == []
    assert DATASOURCE_UID == build.DATASOURCE_UID


@pytest.mark.parametrize("name", DASHBOARDS)
def test_no_panel_uses_a_variable_the_dashboard_does_not_define(name):
    dashboard = DASHBOARDS[name]
    known = defined_variables(dashboard) | BUILT_IN
    texts = [(panel["title"], text) for panel in panels(dashboard)
             for text in [panel["title"], panel.get("timeFrom") or "", panel.get("timeShift") or "",
                          *(target["expr"] for target in panel.get("targets", [])),
                          *(target["legendFormat"] for target in panel.get("targets", [])),
                          *(link[key] for link in data_links(panel) for key in ("url", "title"))]]
    texts += [(variable["name"], json.dumps(variable.get("query", "")))
              for variable in dashboard["templating"]["list"]]
    undefined = [(where, variable) for where, text in texts
                 for variable in variables_used(text) if variable not in known]
    assert undefined == []


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_panel_sets_a_unit_and_thresholds_and_names_its_series(name):
    for panel in panels(DASHBOARDS[name]):
        defaults = panel["fieldConfig"]["defaults"]
        assert defaults.get("unit"), panel["title"]
        assert defaults["thresholds"]["steps"], panel["title"]
        assert panel.get("description"), panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["legendFormat"], f"{panel['title']} {target['refId']}"
        if panel["type"] in NAMED_SERIES_PANELS:
            assert panel["options"]["legend"]["showLegend"] is True, panel["title"]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_panels_do_not_overlap_on_the_grid(name):
    cells = {}
    for panel in DASHBOARDS[name]["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_panel_query_is_promql_that_promtool_accepts(tmp_path):
    promtool = require_binary("promtool")
    queries = [query for name, dashboard in DASHBOARDS.items()
               for query in panel_queries(name, dashboard)]
    rules = {"groups": [{"name": "dashboards", "rules": [
        {"record": f"owl_dashboard_query_{index}", "expr": expand(query.expr, SAMPLE_VALUES)}
        for index, query in enumerate(queries)]}]}
    path = tmp_path / "dashboard-queries.yml"
    path.write_text(yaml.safe_dump(rules), encoding="utf-8")
    result = subprocess.run([promtool, "check", "rules", str(path)], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(queries)} rules found" in result.stdout


# --- the incident tables link to the console ----------------------------------------------------

def test_the_on_call_incident_tables_rows_link_to_their_clients_incidents_in_the_console():
    url = ('${console_url}/incidents?client=${__data.fields["client"]}'
           '&severity=${__data.fields["severity"]}&status=unresolved')
    for title in ("Next deadline by client and severity", "Breached, still open, by client"):
        table = panel_titled(DASHBOARDS["on-call.json"], title)
        assert data_links(table) == [{
            "title": "The incidents in the console", "url": url,
            "type": "link", "targetBlank": True, "includeVars": False, "keepTime": False,
            "asDropdown": False, "icon": "", "tooltip": "", "tags": []}], title


def test_the_sla_dashboard_links_its_deadlines_and_ledger_to_the_clients_pages_in_the_console():
    sla = DASHBOARDS["sla.json"]
    assert [link["url"] for link in data_links(panel_titled(sla, "Next deadline by severity"))] \
        == ['${console_url}/incidents?client=${client}&severity=${__data.fields["severity"]}'
            '&status=unresolved']
    assert [link["url"] for link in data_links(panel_titled(sla, "Ledger by severity"))] == [
        "${console_url}/ledger?client=${client}"]


def test_no_panel_reads_a_series_per_incident():
    exprs = [query.expr for name, dashboard in DASHBOARDS.items()
             for query in panel_queries(name, dashboard)]
    assert not [expr for expr in exprs if "incident_id" in expr
                or "owl_incident_deadline_timestamp_seconds" in expr
                or "owl_sla_ledger_line_amount_euros" in expr]


@pytest.mark.parametrize("name", DASHBOARDS)
def test_every_field_a_data_link_reads_is_a_label_its_table_keeps(name):
    for panel in panels(DASHBOARDS[name]):
        fields = {field for link in data_links(panel) for field in DATA_FIELD.findall(link["url"])}
        labels = {label.strip() for target in panel["targets"]
                  for group in GROUPING_LABELS.findall(target["expr"])
                  for label in group.split(",")}
        organize = [transformation["options"]
                    for transformation in panel.get("transformations", [])
                    if transformation["id"] == "organize"]
        dropped = {field for options in organize
                   for field in [*options["excludeByName"], *options["renameByName"]]}
        assert fields <= labels - dropped, panel["title"]
    assert any(DATA_FIELD.findall(link["url"]) for panel in panels(DASHBOARDS["on-call.json"])
               for link in data_links(panel))


@pytest.mark.parametrize("name", CONSOLE_DASHBOARDS)
def test_the_console_url_is_a_hidden_constant_holding_the_inventorys_default(name):
    console_url = variable(DASHBOARDS[name], CONSOLE_URL_VARIABLE)
    assert (console_url["type"], console_url["hide"]) == ("constant", 2)  # 2: hidden
    assert console_url["query"] == Stack().console_url == "http://127.0.0.1:9180"


def render_dashboards(inventory: Path, out: Path) -> dict[str, dict]:
    """``owl config render`` of ``inventory``: its copies of the dashboards."""
    assert cli.main(["config", "render", "--inventory", str(inventory), "--out", str(out),
                     "--now", "2025-07-15"]) == 0
    return {path.name: json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((out / "grafana" / "dashboards").glob("*.json"))}


def inventory_with_console_url(tmp_path: Path, console_url: str) -> Path:
    inventory = yaml.safe_load(EXAMPLE_INVENTORY.read_text(encoding="utf-8"))
    inventory["provider"].setdefault("stack", {})["console_url"] = console_url
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory, sort_keys=False), encoding="utf-8")
    return path


@pytest.mark.parametrize("console_url, expected", [
    (None, "http://127.0.0.1:9180"),  # examples/inventory.yml, where it is the bridge's address
    ("https://owl.example.fr/console/", "https://owl.example.fr/console"),
])
def test_the_rendered_dashboards_carry_the_inventorys_console_url(
        tmp_path, schema_validator, console_url, expected):
    inventory = EXAMPLE_INVENTORY if console_url is None \
        else inventory_with_console_url(tmp_path, console_url)
    rendered = render_dashboards(inventory, tmp_path / "rendered")
    for name in CONSOLE_DASHBOARDS:
        assert variable(rendered[name], CONSOLE_URL_VARIABLE)["query"] == expected
        assert list(schema_validator.iter_errors(rendered[name])) == []
        variable(rendered[name], CONSOLE_URL_VARIABLE)["query"] = Stack().console_url
    assert rendered == DASHBOARDS  # nothing else differs from the committed dashboards


# --- each client sees its own series --------------------------------------------------------------

@pytest.mark.parametrize("expr, expected", [
    ('sum by (site) (rate(x{client="$client"}[5m]))', [("x", '{client="$client"}')]),
    ('a{client="c"} / on (server) group_left b', [("a", '{client="c"}'), ("b", "")]),
    ('time() - max(y{job="node", client="$client"}) * 1000', [
        ("y", '{job="node", client="$client"}')]),
    ('{job=~"node|ssh", client="$client"}', [("", '{job=~"node|ssh", client="$client"}')]),
])
def test_the_selector_scanner_finds_every_selector_of_a_query(expr, expected):
    assert selectors(expr) == expected


@pytest.mark.parametrize("name", CLIENT_DASHBOARDS)
def test_every_selector_of_a_client_dashboard_names_the_client(name):
    unfiltered = [(query.name, metric, matchers)
                  for query in panel_queries(name, DASHBOARDS[name])
                  for metric, matchers in selectors(query.expr)
                  if 'client="$client"' not in matchers]
    assert unfiltered == []


# --- the database row draws what the database rules compare -------------------------------------

def without_spaces(promql: str) -> str:
    return re.sub(r"\s+", "", promql)


def database_rule(alert: str) -> str:
    groups = yaml.safe_load(DATABASE_RULES.read_text(encoding="utf-8"))["groups"]
    [rule] = [rule for group in groups for rule in group["rules"] if rule.get("alert") == alert]
    return rule["expr"]


@pytest.mark.parametrize("alert, job, expression", DATABASE_EXPRESSIONS,
                         ids=[f"{alert}-{job}" for alert, job, _ in DATABASE_EXPRESSIONS])
def test_a_database_panel_draws_what_its_alert_rule_compares(alert, job, expression):
    assert without_spaces(expression(job)) in without_spaces(database_rule(alert))
    drawn = [query.expr for query in panel_queries("servers.json", DASHBOARDS["servers.json"])]
    selector = f'{job}, client="$client", server=~"$server", database=~"$database"'
    assert any(without_spaces(expression(selector)) in without_spaces(expr) for expr in drawn)


def test_the_database_row_reads_both_engines_where_both_have_the_metric():
    row = [panel for panel in DASHBOARDS["servers.json"]["panels"]
           if panel["type"] == "row" and panel["title"] == "Bases de données"]
    assert row, "the servers dashboard has no database row"
    database_panels = [panel for panel in panels(DASHBOARDS["servers.json"])
                       if panel["gridPos"]["y"] > row[0]["gridPos"]["y"]]
    both = {panel["title"] for panel in database_panels
            if any("mysql_" in target["expr"] and "pg_" in target["expr"]
                   for target in panel["targets"])}
    assert both == {"État des bases", "Connexions utilisées", "Lectures servies par la mémoire"}


# --- how Grafana's variables and ranges are read ------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ('up{client="$client"}', 'up{client="demo"}'),
    ('up{client="${client}"}', 'up{client="demo"}'),
    ('up{client="${client:raw}"}', 'up{client="demo"}'),
    ('up{client="[[client]]"}', 'up{client="demo"}'),
    ("rate(x[$__rate_interval])", "rate(x[1m])"),
])
def test_every_form_of_a_grafana_variable_is_replaced_by_its_value(text, expected):
    assert expand(text, {"client": "demo", "__rate_interval": "1m"}) == expected


def test_a_variable_without_a_value_is_an_error_not_an_empty_string():
    with pytest.raises(KeyError):
        expand('up{client="$client"}', {})


@pytest.mark.parametrize("now, start", [
    ("2026-11-26T15:00:00+00:00", "2026-11-01T00:00:00+01:00"),
    ("2026-10-31T23:30:00+00:00", "2026-11-01T00:00:00+01:00"),  # already November in Paris
    ("2026-04-01T00:30:00+00:00", "2026-04-01T00:00:00+02:00"),  # summer time
])
def test_this_month_starts_at_midnight_of_the_first_in_the_dashboards_timezone(now, start):
    assert month_start(dt.datetime.fromisoformat(now), "Europe/Paris") == \
        dt.datetime.fromisoformat(start)
