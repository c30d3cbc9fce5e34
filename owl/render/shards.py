"""``owl config render --shards N``: N Prometheus shards that split the targets, each writing to
the long-term store, which the dashboards and the reports read (docs/sharding.md).

With N = 1 (the default) nothing here runs and the render is the profile's. With N > 1 the single
``prometheus/prometheus.yml``, ``prometheus/flags`` and ``prometheus/targets/<job>.json`` are
replaced by, for each shard i (1..N, ``provider.stack.shards[i-1]``)::

    prometheus/prometheus-shard-<i>.yml     shard i: external label shard="<i>", dropped again
                                            from alerts; remote_write to the long-term store
    prometheus/flags-shard-<i>              its flags: listen address, external URL, retention
    prometheus/targets/<job>-shard-<i>.json the targets of shard i, one file per file_sd job

and ``prometheus/rules/shards.yml`` (PrometheusShardDown). The rules, alertmanager.yml, blackbox
and Grafana files are the profile's; Grafana's datasource reads the long-term store.

**The split.** A target (site or server) belongs to shard ``owl.sharding.shard_of("client/id",
N)``, the function ``owl exporter --shard I/N`` splits its targets with: all of a site's jobs
(HTTP, defacement, legacy TLS, its database) and all of a server's (SSH, node, its databases) are
on the shard that also scrapes the exporter probing it, so the rules joining blackbox's series
with the exporter's on client and site (CmsNotRecognised, SiteContentReplaced, OwlProbeFailing)
see both. The render writes each shard's targets rather than having every Prometheus drop the
others' with ``hashmod``: Prometheus' hashmod is MD5, which cannot reproduce the exporters'
CRC-32 split, and each shard then discovers only its own targets.

**Every shard** also scrapes the bridge (the contracts every client alert joins on), Alertmanager
and every shard's Prometheus (so that a dead shard is told by the others: PrometheusShardDown),
evaluates every rule on its own targets, and sends its alerts without the shard label: an alert
that several shards raise alike (Watchdog, OwlBridgeDown) is one alert to Alertmanager.

**The long-term store** gets the series of the shard's own targets and exporter with their
``shard`` label; the series every shard writes alike (the bridge's, Alertmanager's, Prometheus',
and rule results without a job label, such as the contracts and the calendar) without it, so
that the N copies are one series there (VictoriaMetrics' ``-dedup.minScrapeInterval`` then keeps
one sample per interval).
"""

from __future__ import annotations

import copy
import dataclasses
import datetime as dt
import json

from owl.inventory import Inventory, Stack
from owl.inventory.long_term_store import PrometheusShard
from owl.render.profile import Profile
from owl.render.prometheus import (CONFIG_PATH, FILE_SD_JOBS, FLAGS_PATH, RULES_DIR,
                                   TARGETS_DIR, prometheus_config, prometheus_flags)
from owl.render.serialize import to_json, to_yaml
from owl.sharding import shard_of, target_key

SHARD_LABEL = "shard"
SHARDED_PROFILES = ("local",)
RULES_PATH = f"{RULES_DIR}/shards.yml"
# The jobs every shard scrapes alike; with the rule results that carry no job label (""), their
# series reach the long-term store without the shard label.
SHARED_JOBS = ("owl_bridge", "alertmanager", "prometheus", "")


class ShardRenderError(ValueError):
    """The inventory cannot be rendered in N shards; the message names the flag or field."""


def shards_of(stack: Stack, count: int, profile: str) -> list[PrometheusShard]:
    """``provider.stack.shards``, checked against ``--shards count`` and the profile."""
    if profile not in SHARDED_PROFILES:
        raise ShardRenderError(f"--shards {count} is rendered with --profile local only, not "
                               f"--profile {profile} (see docs/sharding.md)")
    if stack.long_term_store is None:
        raise ShardRenderError(
            f"--shards {count} needs provider.stack.long_term_store in the inventory: the "
            "store every shard writes to, and the dashboards and reports read (remote_write_url, "
            "query_url; see docs/sharding.md)")
    if len(stack.shards) != count:
        raise ShardRenderError(
            f"--shards {count}: provider.stack.shards lists {len(stack.shards)} shard"
            f"{'' if len(stack.shards) == 1 else 's'}; it needs one entry per shard, each with "
            "the address of its Prometheus (see docs/sharding.md)")
    return stack.shards


def render_shards(files: dict[str, str], inventory: Inventory, profile: Profile,
                  today: dt.date, count: int, profile_name: str) -> dict[str, str]:
    """``files`` (the profile's render) with the single Prometheus replaced by ``count``
    shards."""
    stack = inventory.provider.stack
    shards = shards_of(stack, count, profile_name)
    clients = inventory.monitored_clients(today)
    # the single Prometheus' targets as rendered, split (read back: quicker than again)
    split = split_groups({job: json.loads(files[f"{TARGETS_DIR}/{job}.json"])
                          for job in FILE_SD_JOBS}, count)
    rendered = {path: text for path, text in files.items()
                if path not in (CONFIG_PATH, FLAGS_PATH)
                and not (path.startswith(f"{TARGETS_DIR}/") and path.endswith(".json"))}
    for index, shard in enumerate(shards, start=1):
        base = prometheus_config(inventory, shard_profile(profile, shard), clients)
        rendered[config_path(index)] = to_yaml(shard_config(base, index, shards))
        rendered[flags_path(index)] = flags_text(index, stack, shard)
        for job, by_shard in split.items():
            rendered[targets_path(job, index)] = to_json(by_shard[index])
    rendered[RULES_PATH] = to_yaml(shard_rules())
    return rendered


