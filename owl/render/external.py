"""``owl config render --profile external``: only what owl-monitoring adds to a provider's own
Prometheus, Alertmanager and Grafana, as parts that ``owl config merge`` (owl.render.merge) puts
into their configuration files (docs/external-stack.md)::

    prometheus/scrape_configs.yml    scrape_configs: our jobs, each named owl_<job>
    prometheus/rule_files.yml        rule_files: the glob of our rule files
    prometheus/alerting.yml          alerting: their Alertmanager, used only if they have none
    prometheus/targets/<job>.json    file_sd targets, as the local profile renders them
    prometheus/rules/<area>.yml      the alert_rules package's files and generated.yml, every
                                     alert labelled owl_stack="owl-monitoring"
    alertmanager/route.yml           route: one subtree, matching owl_stack="owl-monitoring" only
    alertmanager/receivers.yml       receivers: ours, each named owl-<name>
    alertmanager/time_intervals.yml  time_intervals: ours, each named owl-<name>
    alertmanager/inhibit_rules.yml   inhibit_rules: ours, muting only alerts of ours
    alertmanager/templates.yml       templates: the on-call emails' template file
    alertmanager/templates/owl-email.tmpl
    blackbox/blackbox.yml            our blackbox_exporter's modules
    grafana/...                      a datasource on their Prometheus, not the default one, and
                                     our dashboards

**What tells ours from theirs.** Every alert of our rules carries the label
``owl_stack="owl-monitoring"`` (:data:`MARKER_LABEL`), written into the rule copies beside each
alert's ``severity``: our route subtree matches on it alone, so none of their alerts enters it
and, being their root's first child without ``continue``, none of ours reaches their receivers.
The rules' own selectors are not changed: an alert of ours is what one of our rules raised,
whatever series it read. Our scrape jobs are named ``owl_<job>`` (``owl_node``...), so as not to
collide with their ``node`` or ``prometheus`` jobs, and set the ``job`` label back to ``<job>``,
which the rules and dashboards select on; each carries a relabelling of a ``__tmp_owl`` label
(:data:`SCRAPE_MARKER`, dropped with every ``__`` label after relabelling) by which a later merge
knows the job as ours. The ``prometheus`` and ``alertmanager`` jobs watch their Prometheus and
Alertmanager, which they may scrape already: their series carry ``owl_scrape`` so as to differ
from theirs. Receivers and time intervals are named ``owl-<name>`` (``owl-pager``,
``owl-business-hours``); their email settings are in each email config, their global section
being theirs.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re

import yaml

from owl.inventory import Inventory, Stack, format_duration
from owl.render.alertmanager import alertmanager_config, notified_clients, smtp_settings
from owl.render.blackbox import render_blackbox
from owl.render.email_template import TEMPLATE_PATH, render_email_template
from owl.render.generated_rules import render_generated_rules
from owl.render.grafana import (DASHBOARD_PROVIDER_PATH, DATASOURCE_PATH, dashboard_copies,
                                dashboard_provisioning, datasource_provisioning)
from owl.render.profile import Profile
from owl.render.prometheus import (RULES_DIR, TARGETS_DIR, alert_rule_copies, prometheus_config,
                                   scrape_configs, target_groups)
from owl.render.serialize import to_json, to_yaml

PROFILE = "external"
MARKER_LABEL, MARKER_VALUE = "owl_stack", "owl-monitoring"
MARKER_MATCHER = f'{MARKER_LABEL}="{MARKER_VALUE}"'
JOB_PREFIX = "owl_"  # our scrape jobs
NAME_PREFIX = "owl-"  # our receivers and time intervals
SCRAPE_MARKER = {"target_label": "__tmp_owl", "replacement": MARKER_VALUE}
SELF_JOBS = ("prometheus", "alertmanager")  # their parts, which they may scrape themselves
SELF_LABEL = "owl_scrape"
DATASOURCE_NAME = "OWL Prometheus"

SCRAPE_CONFIGS_PATH = "prometheus/scrape_configs.yml"
RULE_FILES_PATH = "prometheus/rule_files.yml"
ALERTING_PATH = "prometheus/alerting.yml"
ROUTE_PATH = "alertmanager/route.yml"
RECEIVERS_PATH = "alertmanager/receivers.yml"
TIME_INTERVALS_PATH = "alertmanager/time_intervals.yml"
INHIBIT_RULES_PATH = "alertmanager/inhibit_rules.yml"
TEMPLATES_PATH = "alertmanager/templates.yml"
# The part file of each key merged into their prometheus.yml and alertmanager.yml.
PROMETHEUS_PARTS = {"scrape_configs": SCRAPE_CONFIGS_PATH, "rule_files": RULE_FILES_PATH,
                    "alerting": ALERTING_PATH}
ALERTMANAGER_PARTS = {"route": ROUTE_PATH, "receivers": RECEIVERS_PATH,
                      "time_intervals": TIME_INTERVALS_PATH,
                      "inhibit_rules": INHIBIT_RULES_PATH, "templates": TEMPLATES_PATH}

_SEVERITY_LINE = re.compile(r"^(?P<indent> +)severity: .*$", re.MULTILINE)


def render_external(inventory: Inventory, profile: Profile, today: dt.date) -> dict[str, str]:
    """Every file of the external profile, relative path -> text."""
    clients = inventory.monitored_clients(today)
    stack = inventory.provider.stack
    config = prometheus_config(inventory, profile, clients)
    files = {
        SCRAPE_CONFIGS_PATH: to_yaml({"scrape_configs": external_scrape_configs(
            profile, clients, stack)}),
        RULE_FILES_PATH: to_yaml({"rule_files": config["rule_files"]}),
        ALERTING_PATH: to_yaml({"alerting": config["alerting"]}),
    }
    for job, groups in target_groups(clients).items():
        files[f"{TARGETS_DIR}/{job}.json"] = to_json(groups)
    rules = {**alert_rule_copies(), **render_generated_rules(inventory, today)}
    files.update({path: marked_rules(text, path) for path, text in rules.items()})
    files.update(alertmanager_parts(inventory, profile, today))
    files.update(render_email_template(inventory, notified_clients(inventory, today)))
    files.update(render_blackbox())
    files.update(grafana_parts(inventory, profile))
    return files


# --- Prometheus -----------------------------------------------------------------------------

def job_name(job: str) -> str:
    return job if job.startswith(JOB_PREFIX) else JOB_PREFIX + job


def external_scrape_configs(profile: Profile, clients, stack: Stack) -> list[dict]:
    """The local profile's jobs, named ``owl_<job>``, with the ``job`` label they had, our own
    scrape interval (not their global one), and the marker a merge knows them by."""
    return [external_job(job, stack) for job in
            scrape_configs(profile, clients, stack.scrape_interval)]


def external_job(job: dict, stack: Stack) -> dict:
    name = job["job_name"]
    config = {"job_name": job_name(name)}
    if "scrape_interval" not in job:
        config["scrape_interval"] = format_duration(stack.scrape_interval)
    config.update((key, value) for key, value in job.items() if key != "job_name")
    relabel = [*job.get("relabel_configs", []), dict(SCRAPE_MARKER)]
    labelled = any("job" in group.get("labels", {}) for group in job.get("static_configs", []))
    if config["job_name"] != name and not labelled:
        relabel.append({"target_label": "job", "replacement": name})
    if name in SELF_JOBS:
        relabel.append({"target_label": SELF_LABEL, "replacement": config["job_name"]})
    config["relabel_configs"] = relabel
    return config


def marked_rules(text: str, path: str) -> str:
    """Rule file ``text`` with ``owl_stack: owl-monitoring`` beside every alert's severity (its
    comments kept); checked against the file's own structure."""
    marked = _SEVERITY_LINE.sub(
        lambda found: f"{found.group(0)}\n{found.group('indent')}{MARKER_LABEL}: {MARKER_VALUE}",
        text)
    expected = yaml.safe_load(text)
    for group in (expected or {}).get("groups", []):
        for rule in group["rules"]:
            if "alert" in rule:
                rule["labels"] = {**rule.get("labels", {}), MARKER_LABEL: MARKER_VALUE}
    if yaml.safe_load(marked) != expected:
        raise ValueError(f"{path}: every alert rule needs one 'severity:' line in its labels "
                         "to be marked as owl-monitoring's")
    return marked


