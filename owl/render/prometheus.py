"""``prometheus/prometheus.yml``, its file_sd target files, the copies of the alert rules, and
``prometheus/flags``: the command-line flags that the inventory decides (the retention), one a line,
for ``prometheus @FILE`` (docker-compose.yml reads it so; ``owl up`` gives them on its command line).

Scrape jobs (their names are what alert rules and dashboards select on):

- ``blackbox_http``: every site of a monitored client, through blackbox_exporter's ``http_2xx``;
  ``instance`` is the site's URL. Labels ``client``, ``tier``, ``site``, ``cms`` and ``shop``
  (when the site has one).
- ``blackbox_defacement``: the same sites every 2 minutes, through ``http_defacement``, which fails
  on a page showing a defacer's marks; same labels.
- ``blackbox_tls_legacy``: every HTTPS site's ``host:port`` every 10 minutes, through
  ``tls_legacy``, which succeeds only if the server still accepts TLS 1.0 or 1.1. Labels
  ``client``, ``tier``, ``site``.
- ``blackbox_ssh``: every server with an ``ssh_port``, ``ssh_banner`` on ``address:ssh_port``.
  Labels ``client``, ``tier``, ``server``.
- ``node``: servers with a ``node_exporter``. Labels ``client``, ``tier``, ``server``.
- ``mysqld``, ``postgres``: the databases of the servers and sites of clients of tier 2 and up
  (section 4c), through their exporters (mysqld_exporter for ``mysql`` and ``mariadb``,
  postgres_exporter for ``postgresql``); ``instance`` is the database's ``address`` (else the
  exporter's). Labels ``client``, ``tier``, ``server`` or ``site``, ``database``, ``engine``. A
  database whose exporter asks for basic auth gets a scrape config of its own (Prometheus sets
  credentials per scrape config), named ``JOB_CLIENT_DATABASE``, whose targets carry the same
  ``job`` label.
- ``owl_exporter``, ``owl_bridge``: with ``honor_labels``, as they set ``client``/``site`` labels
  on their own series. ``owl_bridge`` sends the bridge's scrape token (``authorization``, from
  the file the profile names): its ``/metrics`` carries every client's penalties.
- ``prometheus``, ``alertmanager``, ``blackbox_exporter``: the stack watching itself.

With ``provider.stack.long_term_store``, ``remote_write`` sends every sample there
(docs/sharding.md; ``owl.render.shards`` splits the targets between shards).
"""

from __future__ import annotations

import datetime as dt
import importlib.resources
from dataclasses import dataclass
from urllib.parse import urlsplit

from owl.inventory import Client, Database, Inventory, Server, Site, Stack, format_duration
from owl.inventory.long_term_store import LongTermStore
from owl.render.profile import Profile, host_port
from owl.render.serialize import to_json, to_yaml

CONFIG_PATH = "prometheus/prometheus.yml"
FLAGS_PATH = "prometheus/flags"
RULES_DIR = "prometheus/rules"
TARGETS_DIR = "prometheus/targets"
DATABASE_JOBS = {"mysql": "mysqld", "mariadb": "mysqld", "postgresql": "postgres"}
FILE_SD_JOBS = ("blackbox_http", "blackbox_tls_legacy", "blackbox_ssh", "node",
                *dict.fromkeys(DATABASE_JOBS.values()))
DATABASE_MIN_TIER = 2  # "optimisations pour les bases de données des sites web" (section 4c)


@dataclass(frozen=True)
class BlackboxJob:
    module: str  # the blackbox module it probes with
    targets: str  # the file_sd job whose targets it probes
    interval: str | None = None  # None: the global scrape interval


BLACKBOX_JOBS = {
    "blackbox_http": BlackboxJob("http_2xx", "blackbox_http"),
    # second looks at the sites, less often: each is another request to the client's server
    "blackbox_defacement": BlackboxJob("http_defacement", "blackbox_http", "2m"),
    "blackbox_tls_legacy": BlackboxJob("tls_legacy", "blackbox_tls_legacy", "10m"),
    "blackbox_ssh": BlackboxJob("ssh_banner", "blackbox_ssh"),
}


