"""``owl config render``: the stack's configuration, derived from the inventory.

:func:`render` builds every file in memory (relative path -> text), with no side effect;
:func:`write_rendered` then writes them, each one atomically. Layout under the output directory::

    prometheus/prometheus.yml          scrape jobs, rule files, alerting (owl.render.prometheus)
    prometheus/flags                   its command-line flags from the inventory (the retention)
    prometheus/targets/<job>.json      file_sd targets: blackbox_http, blackbox_ssh, node
    prometheus/rules/<area>.yml        copies of the alert_rules package's rule files
    prometheus/rules/generated.yml     months in the provider's timezone, contract ends, probe
                                       schedules, as recording rules (.generated_rules)
    alertmanager/alertmanager.yml      bridge route, then on-call by contract, severity and
                                       business hours with holidays (.alertmanager)
    alertmanager/templates/owl-email.tmpl  the on-call emails, French, linking to the console's
                                       incident page (.email_template)
    blackbox/blackbox.yml              probe modules (.blackbox)
    grafana/provisioning/...           datasource and dashboard provider (.grafana)
    grafana/dashboards/<name>.json     copies of the dashboards package's dashboards
    secrets/bridge-webhook-token       the bridge's webhook token (.webhook_token; not rendered)
    secrets/bridge-scrape-token        the token Prometheus scrapes the bridge with (the same)
    secrets/bridge-web-secret          the key of the bridge's pages' CSRF cookie (the same)

With ``--profile ha``, prometheus.yml and its flags give way to one per Prometheus replica, with
the Alertmanager cluster's flags and the bridges' balancer beside them (owl.render.ha).

With ``--profile external``, only the parts a provider's own Prometheus and Alertmanager merge
(``owl config merge``; .external, docs/external-stack.md).

With ``--shards N`` (N > 1), one Prometheus configuration, flags file and set of target files
per shard replace the single one (.shards, docs/sharding.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from owl.files import write_atomically
from owl.inventory import Inventory
from owl.render.alertmanager import render_alertmanager
from owl.render.blackbox import render_blackbox
from owl.render.generated_rules import render_generated_rules
from owl.render.external import PROFILE as EXTERNAL_PROFILE
from owl.render.external import render_external
from owl.render.grafana import DASHBOARDS_DIR, render_grafana
from owl.render.ha import PROFILE as HA_PROFILE
from owl.render.ha import render_ha
from owl.render.profile import (DEFAULT_SCRAPE_TOKEN_FILE, DEFAULT_TOKEN_FILE,
                                DEFAULT_WEB_SECRET_FILE, build_profile)
from owl.render.prometheus import RULES_DIR, TARGETS_DIR, render_prometheus
from owl.render.shards import render_shards, shards_of

# Directories holding only rendered files: a file there that was not rendered this time is stale.
GENERATED_DIRS = (RULES_DIR, TARGETS_DIR, DASHBOARDS_DIR)
# Prometheus' configurations and flags files, single, per replica or per shard: one of another
# layout (rendered before with other --profile or --shards) is stale too.
GENERATED_PATTERNS = ("prometheus/prometheus*.yml", "prometheus/flags*")


@dataclass(frozen=True)
class RenderOptions:
    """What a render depends on besides the inventory."""

    out_dir: Path
    today: dt.date  # decides which contracts are still monitored, and the years of calendars
    profile: str = "local"  # "local" or "compose", see owl.render.profile
    webhook_token_file: Path | None = None  # default: out_dir/secrets/bridge-webhook-token
    scrape_token_file: Path | None = None  # default: out_dir/secrets/bridge-scrape-token
    shards: int = 1  # Prometheus shards (owl.render.shards); 1: the single Prometheus

    @property
    def token_file(self) -> Path:
        return Path(self.webhook_token_file or Path(self.out_dir) / DEFAULT_TOKEN_FILE)

    @property
    def scrape_token_path(self) -> Path:
        return Path(self.scrape_token_file or Path(self.out_dir) / DEFAULT_SCRAPE_TOKEN_FILE)

    @property
    def web_secret_path(self) -> Path:
        return Path(self.out_dir) / DEFAULT_WEB_SECRET_FILE


def render(inventory: Inventory, options: RenderOptions) -> dict[str, str]:
    """Every rendered file, relative path -> text."""
    profile = build_profile(options.profile, inventory.provider.stack, Path(options.out_dir),
                            options.token_file, options.scrape_token_path)
    if options.shards > 1:  # refused for other profiles and without a store, naming them
        shards_of(inventory.provider.stack, options.shards, options.profile)
    if options.profile == EXTERNAL_PROFILE:  # their Prometheus and Alertmanager merge these
        return render_external(inventory, profile, options.today)
    files = {
        **render_prometheus(inventory, profile, options.today),
        **render_generated_rules(inventory, options.today),
        **render_alertmanager(inventory, profile, options.today),
        **render_blackbox(),
        **render_grafana(inventory, profile),
    }
    if options.profile == HA_PROFILE:  # replicas, cluster and balancer (owl.render.ha)
        files = render_ha(files, inventory, profile, options.today)
    if options.shards > 1:  # Prometheus shards writing to the long-term store
        files = render_shards(files, inventory, profile, options.today, options.shards,
                              options.profile)
    return files


def write_rendered(files: dict[str, str], out_dir: Path) -> None:
    """Write ``files`` under ``out_dir``, each atomically; remove stale generated files."""
    out_dir = Path(out_dir)
    (out_dir / DASHBOARDS_DIR).mkdir(parents=True, exist_ok=True)  # mounted even when empty
    for relative, text in files.items():
        write_atomically(out_dir / relative, text)
    _remove_stale(files, out_dir)


def _remove_stale(files: dict[str, str], out_dir: Path) -> None:
    for pattern in GENERATED_PATTERNS:
        for path in out_dir.glob(pattern):
            if path.is_file() and path.relative_to(out_dir).as_posix() not in files:
                path.unlink()
    for directory in GENERATED_DIRS:
        if not (out_dir / directory).is_dir():
            continue
        for path in (out_dir / directory).iterdir():
            if path.is_file() and f"{directory}/{path.name}" not in files:
                path.unlink()
