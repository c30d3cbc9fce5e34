"""The four Grafana dashboards, built with grafana-foundation-sdk (Grafana 11.6 models).

``python -m dashboards.build`` writes ``dashboards/*.json``; ``tests/test_dashboards.py`` keeps
the committed files equal to what this module builds. Every query names the one datasource uid
``owl-prometheus``: in OWL's own organization it is Prometheus, in a client's organization
(``owl grafana sync``) it is prom-label-proxy enforcing that client's ``client`` label, so the same
JSON serves both.

Metric names come from ``docs/metrics.md``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from grafana_foundation_sdk.builders import bargauge, prometheus, stat, table, timeseries
from grafana_foundation_sdk.builders import common as common_builders
from grafana_foundation_sdk.builders import dashboard as builders
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models import common
from grafana_foundation_sdk.models import dashboard as models
from grafana_foundation_sdk.models import prometheus as prometheus_models

from owl.inventory import DEFAULT_TIMEZONE, Stack

DATASOURCE_UID = "owl-prometheus"  # the same as owl.render.grafana.DATASOURCE_UID
DATASOURCE = models.DataSourceRef(type_val="prometheus", uid=DATASOURCE_UID)
# Where "this month" starts at midnight. The JSON files are built once, for every inventory: they
# take the inventory's default provider timezone, and a provider elsewhere sees months cut at
# midnight in that timezone, not its own.
TIMEZONE = DEFAULT_TIMEZONE
DIRECTORY = Path(__file__).resolve().parent
GRID_WIDTH = 24
# The bridge's operator console, as on-call engineers' browsers reach it: a hidden constant
# variable holding the inventory's default; owl config render (owl.render.grafana) sets the
# inventory's provider.stack.console_url in the rendered copy of each dashboard that has it.
CONSOLE_URL_VARIABLE = "console_url"  # the same as owl.render.grafana.CONSOLE_URL_VARIABLE
CONSOLE_URL = Stack().console_url
# The bridge's metrics are per client and severity, never per incident (issue 15): a table row
# links to the console's list of that client's unresolved incidents of that severity, most
# urgent first, where each incident is; Grafana fills in the row's fields.
INCIDENT_LIST = (f'${{{CONSOLE_URL_VARIABLE}}}/incidents?client=${{__data.fields["client"]}}'
                 f'&severity=${{__data.fields["severity"]}}&status=unresolved')
# The same for the one client of a client dashboard, and its ledger (this month's, then the
# page's month navigation).
CLIENT_INCIDENT_LIST = (f'${{{CONSOLE_URL_VARIABLE}}}/incidents?client=${{client}}'
                        f'&severity=${{__data.fields["severity"]}}&status=unresolved')
CLIENT_LEDGER = f"${{{CONSOLE_URL_VARIABLE}}}/ledger?client=${{client}}"

# The availability of a site (alert_rules/availability.yml): once a minute, the share of that
# minute's HTTP probes that succeeded, per {client, site, month}; no sample in a minute of
# maintenance or without probes. Summed and counted over a panel's calendar month, it is the
# month's time-based availability with maintenance left out (what the rule
# client_site:availability:ratio_month holds for the month in progress), for any month the month
# variable picks: the month label changes at midnight of the 1st, so the sums are taken across it.
AVAILABILITY_1M = "client_site:availability:ratio_1m"


def availability(selector: str) -> str:
    return (f"sum by (site) (sum_over_time({AVAILABILITY_1M}{{{selector}}}[$__range])) "
            f"/ sum by (site) (count_over_time({AVAILABILITY_1M}{{{selector}}}[$__range]))")


def downtime_minutes(selector: str) -> str:
    return (f"sum by (site) (count_over_time({AVAILABILITY_1M}{{{selector}}}[$__range]) "
            f"- sum_over_time({AVAILABILITY_1M}{{{selector}}}[$__range]))")


# What the database rules compare (alert_rules/databases.yml), for any selector: the rules pass
# theirs (job="mysqld", job="postgres"), the servers dashboard adds the client, server and
# database variables; tests/test_dashboards.py checks each rule still holds these words.
def mysql_connections_used(selector: str) -> str:
    return (f"mysql_global_status_threads_connected{{{selector}}} "
            f"/ mysql_global_variables_max_connections{{{selector}}}")


def postgres_connections_used(selector: str) -> str:
    return (f"sum without (datname, state) (pg_stat_activity_count{{{selector}}}) "
            f"/ pg_settings_max_connections{{{selector}}}")


def mysql_slow_queries_per_minute(selector: str) -> str:
    return f"rate(mysql_global_status_slow_queries{{{selector}}}[1h]) * 60"


def mysql_tables_to_optimise(selector: str) -> str:
    """One series per table whose free space is over 100 MiB and a fifth of its size."""
    size = "mysql_info_schema_table_size"
    return (f'({size}{{{selector}, component="data_free"}} > 104857600) / ignoring(component) '
            f'({size}{{{selector}, component="data_length"}} + ignoring(component) '
            f'{size}{{{selector}, component="index_length"}}) > 0.2')


def mysql_buffer_pool_hit_ratio(selector: str) -> str:
    pool = "mysql_global_status_innodb_buffer_pool"
    return (f"1 - rate({pool}_reads{{{selector}}}[1h]) "
            f"/ rate({pool}_read_requests{{{selector}}}[1h])")


def postgres_buffer_pool_hit_ratio(selector: str) -> str:
    hit = f"rate(pg_stat_database_blks_hit{{{selector}}}[1h])"
    read = f"rate(pg_stat_database_blks_read{{{selector}}}[1h])"
    return (f"sum without (datid, datname) ({hit}) "
            f"/ sum without (datid, datname) ({hit} + {read})")


CLIENT = 'client="$client"'
CLIENTS = 'client=~"$client"'  # the on-call dashboard: several clients, or all
SITES = 'site=~"$site"'
SERVERS = 'server=~"$server"'
HTTP = 'job="blackbox_http"'
DATABASES = 'database=~"$database"'
MYSQLD = 'job="mysqld"'
POSTGRES = 'job="postgres"'
DATABASE_EXPORTERS = 'job=~"mysqld|postgres"'


# --- small vocabulary on top of the SDK builders ---------------------------------------------

@dataclass(frozen=True)
class Query:
    expr: str
    legend: str  # legendFormat: every series is named
    instant: bool = True
    table: bool = False  # one row per series, labels as columns


def steps(base: str, *rest: tuple[float, str], floor: float = 0) -> builders.ThresholdsConfig:
    """Absolute thresholds: ``base`` colour below the first value of ``rest``.

    Grafana takes the first step as the base (-Infinity) whatever value it holds; the Grafana 11.6
    dashboard schema wants a number there, so the base carries ``floor``, the lowest value the
    panel shows.
    """
    return (builders.ThresholdsConfig().mode(models.ThresholdsMode.ABSOLUTE)
            .steps([models.Threshold(value=floor, color=base),
                    *(models.Threshold(value=value, color=colour) for value, colour in rest)]))


def value_text(mapping: dict[str, tuple[str, str]]) -> list[models.ValueMap]:
    """Value mappings: raw value -> (text, colour)."""
    return [models.ValueMap(options={
        value: models.ValueMappingResult(text=text, color=colour, index=index)
        for index, (value, (text, colour)) in enumerate(mapping.items())})]


UP_DOWN = value_text({"1": ("Up", "green"), "0": ("Down", "red")})
OK_FAILED = value_text({"1": ("OK", "green"), "0": ("Failed", "red")})
YES_NO_BAD = value_text({"1": ("Yes", "red"), "0": ("No", "green")})
YES_NO_GOOD = value_text({"1": ("Yes", "green"), "0": ("No", "red")})
AVAILABLE = value_text({"1": ("Disponible", "green"), "0": ("Indisponible", "red")})
RUNNING = value_text({"1": ("En marche", "green"), "0": ("Arrêté", "red")})
GREEN = steps("green")
OK_IS_ONE = steps("red", (1, "green"))
ONE_IS_BAD = steps("green", (1, "red"))
ANY_IS_BAD = steps("green", (1, "orange"))
DAY = 86400


@dataclass
class Spec:
    """One panel: what it shows, how, and how wide and tall it is on the 24-column grid."""

    kind: str  # stat | bargauge | timeseries | table
    title: str
    description: str
    queries: list[Query]
    unit: str
    thresholds: builders.ThresholdsConfig
    w: int = 8
    h: int = 6
    mappings: list = field(default_factory=list)
    time_from: str | None = None
    time_shift: str | None = None
    minimum: float | None = None
    maximum: float | None = None
    coloured_cells: bool = False  # table: cells coloured by the thresholds
    transformations: list[models.DataTransformerConfig] = field(default_factory=list)
    sort_by: str | None = None  # table: the column sorted ascending
    links: list[builders.DashboardLink] = field(default_factory=list)  # data links of every cell


def merged_table(rename: dict[str, str] | None = None,
                 hidden: tuple[str, ...] = ("Time", "__name__", "job", "instance", "tier")
                 ) -> list[models.DataTransformerConfig]:
    """Table queries joined on their labels, Grafana's bookkeeping columns hidden, value
    columns named. (Field overrides would do it per column, but the dashboard schema only takes
    objects as override values: tables here keep one unit and one set of thresholds.)"""
    return [models.DataTransformerConfig(id_val="merge", options={}),
            models.DataTransformerConfig(id_val="organize", options={
                "excludeByName": {name: True for name in hidden},
                "renameByName": dict(rename or {})})]


def _target(query: Query, ref: str) -> prometheus.Dataquery:
    target = (prometheus.Dataquery().expr(query.expr).legend_format(query.legend).ref_id(ref)
              .datasource(DATASOURCE))
    if query.table:
        target = target.format(prometheus_models.PromQueryFormat.TABLE)
    return target.instant() if query.instant else target.range()


def _panel(spec: Spec, panel_id: int, x: int, y: int):
    if spec.kind == "stat":
        panel = (stat.Panel().graph_mode(common.BigValueGraphMode.NONE)
                 .color_mode(common.BigValueColorMode.BACKGROUND)
                 .text_mode(common.BigValueTextMode.VALUE_AND_NAME)
                 .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"])
                                 .values(False)))
    elif spec.kind == "bargauge":
        panel = (bargauge.Panel().display_mode(common.BarGaugeDisplayMode.BASIC)
                 .orientation(common.VizOrientation.HORIZONTAL)
                 .reduce_options(common_builders.ReduceDataOptions().calcs(["lastNotNull"])
                                 .values(False))
                 .legend(common_builders.VizLegendOptions().show_legend(True)
                         .display_mode(common.LegendDisplayMode.LIST)
                         .placement(common.LegendPlacement.BOTTOM).calcs([])))
    elif spec.kind == "timeseries":
        panel = (timeseries.Panel()
                 .legend(common_builders.VizLegendOptions().show_legend(True)
                         .display_mode(common.LegendDisplayMode.TABLE)
                         .placement(common.LegendPlacement.BOTTOM)
                         .calcs(["lastNotNull", "max"]))
                 .tooltip(common_builders.VizTooltipOptions().mode(common.TooltipDisplayMode.MULTI)
                          .sort(common.SortOrder.DESCENDING)))
    elif spec.kind == "table":
        panel = table.Panel().show_header(True).cell_height(common.TableCellHeight.SM)
        if spec.sort_by:
            panel = panel.sort_by([common_builders.TableSortByFieldState()
                                   .display_name(spec.sort_by).desc(False)])
    else:
        raise ValueError(f"unknown panel kind {spec.kind!r}")
    panel = (panel.id(panel_id).title(spec.title).description(spec.description)
             .datasource(DATASOURCE).unit(spec.unit).thresholds(spec.thresholds)
             .grid_pos(models.GridPos(h=spec.h, w=spec.w, x=x, y=y)))
    for index, query in enumerate(spec.queries):
        panel = panel.with_target(_target(query, chr(ord("A") + index)))
    if spec.mappings:
        panel = panel.mappings(spec.mappings)
    if spec.minimum is not None:
        panel = panel.min(spec.minimum)
    if spec.maximum is not None:
        panel = panel.max(spec.maximum)
    if spec.time_from:
        panel = panel.time_from(spec.time_from)
    if spec.time_shift:
        panel = panel.time_shift(spec.time_shift)
    if spec.coloured_cells:
        panel = panel.cell_options(common.TableColoredBackgroundCellOptions(
            mode=common.TableCellBackgroundDisplayMode.BASIC))
    for transformation in spec.transformations:
        panel = panel.with_transformation(transformation)
    if spec.links:
        panel = panel.data_links(spec.links)
    return panel


def _layout(dashboard: builders.Dashboard, rows: list[tuple[str, list[Spec]]]) -> builders.Dashboard:
    """Rows of panels, each row's panels side by side, wrapping at 24 columns."""
    y, panel_id = 0, 1
    for title, specs in rows:
        dashboard = dashboard.with_row(builders.Row(title).id(panel_id)
                                       .grid_pos(models.GridPos(h=1, w=GRID_WIDTH, x=0, y=y)))
        panel_id, y, x, row_height = panel_id + 1, y + 1, 0, 0
        for spec in specs:
            if x + spec.w > GRID_WIDTH:
                x, y, row_height = 0, y + row_height, 0
            dashboard = dashboard.with_panel(_panel(spec, panel_id, x, y))
            panel_id, x, row_height = panel_id + 1, x + spec.w, max(row_height, spec.h)
        y += row_height
    return dashboard