def render_prometheus(inventory: Inventory, profile: Profile, today: dt.date) -> dict[str, str]:
    """prometheus.yml, its flags, one target file per file_sd job, and the alert rule files."""
    clients = inventory.monitored_clients(today)
    files = {CONFIG_PATH: to_yaml(prometheus_config(inventory, profile, clients)),
             FLAGS_PATH: flags_file(inventory.provider.stack)}
    for job, groups in target_groups(clients).items():
        files[f"{TARGETS_DIR}/{job}.json"] = to_json(groups)
    files.update(alert_rule_copies())
    return files


def prometheus_flags(stack: Stack) -> list[str]:
    """Prometheus' flags that the inventory decides: it keeps what the rules and dashboards read
    (owl.tsdb_retention)."""
    return [f"--storage.tsdb.retention.time={format_duration(stack.retention)}"]


def flags_file(stack: Stack) -> str:
    """:func:`prometheus_flags` as Prometheus reads an ``@FILE`` argument: a flag a line."""
    lines = ["# Prometheus' flags from the inventory's provider.stack: prometheus @FILE",
             *prometheus_flags(stack)]
    return "\n".join(lines) + "\n"


def prometheus_config(inventory: Inventory, profile: Profile, clients: list[Client]) -> dict:
    stack = inventory.provider.stack
    config = {
        "global": {
            "scrape_interval": format_duration(stack.scrape_interval),
            "evaluation_interval": format_duration(stack.evaluation_interval),
        },
        "rule_files": [profile.in_prometheus_dir("rules/*.yml")],
        "alerting": {"alertmanagers": [{"static_configs": [{"targets": [profile.alertmanager]}]}]},
        "scrape_configs": scrape_configs(profile, clients, stack.scrape_interval),
    }
    if stack.long_term_store is not None:
        config["remote_write"] = [remote_write(stack.long_term_store)]
    return config


def remote_write(store: LongTermStore) -> dict:
    """Every sample to the long-term store (docs/sharding.md). The replicas of --profile ha
    write the same series but for their ``replica`` external label (owl.render.ha): it is dropped
    here, so that both write one series, which the store deduplicates
    (VictoriaMetrics' -dedup.minScrapeInterval)."""
    return {"url": store.remote_write_url,
            "write_relabel_configs": [{"action": "labeldrop", "regex": "replica"}]}


def scrape_configs(profile: Profile, clients: list[Client],
                   scrape_interval: dt.timedelta) -> list[dict]:
    return [
        *(blackbox_job(name, job, profile) for name, job in BLACKBOX_JOBS.items()),
        {"job_name": "node", "file_sd_configs": [file_sd(profile, "node")]},
        *({"job_name": job, "file_sd_configs": [file_sd(profile, job)]}
          for job in dict.fromkeys(DATABASE_JOBS.values())),
        *(authenticated_database_job(client, owner, database)
          for client, owner, database in watched_databases(clients)
          if database.exporter_password_file),
        static_job("owl_exporter", profile.exporter, honor_labels=True),
        # its /metrics grows with the clients (16 s at 50,000): the whole interval, not
        # Prometheus' 10 s default, before the bridge counts as down
        {**static_job("owl_bridge", profile.bridge, honor_labels=True,
                      credentials_file=profile.scrape_token_file),
         "scrape_timeout": format_duration(scrape_interval)},
        static_job("prometheus", profile.prometheus),
        static_job("alertmanager", profile.alertmanager),
        static_job("blackbox_exporter", profile.blackbox_exporter),
    ]


def blackbox_job(name: str, job: BlackboxJob, profile: Profile) -> dict:
    """A job whose targets are probed through blackbox_exporter: target -> ?target=, instance."""
    config = {"job_name": name}
    if job.interval:
        config["scrape_interval"] = job.interval
    return {
        **config,
        "metrics_path": "/probe",
        "params": {"module": [job.module]},
        "file_sd_configs": [file_sd(profile, job.targets)],
        "relabel_configs": [
            {"source_labels": ["__address__"], "target_label": "__param_target"},
            {"source_labels": ["__param_target"], "target_label": "instance"},
            {"target_label": "__address__", "replacement": profile.blackbox_exporter},
        ],
    }