def config_path(index: int) -> str:
    return f"prometheus/prometheus-shard-{index}.yml"


def flags_path(index: int) -> str:
    return f"prometheus/flags-shard-{index}"


def targets_path(job: str, index: int) -> str:
    return f"{TARGETS_DIR}/{job}-shard-{index}.json"


def split_groups(groups: dict[str, list[dict]], count: int) -> dict[str, dict[int, list[dict]]]:
    """job -> shard -> its target groups, in the order of ``groups``."""
    split = {job: {index: [] for index in range(1, count + 1)} for job in groups}
    for job, job_groups in groups.items():
        for group in job_groups:
            split[job][group_shard(group, count)].append(group)
    return split


def group_shard(group: dict, count: int) -> int:
    """The shard of a target group: its site's or server's (a database's owner's)."""
    labels = group["labels"]
    return shard_of(target_key(labels["client"], labels.get("site") or labels["server"]), count)


def shard_profile(profile: Profile, shard: PrometheusShard) -> Profile:
    """The profile as shard ``shard`` sees it: its own exporter and blackbox_exporter."""
    return dataclasses.replace(profile, exporter=shard.exporter or profile.exporter,
                               blackbox_exporter=shard.blackbox_exporter
                               or profile.blackbox_exporter)


def shard_config(base: dict, index: int, shards: list[PrometheusShard]) -> dict:
    """The single Prometheus' configuration as shard ``index`` runs it."""
    config = copy.deepcopy(base)
    config["global"]["external_labels"] = {SHARD_LABEL: str(index)}
    # external labels are added to alerts: without this, an alert every shard raises (Watchdog,
    # OwlBridgeDown) would be N alerts to Alertmanager, and N incidents
    config["alerting"]["alert_relabel_configs"] = [{"action": "labeldrop", "regex": SHARD_LABEL}]
    for remote in config["remote_write"]:
        remote["write_relabel_configs"].append(
            {"source_labels": ["job"], "regex": "|".join(SHARED_JOBS),
             "target_label": SHARD_LABEL, "replacement": ""})
    jobs = []
    for job in config["scrape_configs"]:
        if job["job_name"] == "prometheus":
            job["static_configs"] = [{"targets": [shard.prometheus for shard in shards]}]
        for discovery in job.get("file_sd_configs", ()):
            discovery["files"] = [_shard_file(path, index) for path in discovery["files"]]
        if _owned_static_groups(job, index, len(shards)):
            jobs.append(job)
    config["scrape_configs"] = jobs
    return config


def _shard_file(path: str, index: int) -> str:
    return f"{path.removesuffix('.json')}-shard-{index}.json"


def _owned_static_groups(job: dict, index: int, count: int) -> bool:
    """Keep only the static target groups of a client's target that shard ``index`` owns (the
    databases whose exporter asks for a password); False when none is left."""
    static = job.get("static_configs")
    if not static or not all("client" in group.get("labels", {}) for group in static):
        return True
    job["static_configs"] = [group for group in static if group_shard(group, count) == index]
    return bool(job["static_configs"])


def flags_text(index: int, stack: Stack, shard: PrometheusShard) -> str:
    flags = [f"--web.listen-address={shard.prometheus}",
             f"--web.external-url=http://{shard.prometheus}/", *prometheus_flags(stack)]
    lines = [f"# Prometheus shard {index}'s flags from the inventory's provider.stack.shards: "
             "prometheus @FILE", *flags]
    return "\n".join(lines) + "\n"


def shard_rules() -> dict:
    """A dead shard's targets are not watched at all: the other shards scrape its Prometheus
    and say so. (The Watchdog still arrives from them, so the dead man's switch cannot.)"""
    return {"groups": [{"name": "shards", "rules": [{
        "alert": "PrometheusShardDown",
        "expr": 'up{job="prometheus"} == 0',
        "for": "2m",
        "labels": {"severity": "critical"},
        "annotations": {
            "summary": "Prometheus shard {{ $labels.instance }} is down",
            "description": (
                "The other shards have not scraped the Prometheus shard at "
                "{{ $labels.instance }} for 2 minutes: the sites and servers of its share of "
                "the inventory are not probed, their alerts cannot fire, and their "
                "availability is not recorded."),
            "runbook_url": "https://github.com/owl-systems/owl-monitoring/blob/main/docs/"
                           "runbooks.md#prometheussharddown",
        },
    }]}]}