def _dashboard(uid: str, title: str, description: str, time_from: str) -> builders.Dashboard:
    return (builders.Dashboard(title).uid(uid).description(description).tags(["owl"])
            .timezone(TIMEZONE).time(time_from, "now").refresh("1m").readonly()
            .tooltip(models.DashboardCursorSync.CROSSHAIR).annotations([])
            .link(builders.DashboardLink("OWL dashboards").type(models.DashboardLinkType.DASHBOARDS)
                  .tags(["owl"]).as_dropdown(True).include_vars(True).keep_time(True)))


def _data_link(title: str, url: str) -> builders.DashboardLink:
    """A link on every cell of a panel, opened in a new tab. (The Grafana 11.6 schema types data
    links as dashboard links; Grafana reads their title, url and targetBlank.)"""
    return (builders.DashboardLink(title).type(models.DashboardLinkType.LINK).url(url)
            .target_blank(True))


def _console_url_variable() -> builders.ConstantVariable:
    return (builders.ConstantVariable(CONSOLE_URL_VARIABLE).value(CONSOLE_URL)
            .description("The operator console of the SLA bridge (provider.stack.console_url)."))


def _client_variable(label: str = "Client") -> builders.QueryVariable:
    return (builders.QueryVariable("client").label(label).datasource(DATASOURCE)
            .query("label_values(owl_client_contract_info, client)")
            .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(models.VariableSort.ALPHABETICAL_ASC))