def static_job(job: str, address: str, honor_labels: bool = False,
               credentials_file: str | None = None) -> dict:
    """A job of one target; with ``credentials_file``, scraped with that bearer token."""
    config = {"job_name": job}
    if honor_labels:
        config["honor_labels"] = True
    if credentials_file:
        config["authorization"] = {"credentials_file": credentials_file}
    config["static_configs"] = [{"targets": [address]}]
    return config


def file_sd(profile: Profile, job: str) -> dict:
    return {"files": [profile.in_prometheus_dir(f"targets/{job}.json")]}


def target_groups(clients: list[Client]) -> dict[str, list[dict]]:
    """file_sd target groups of every file_sd job, one group per target (labels differ)."""
    groups: dict[str, list[dict]] = {job: [] for job in FILE_SD_JOBS}
    for client in clients:
        groups["blackbox_http"].extend(site_group(client, site) for site in client.sites)
        groups["blackbox_tls_legacy"].extend(tls_group(client, site) for site in client.sites
                                             if site.url.startswith("https://"))
        groups["blackbox_ssh"].extend(ssh_group(client, server) for server in client.servers
                                      if server.ssh_port is not None)
        groups["node"].extend(node_group(client, server) for server in client.servers
                              if server.node_exporter)
    for client, owner, database in watched_databases(clients):
        if not database.exporter_password_file:
            groups[DATABASE_JOBS[database.engine]].append(database_group(client, owner, database))
    return groups


def watched_databases(clients: list[Client]) -> list[tuple[Client, dict[str, str], Database]]:
    """``(client, owner label, database)`` of the databases of clients whose tier includes
    them; the owner label is ``{"server": id}`` or ``{"site": id}``."""
    return [(client, owner, database) for client in clients
            if client.contract.tier >= DATABASE_MIN_TIER
            for owner, database in [
                *(({"server": server.id}, database) for server in client.servers
                  for database in server.databases),
                *(({"site": site.id}, site.database) for site in client.sites if site.database)]]


def database_group(client: Client, owner: dict[str, str], database: Database) -> dict:
    return {"targets": [database.exporter],
            "labels": {**client_labels(client), **owner, "database": database.id,
                       "engine": database.engine, "instance": database.instance}}


def authenticated_database_job(client: Client, owner: dict[str, str],
                               database: Database) -> dict:
    job = DATABASE_JOBS[database.engine]
    group = database_group(client, owner, database)
    return {"job_name": f"{job}_{client.id}_{database.id}",
            "basic_auth": {"username": database.exporter_username,
                           "password_file": database.exporter_password_file},
            "static_configs": [{**group, "labels": {**group["labels"], "job": job}}]}


def client_labels(client: Client) -> dict[str, str]:
    return {"client": client.id, "tier": str(client.contract.tier)}


def site_group(client: Client, site: Site) -> dict:
    labels = {**client_labels(client), "site": site.id, "cms": site.cms}
    if site.shop:
        labels["shop"] = site.shop
    return {"targets": [site.url], "labels": labels}


def tls_group(client: Client, site: Site) -> dict:
    url = urlsplit(site.url)
    return {"targets": [host_port(url.hostname, url.port or 443)],
            "labels": {**client_labels(client), "site": site.id}}


def ssh_group(client: Client, server: Server) -> dict:
    return {"targets": [host_port(server.address, server.ssh_port)],
            "labels": {**client_labels(client), "server": server.id}}


def node_group(client: Client, server: Server) -> dict:
    return {"targets": [server.node_exporter],
            "labels": {**client_labels(client), "server": server.id}}


def alert_rule_copies() -> dict[str, str]:
    """The rule files of the ``alert_rules`` package (its ``tests/`` left out), as they are."""
    source = importlib.resources.files("alert_rules")
    return {f"{RULES_DIR}/{item.name}": item.read_text(encoding="utf-8")
            for item in sorted(source.iterdir(), key=lambda item: item.name)
            if item.is_file() and item.name.endswith(".yml")}