# --- Alertmanager ---------------------------------------------------------------------------

def name_of_ours(name: str) -> str:
    return name if name.startswith(NAME_PREFIX) else NAME_PREFIX + name


def alertmanager_parts(inventory: Inventory, profile: Profile, today: dt.date) -> dict[str, str]:
    config = alertmanager_config(inventory, profile, today)
    email = email_settings(smtp_settings(inventory.provider.smtp))
    root = config["route"]
    subtree = {"receiver": name_of_ours(root["receiver"]), "matchers": [MARKER_MATCHER],
               "continue": False,
               **{key: root[key] for key in ("group_by", "group_wait", "group_interval",
                                             "repeat_interval")},
               "routes": [renamed_route(route) for route in root["routes"]]}
    template = posixpath.join(posixpath.dirname(profile.prometheus_dir), TEMPLATE_PATH)
    return {
        ROUTE_PATH: to_yaml({"route": subtree}),
        RECEIVERS_PATH: to_yaml({"receivers": [renamed_receiver(receiver, email)
                                               for receiver in config["receivers"]]}),
        TIME_INTERVALS_PATH: to_yaml({"time_intervals": [
            {**interval, "name": name_of_ours(interval["name"])}
            for interval in config["time_intervals"]]}),
        INHIBIT_RULES_PATH: to_yaml({"inhibit_rules": [
            {**rule, "source_matchers": [*rule["source_matchers"], MARKER_MATCHER],
             "target_matchers": [*rule["target_matchers"], MARKER_MATCHER]}
            for rule in config["inhibit_rules"]]}),
        TEMPLATES_PATH: to_yaml({"templates": [template]}),
    }


def renamed_route(route: dict) -> dict:
    renamed = {**route, "receiver": name_of_ours(route["receiver"])}
    for key in ("active_time_intervals", "mute_time_intervals"):
        if key in route:
            renamed[key] = [name_of_ours(name) for name in route[key]]
    if "routes" in route:
        renamed["routes"] = [renamed_route(child) for child in route["routes"]]
    return renamed


def email_settings(global_smtp: dict) -> dict:
    """The global ``smtp_*`` settings as an email config's own fields."""
    return {key.removeprefix("smtp_"): value for key, value in global_smtp.items()}


def renamed_receiver(receiver: dict, email: dict) -> dict:
    renamed = {**receiver, "name": name_of_ours(receiver["name"])}
    if "email_configs" in receiver:
        renamed["email_configs"] = [{"to": config["to"], **email, **config}
                                    for config in receiver["email_configs"]]
    return renamed


# --- Grafana --------------------------------------------------------------------------------

def grafana_parts(inventory: Inventory, profile: Profile) -> dict[str, str]:
    """Our dashboards on their Prometheus, through a datasource that is not their default."""
    provisioning = datasource_provisioning(inventory, profile)
    for datasource in provisioning["datasources"]:
        datasource.update(name=DATASOURCE_NAME, isDefault=False)
    return {DATASOURCE_PATH: to_yaml(provisioning),
            DASHBOARD_PROVIDER_PATH: to_yaml(dashboard_provisioning()),
            **dashboard_copies(inventory.provider.stack.console_url)}