def _multi_variable(name: str, label: str, query: str) -> builders.QueryVariable:
    return (builders.QueryVariable(name).label(label).datasource(DATASOURCE).query(query)
            .refresh(models.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(models.VariableSort.ALPHABETICAL_ASC).multi(True).include_all(True)
            .all_value(".*").current(models.VariableOption(selected=True, text=["All"],
                                                          value=["$__all"])))


# --- Client overview ---------------------------------------------------------------------------

def client_overview() -> builders.Dashboard:
    site = f"{CLIENT}, {SITES}"
    health = [
        Spec("bargauge", "Availability this month",
             "Share of this calendar month (provider's time) each site was up, minute by "
             "minute, maintenance windows left out.",
             [Query(availability(site), "{{site}}")],
             "percentunit", steps("red", (0.99, "orange"), (0.999, "green")),
             w=8, h=7, time_from="now/M", minimum=0.95, maximum=1),
        Spec("stat", "Downtime this month",
             "Minutes of this calendar month each site was down, maintenance left out.",
             [Query(downtime_minutes(site), "{{site}}")],
             "m", steps("green", (1, "orange"), (43, "red")), w=4, h=7, time_from="now/M"),
        Spec("stat", "Site status",
             "Last HTTP probe of each site: up (2xx/3xx) or down.",
             [Query(f"max by (site) (probe_success{{{HTTP}, {site}}})", "{{site}}")],
             "none", OK_IS_ONE, w=4, h=7, mappings=UP_DOWN),
        Spec("timeseries", "Response time",
             "Duration of the HTTP probe of each site. SiteSlow fires above 3 s on average "
             "over 10 minutes.",
             [Query(f"max by (site) (probe_duration_seconds{{{HTTP}, {site}}})", "{{site}}",
                    instant=False)],
             "s", steps("green", (1, "orange"), (3, "red")), w=8, h=7, minimum=0),
    ]
    expiry = [
        Spec("bargauge", "TLS certificate expiry",
             "Time left before the earliest certificate the site serves expires.",
             [Query(f"min by (site) (probe_ssl_earliest_cert_expiry{{{HTTP}, {site}}}) - time()",
                    "{{site}}")],
             "dtdurations", steps("red", (7 * DAY, "orange"), (21 * DAY, "green")),
             w=12, h=6, minimum=0),
        Spec("bargauge", "Domain expiry",
             "Time left before the registration of each site's domain expires (RDAP).",
             [Query(f"min by (site, domain) (owl_domain_expiry_timestamp_seconds{{{site}}}) "
                    "- time()", "{{domain}} ({{site}})")],
             "dtdurations", steps("red", (7 * DAY, "orange"), (30 * DAY, "green")),
             w=12, h=6, minimum=0),
    ]
    cms = [
        Spec("table", "CMS and versions",
             "CMS found on each site, its version, how it was found and with what confidence.",
             [Query(f"max by (site, cms, version, method, confidence) "
                    f"(owl_cms_info{{{site}}})", "{{site}}", table=True)],
             "none", GREEN, w=12, h=7, transformations=merged_table(hidden=(
                 "Time", "__name__", "job", "instance", "tier", "Value"))),
        Spec("stat", "Core update pending",
             "Whether the catalogue knows a newer core release than the installed one.",
             [Query(f"max by (site) (owl_cms_core_update_available{{{site}}})", "{{site}}")],
             "none", ONE_IS_BAD, w=4, h=7, mappings=YES_NO_BAD),
        Spec("stat", "Branch supported",
             "Whether the installed branch of the CMS still receives security fixes.",
             [Query(f"min by (site) (owl_cms_core_supported{{{site}}})", "{{site}}")],
             "none", OK_IS_ONE, w=4, h=7, mappings=YES_NO_GOOD),
        Spec("stat", "Pending plugin and theme updates",
             "Visible plugins, themes and modules for which the catalogue knows a newer version.",
             [Query(f"sum by (site) (owl_cms_component_update_available{{{site}}})",
                    "{{site}}")],
             "short", steps("green", (1, "orange"), (5, "red")), w=4, h=7),
    ]
    vulnerabilities = [
        Spec("stat", "Known vulnerabilities",
             "Known vulnerabilities affecting the core and visible components, by severity "
             "(tier 2 and up).",
             [Query(f"sum by (severity) (owl_cms_vulnerabilities{{{site}}})", "{{severity}}")],
             "short", ANY_IS_BAD, w=8, h=7),
        Spec("table", "Vulnerable components",
             "One line per matching advisory; known_exploited = actively exploited in the wild.",
             [Query(f"max by (site, component, id, severity, known_exploited) "
                    f"(owl_cms_vulnerability_info{{{site}}})", "{{component}}", table=True)],
             "none", GREEN, w=16, h=7, transformations=merged_table(hidden=(
                 "Time", "__name__", "job", "instance", "tier", "Value"))),
    ]
    backups = [
        Spec("table", "Backups against the contract",
             "Age of the newest snapshot, of the last integrity check and of the last restore "
             "test, each as a share of what the contract allows (snapshot period plus grace, "
             "check period, restore test period): 100 % and more is late (tier 3 and up).",
             [Query(f"(time() - max by (server, backup, tool) "
                    f"(owl_backup_last_snapshot_timestamp_seconds{{{CLIENT}}})) / on (server, "
                    f"backup) group_left max by (server, backup) "
                    f"(owl_backup_policy_period_seconds{{{CLIENT}}} "
                    f"+ owl_backup_policy_grace_seconds{{{CLIENT}}})", "{{backup}}", table=True),
              Query(f"(time() - max by (server, backup, tool) "
                    f"(owl_backup_last_check_timestamp_seconds{{{CLIENT}}})) / on (server, "
                    f"backup) group_left max by (server, backup) "
                    f"(owl_backup_policy_check_period_seconds{{{CLIENT}}})", "{{backup}}",
                    table=True),
              Query(f"(time() - max by (server, backup, tool) "
                    f"(owl_backup_last_restore_test_timestamp_seconds{{{CLIENT}}})) / on "
                    f"(server, backup) group_left max by (server, backup) "
                    f"(owl_backup_policy_restore_test_period_seconds{{{CLIENT}}})",
                    "{{backup}}", table=True)],
             "percentunit", steps("green", (0.8, "orange"), (1, "red")), w=14, h=6,
             coloured_cells=True,
             transformations=merged_table({"Value #A": "Newest snapshot",
                                           "Value #B": "Last integrity check",
                                           "Value #C": "Last restore test"})),
        Spec("table", "Backup checks",
             "Result of the last integrity check and of the last restore test (restored "
             "files verified by hash).",
             [Query(f"min by (server, backup, tool) (owl_backup_check_success{{{CLIENT}}})",
                    "{{backup}}", table=True),
              Query(f"min by (server, backup, tool) "
                    f"(owl_backup_restore_test_success{{{CLIENT}}})", "{{backup}}", table=True)],
             "none", OK_IS_ONE, w=10, h=6, mappings=OK_FAILED, coloured_cells=True,
             transformations=merged_table({"Value #A": "Integrity check",
                                           "Value #B": "Restore test"})),
    ]
    shop = [
        Spec("stat", "Checkout path",
             "Last run of the cart path of each shop (create a cart, add the test product, "
             "payment methods, remove, empty): OK when every step succeeded (tier 3 and up).",
             [Query(f"min by (site) (owl_shop_checkout_success{{{site}}})", "{{site}}")],
             "none", OK_IS_ONE, w=6, h=6, mappings=OK_FAILED),
        Spec("table", "Checkout steps",
             "Result of each step of the last run.",
             [Query(f"min by (site, platform, step) (owl_shop_step_success{{{site}}})",
                    "{{step}}", table=True)],
             "none", OK_IS_ONE, w=9, h=6, mappings=OK_FAILED, coloured_cells=True,
             transformations=merged_table({"Value": "Result"})),
        Spec("bargauge", "Checkout step duration",
             "Duration of each step of the last run.",
             [Query(f"max by (site, step) (owl_shop_step_duration_seconds{{{site}}})",
                    "{{site}} {{step}}")],
             "s", steps("green", (2, "orange"), (5, "red")), w=9, h=6, minimum=0),
        Spec("stat", "Payment",
             "Expected payment methods offered at checkout, and the payment provider reachable.",
             [Query(f"min by (site, method) (owl_shop_payment_method_available{{{site}}})",
                    "{{method}}"),
              Query(f"min by (site) (owl_shop_payment_provider_up{{{site}}})",
                    "provider ({{site}})")],
             "none", OK_IS_ONE, w=24, h=4, mappings=OK_FAILED),
    ]
    return _layout(
        _dashboard("owl-client-overview", "Client overview",
                   "How the client's sites are doing: availability, response times, expiries, "
                   "CMS updates, vulnerabilities, backups and the shop's checkout path.", "now/M")
        .with_variable(_client_variable())
        .with_variable(_multi_variable(
            "site", "Site", f'label_values(probe_success{{{HTTP}, {CLIENT}}}, site)')),
        [("Availability and response", health), ("Certificates and domains", expiry),
         ("CMS", cms), ("Vulnerabilities", vulnerabilities), ("Backups", backups),
         ("E-commerce", shop)])


# --- SLA and penalties --------------------------------------------------------------------------

MONTHS = ("This month : 0d, Last month : 1M/M, 2 months ago : 2M/M, 3 months ago : 3M/M, "
          "4 months ago : 4M/M, 5 months ago : 5M/M, 6 months ago : 6M/M")


def _month_variable() -> builders.CustomVariable:
    """A month, as the time shift of panels whose range is the calendar month (``now/M``)."""
    return (builders.CustomVariable("month").label("Month").values(MONTHS)
            .allow_custom_value(False)
            .current(models.VariableOption(selected=True, text="This month", value="0d")))


def _by_severity(metric: str) -> str:
    """This month's increase of a {client, severity} counter, 0 for every severity seen."""
    return (f"sum by (severity) (increase({metric}{{{CLIENT}}}[$__range]))")


def sla() -> builders.Dashboard:
    month = {"time_from": "now/M", "time_shift": "$month"}
    incidents = [
        Spec("table", "Incidents by severity and SLA status",
             "The month's incidents by severity and SLA status (pending, met, breached, "
             "resolved without response, no SLA, maintenance, excluded, suspended); an empty "
             "cell is none.",
             [Query(f"sum by (severity, sla) (owl_sla_month_incidents{{{CLIENT}}})",
                    "{{severity}} {{sla}}", table=True)],
             "short", GREEN, w=12, h=8,
             transformations=[models.DataTransformerConfig(id_val="groupingToMatrix", options={
                 "columnField": "sla", "rowField": "severity", "valueField": "Value"})],
             **month),
        Spec("stat", "Incidents opened",
             "Incidents opened during the month, by severity.",
             [Query(_by_severity("owl_incidents_total"), "{{severity}}")],
             "short", GREEN, w=6, h=4, **month),
        Spec("stat", "Breaches",
             "Incidents not acknowledged within the contract's response time, by severity.",
             [Query(_by_severity("owl_sla_breaches_total"), "{{severity}}")],
             "short", ANY_IS_BAD, w=6, h=4, **month),
        Spec("bargauge", "Acknowledged within the deadline",
             "Share of the month's incidents acknowledged before their deadline, by severity.",
             [Query(f"1 - ((({_by_severity('owl_sla_breaches_total')}) "
                    f"or ({_by_severity('owl_incidents_total')}) * 0) "
                    f"/ ({_by_severity('owl_incidents_total')} > 0))", "{{severity}}")],
             "percentunit", steps("red", (0.9, "orange"), (1, "green")), w=12, h=4,
             minimum=0, maximum=1, **month),
        Spec("table", "Next deadline by severity",
             "Time left before the nearest response deadline of the open incidents awaiting "
             "acknowledgement, by severity (the bridge exports the nearest one per client and "
             "severity, not each incident); each row links to the list of those incidents in "
             "the console.",
             [Query(f"min by (severity) "
                    f"(owl_incident_next_deadline_timestamp_seconds{{{CLIENT}}}) - time()",
                    "{{severity}}", table=True)],
             "dtdurations", steps("red", (0, "orange"), (3600, "green"), floor=-DAY),
             w=16, h=6, sort_by="Time left", coloured_cells=True,
             transformations=merged_table({"Value": "Time left"}),
             links=[_data_link("The incidents in the console", CLIENT_INCIDENT_LIST)]),
        Spec("stat", "Breached, still open",
             "Open incidents whose response deadline passed without an acknowledgement in "
             "time, by severity; the console lists them.",
             [Query(f"sum by (severity) (owl_incidents_open_past_deadline{{{CLIENT}}})",
                    "{{severity}}")],
             "short", steps("green", (1, "red")), w=8, h=6,
             links=[_data_link("The incidents in the console",
                               f"${{{CONSOLE_URL_VARIABLE}}}/incidents?client=${{client}}"
                               "&status=unresolved")]),
    ]
    incidents.insert(0, Spec(
        "bargauge", "Availability",
        "Share of the month each site was up, minute by minute, maintenance windows left out.",
        [Query(availability(CLIENT), "{{site}}")],
        "percentunit", steps("red", (0.99, "orange"), (0.999, "green")), w=24, h=5,
        minimum=0.95, maximum=1, **month))
    penalties = [
        Spec("stat", "Penalty rate",
             "Share of the monthly fee due as penalties this month, after the cap.",
             [Query(f"max(owl_sla_penalty_rate{{{CLIENT}}})", "rate")],
             "percentunit", steps("green", (0.0001, "orange"), (0.05, "red")), w=6, h=5,
             **month),
        Spec("stat", "Penalty amount",
             "This month's penalties in euros, after the cap.",
             [Query(f"max(owl_sla_penalty_amount_euros{{{CLIENT}}})", "amount")],
             "currencyEUR", steps("green", (0.01, "orange")), w=6, h=5, **month),
        Spec("bargauge", "Penalty cap used",
             "Applied rate over the contract's monthly cap (5 % unless the quote says otherwise).",
             [Query(f"max(owl_sla_penalty_cap_used_ratio{{{CLIENT}}})", "cap used")],
             "percentunit", steps("green", (0.5, "orange"), (1, "red")), w=12, h=5,
             minimum=0, maximum=1, **month),
        Spec("table", "Ledger by severity",
             "The month's penalty ledger lines summed by severity, in euros, before the cap "
             "(the penalty amount above is after it); each line is in the console's ledger.",
             [Query(f"sum by (severity) "
                    f"(owl_sla_ledger_lines_amount_euros{{{CLIENT}}})", "{{severity}}",
                    table=True)],
             "currencyEUR", GREEN, w=24, h=7,
             transformations=merged_table({"Value": "Amount"}),
             links=[_data_link("The ledger in the console", CLIENT_LEDGER)], **month),
    ]
    return _layout(
        _dashboard("owl-sla", "SLA and penalties",
                   "Where the client stands against the SLA for a calendar month: incidents, "
                   "acknowledgements, breaches, penalties and the ledger.", "now/M")
        .with_variable(_client_variable()).with_variable(_month_variable())
        .with_variable(_console_url_variable()),
        [("Incidents", incidents), ("Penalties", penalties)])


# --- On-call ------------------------------------------------------------------------------------

def on_call() -> builders.Dashboard:
    open_incidents = [
        Spec("table", "Next deadline by client and severity",
             "Time left before the nearest response deadline of the open incidents awaiting "
             "acknowledgement, per client and severity, soonest first (the bridge exports the "
             "nearest one, not each incident); each row links to those incidents in the "
             "console.",
             [Query(f"min by (client, severity) "
                    f"(owl_incident_next_deadline_timestamp_seconds{{{CLIENTS}}}) - time()",
                    "{{client}} {{severity}}", table=True)],
             "dtdurations", steps("red", (0, "orange"), (3600, "green"), floor=-DAY),
             w=14, h=9, sort_by="Time left", coloured_cells=True,
             transformations=merged_table({"Value": "Time left"}),
             links=[_data_link("The incidents in the console", INCIDENT_LIST)]),
        Spec("table", "Breached, still open, by client",
             "Open incidents whose response deadline passed without an acknowledgement in "
             "time, per client and severity; each row links to them in the console.",
             [Query(f"sum by (client, severity) "
                    f"(owl_incidents_open_past_deadline{{{CLIENTS}}})",
                    "{{client}} {{severity}}", table=True)],
             "short", steps("green", (1, "red")), w=10, h=9, coloured_cells=True,
             transformations=merged_table({"Value": "Breached"}),
             links=[_data_link("The incidents in the console", INCIDENT_LIST)]),
        Spec("stat", "Awaiting acknowledgement",
             "Open incidents with an SLA whose deadline is still ahead: nobody has "
             "acknowledged them yet (an acknowledgement in time ends the wait).",
             [Query(f"sum by (severity) (owl_incidents_awaiting_acknowledgement"
                    f"{{{CLIENTS}}})", "{{severity}}")],
             "short", ANY_IS_BAD, w=6, h=5),
        Spec("stat", "Breached, still open",
             "Open incidents whose deadline has passed.",
             [Query(f"sum by (severity) (owl_incidents_open_past_deadline{{{CLIENTS}}})",
                    "{{severity}}")],
             "short", steps("green", (1, "red")), w=6, h=5),
        Spec("stat", "Open incidents",
             "Incidents not resolved yet, by severity, with an SLA or not.",
             [Query(f"sum by (severity) (owl_incidents_open{{{CLIENTS}}})", "{{severity}}")],
             "short", steps("green", (1, "orange")), w=12, h=5),
        Spec("timeseries", "Time to acknowledge (90th percentile)",
             "90th percentile of the time from clock start to acknowledgement over the last "
             "day, by severity; default response times: critical 4 h, major 24 h, minor 48 h.",
             [Query("histogram_quantile(0.9, sum by (le, severity) "
                    "(rate(owl_incident_time_to_acknowledge_seconds_bucket[1d])))",
                    "{{severity}}", instant=False)],
             "s", steps("green", (4 * 3600, "orange"), (DAY, "red")), w=12, h=7, minimum=0),
        Spec("stat", "Active maintenance windows",
             "Maintenance windows in progress, by client.",
             [Query(f"sum by (client) (owl_maintenance_windows_active{{{CLIENTS}}})",
                    "{{client}}")],
             "short", steps("green", (1, "blue")), w=6, h=7),
        Spec("stat", "Client emails not sent",
             "Client notifications the SMTP server has not accepted yet (the bridge retries "
             "them); 0 when every one went out.",
             [Query(f"sum(owl_notifications_unsent{{{CLIENTS}}}) or vector(0)", "unsent")],
             "short", ANY_IS_BAD, w=6, h=7),
    ]
    health = [
        Spec("stat", "Watchdog",
             "The always-firing Watchdog alert: if it stops, Prometheus no longer evaluates "
             "rules or Alertmanager no longer receives them.",
             [Query('count(ALERTS{alertname="Watchdog", alertstate="firing"}) or vector(0)',
                    "Watchdog")],
             "none", OK_IS_ONE, w=4, h=5,
             mappings=value_text({"1": ("Firing (OK)", "green"), "0": ("Silent", "red")})),
        Spec("stat", "Stack components",
             "Whether Prometheus scrapes each part of the stack.",
             [Query('min by (job) (up{job=~"prometheus|alertmanager|blackbox_exporter'
                    '|owl_exporter|owl_bridge"})', "{{job}}")],
             "none", OK_IS_ONE, w=8, h=5, mappings=UP_DOWN),
        Spec("stat", "Bridge last heard Alertmanager",
             "Time since the SLA bridge last received the Watchdog, which Alertmanager re-sends "
             "to it every hour (or since the bridge started); over 3 hours, alerts are not "
             "reaching it (OwlBridgeNotHearingAlertmanager).",
             [Query("time() - max(owl_bridge_watchdog_last_received_timestamp_seconds)",
                    "owl_bridge")],
             "dtdurations", steps("green", (2 * 3600, "orange"), (3 * 3600, "red")), w=4, h=5),
        Spec("stat", "Oldest probe run",
             "Time since the owl exporter last ran each kind of probe, the oldest target first.",
             [Query("max by (probe) (time() - owl_probe_last_run_timestamp_seconds)",
                    "{{probe}}")],
             "dtdurations", steps("green", (DAY, "orange"), (2 * DAY, "red")), w=8, h=5),
        Spec("timeseries", "Notification failures",
             "Alertmanager notifications that failed per second, by integration.",
             [Query("sum by (integration) (rate(alertmanager_notifications_failed_total"
                    "[$__rate_interval]))", "{{integration}}", instant=False)],
             "ops", steps("green", (0.001, "red")), w=12, h=6, minimum=0),
        Spec("timeseries", "Rule evaluation failures",
             "Prometheus rule evaluations that failed per second, by rule group.",
             [Query("sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total"
                    "[$__rate_interval]))", "{{rule_group}}", instant=False)],
             "ops", steps("green", (0.001, "red")), w=12, h=6, minimum=0),
    ]
    return _layout(
        _dashboard("owl-on-call", "On-call",
                   "What is open across all clients, which deadline comes next, and whether "
                   "the monitoring stack itself is healthy.", "now-6h")
        .with_variable(_multi_variable("client", "Client",
                                       "label_values(owl_client_contract_info, client)"))
        .with_variable(_console_url_variable()),
        [("Incidents", open_incidents), ("The stack's own health", health)])


# --- Servers ------------------------------------------------------------------------------------

def _database_selector(job: str) -> str:
    return f"{job}, {CLIENT}, {SERVERS}, {DATABASES}"


def _databases() -> list[Spec]:
    """The row of database health: what alert_rules/databases.yml watches, per database. A
    site's own database has no server label: ``server=~".*"`` (every server) matches it, a
    chosen server does not."""
    mysql, postgres = _database_selector(MYSQLD), _database_selector(POSTGRES)
    exporters = _database_selector(DATABASE_EXPORTERS)
    return [
        Spec("stat", "État des bases",
             "Si chaque base accepte la connexion de son exportateur (mysql_up, pg_up), et si "
             "Prometheus joint l'exportateur lui-même.",
             [Query(f"max by (database) (mysql_up{{{mysql}}} or pg_up{{{postgres}}})",
                    "{{database}}"),
              Query(f"min by (database) (up{{{exporters}}})", "exportateur {{database}}")],
             "none", OK_IS_ONE, w=8, h=5, mappings=AVAILABLE),
        Spec("bargauge", "Connexions utilisées",
             "Connexions ouvertes sur max_connections. Au-delà de 85 % pendant 10 minutes, une "
             "alerte est levée ; à 100 %, les nouvelles connexions sont refusées et les sites "
             "tombent en erreur.",
             [Query(f"max by (database) ({mysql_connections_used(mysql)} "
                    f"or {postgres_connections_used(postgres)})", "{{database}}")],
             "percentunit", steps("green", (0.85, "orange"), (0.95, "red")), w=8, h=5,
             minimum=0, maximum=1),
        Spec("stat", "Tables à optimiser",
             "Tables dont l'espace libre dépasse 100 Mio et le cinquième de leur taille : "
             "OPTIMIZE TABLE le rendrait. MySQL et MariaDB (non mesuré pour PostgreSQL).",
             [Query(f"count by (database) ({mysql_tables_to_optimise(mysql)}) "
                    f"or count by (database) (mysql_info_schema_table_size"
                    f'{{{mysql}, component="data_free"}}) * 0', "{{database}}")],
             "short", ANY_IS_BAD, w=8, h=5),
        Spec("timeseries", "Requêtes lentes par minute",
             "Requêtes plus longues que long_query_time, par minute, en moyenne sur l'heure "
             "écoulée ; le journal des requêtes lentes les nomme. MySQL et MariaDB.",
             [Query(f"max by (database) ({mysql_slow_queries_per_minute(mysql)})",
                    "{{database}}", instant=False)],
             "opm", steps("green", (1, "orange")), w=12, h=7, minimum=0),
        Spec("timeseries", "Lectures servies par la mémoire",
             "Part des lectures servies par le cache de la base (buffer pool d'InnoDB, "
             "shared_buffers de PostgreSQL) sur l'heure écoulée. Sous 95 %, le cache est trop "
             "petit : les lectures sur disque ralentissent les sites.",
             [Query(f"max by (database) ({mysql_buffer_pool_hit_ratio(mysql)} "
                    f"or {postgres_buffer_pool_hit_ratio(postgres)})", "{{database}}",
                    instant=False)],
             "percentunit", steps("red", (0.95, "green")), w=12, h=7, maximum=1),
        Spec("stat", "Réplication",
             "Les deux threads de chaque réplique : IO lit le journal du primaire, SQL "
             "l'applique. Un thread arrêté, et la copie vieillit. MySQL et MariaDB.",
             [Query(f"min by (database) (mysql_slave_status_slave_io_running{{{mysql}}})",
                    "{{database}} IO"),
              Query(f"min by (database) (mysql_slave_status_slave_sql_running{{{mysql}}})",
                    "{{database}} SQL")],
             "none", OK_IS_ONE, w=12, h=7, mappings=RUNNING),
        Spec("timeseries", "Retard de réplication",
             "Retard de chaque réplique sur son primaire (Seconds_Behind_Master). Au-delà de "
             "5 minutes pendant 10 minutes, une alerte est levée. MySQL et MariaDB.",
             [Query(f"max by (database) (mysql_slave_status_seconds_behind_master{{{mysql}}})",
                    "{{database}}", instant=False)],
             "s", steps("green", (300, "orange")), w=12, h=7, minimum=0),
    ]


def servers() -> builders.Dashboard:
    node = f'job="node", {CLIENT}, {SERVERS}'
    filesystems = f'{node}, fstype!~"tmpfs|ramfs|squashfs|nsfs|devtmpfs|fuse.*"'
    status = [
        Spec("stat", "Reachable",
             "SSH banner probe of each server (blackbox_exporter).",
             [Query(f'min by (server) (probe_success{{job="blackbox_ssh", {CLIENT}, '
                    f'{SERVERS}}})', "{{server}}")],
             "none", OK_IS_ONE, w=6, h=5, mappings=UP_DOWN),
        Spec("stat", "node_exporter",
             "Whether Prometheus scrapes each server's node_exporter.",
             [Query(f"min by (server) (up{{{node}}})", "{{server}}")],
             "none", OK_IS_ONE, w=6, h=5, mappings=UP_DOWN),
        Spec("stat", "Pending OS updates",
             "Packages with an upgrade pending (apt), per server.",
             [Query(f"sum by (server) (apt_upgrades_pending{{{CLIENT}, {SERVERS}}})",
                    "{{server}}")],
             "short", steps("green", (1, "orange"), (20, "red")), w=6, h=5),
        Spec("stat", "Reboot required",
             "Whether the server needs a reboot to finish an upgrade.",
             [Query(f"max by (server) (node_reboot_required{{{CLIENT}, {SERVERS}}})",
                    "{{server}}")],
             "none", ONE_IS_BAD, w=6, h=5, mappings=YES_NO_BAD),
    ]
    resources = [
        Spec("timeseries", "CPU used",
             "Share of CPU time not idle, all cores together.",
             [Query(f'1 - avg by (server) (rate(node_cpu_seconds_total{{{node}, mode="idle"}}'
                    f'[$__rate_interval]))', "{{server}}", instant=False)],
             "percentunit", steps("green", (0.8, "orange"), (0.95, "red")), w=12, h=7,
             minimum=0, maximum=1),
        Spec("timeseries", "Memory used",
             "Share of memory not available to new processes.",
             [Query(f"1 - sum by (server) (node_memory_MemAvailable_bytes{{{node}}}) "
                    f"/ sum by (server) (node_memory_MemTotal_bytes{{{node}}})", "{{server}}",
                    instant=False)],
             "percentunit", steps("green", (0.85, "orange"), (0.95, "red")), w=12, h=7,
             minimum=0, maximum=1),
        Spec("bargauge", "Disk used",
             "Share of each filesystem used (DiskNearlyFull fires near the top).",
             [Query(f"1 - max by (server, mountpoint) (node_filesystem_avail_bytes"
                    f"{{{filesystems}}}) / max by (server, mountpoint) "
                    f"(node_filesystem_size_bytes{{{filesystems}}})",
                    "{{server}} {{mountpoint}}")],
             "percentunit", steps("green", (0.8, "orange"), (0.9, "red")), w=12, h=7,
             minimum=0, maximum=1),
        Spec("timeseries", "Load per core",
             "1-minute load average divided by the number of cores.",
             [Query(f"max by (server) (node_load1{{{node}}}) / count by (server) "
                    f'(node_cpu_seconds_total{{{node}, mode="idle"}})', "{{server}}",
                    instant=False)],
             "short", steps("green", (1, "orange"), (2, "red")), w=12, h=7, minimum=0),
        Spec("stat", "Uptime",
             "Time since each server booted.",
             [Query(f"time() - max by (server) (node_boot_time_seconds{{{node}}})",
                    "{{server}}")],
             "dtdurations", steps("orange", (3600, "green")), w=24, h=4),
    ]
    return _layout(
        _dashboard("owl-servers", "Servers",
                   "The client's servers: reachability, resources (node_exporter), pending OS "
                   "updates and reboots, and the health of the databases.", "now-24h")
        .with_variable(_client_variable())
        .with_variable(_multi_variable(
            "server", "Server",
            f'label_values({{job=~"node|blackbox_ssh|mysqld|postgres", {CLIENT}}}, server)'))
        .with_variable(_multi_variable(
            "database", "Base de données",
            f"label_values({{{DATABASE_EXPORTERS}, {CLIENT}, {SERVERS}}}, database)")),
        [("Status", status), ("Resources", resources), ("Bases de données", _databases())])


# --- files --------------------------------------------------------------------------------------

DASHBOARDS = {
    "client-overview.json": client_overview,
    "sla.json": sla,
    "on-call.json": on_call,
    "servers.json": servers,
}
# The dashboards a client's organization gets (owl grafana sync); on-call is OWL's own.
CLIENT_DASHBOARDS = ("client-overview.json", "sla.json", "servers.json")


def render(name: str) -> str:
    """The JSON text of dashboard ``name``, as committed."""
    model = DASHBOARDS[name]().build()
    return json.dumps(model, cls=JSONEncoder, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    out = Path(argv[0]) if argv else DIRECTORY
    for name in DASHBOARDS:
        (out / name).write_text(render(name), encoding="utf-8")
        print(f"wrote {out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
