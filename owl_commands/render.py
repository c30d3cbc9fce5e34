"""The ``owl config render`` subcommand: load the inventory, render, then write."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from owl.render import RenderOptions, render, write_rendered
from owl.render.ha import HaRenderError
from owl.render.shards import ShardRenderError
from owl.render.profile import DEFAULT_SCRAPE_TOKEN_FILE, DEFAULT_TOKEN_FILE, PROFILES
from owl.render.webhook_token import TokenFileError, check_token_file, ensure_token_file
from owl_commands import config_merge
from owl_commands.common import date_argument, deprecated_spelling, inventory_or_exit


def register(subparsers) -> None:
    config = subparsers.add_parser("config", help="the stack's configuration")
    actions = config.add_subparsers(dest="config_command", required=True, metavar="ACTION")
    parser = actions.add_parser(
        "render", help="render Prometheus, Alertmanager, blackbox_exporter and Grafana "
        "configuration from the inventory")
    parser.add_argument("--inventory", required=True, metavar="FILE",
                        help="the inventory to render")
    parser.add_argument("--out", required=True, metavar="DIR", type=Path,
                        help="the folder the configuration is written to")
    token_file = parser.add_argument(
        "--webhook.token-file", dest="webhook_token_file", metavar="PATH", type=Path,
        help=f"the bridge's webhook bearer token (default: DIR/{DEFAULT_TOKEN_FILE}); created "
        "with a random token if missing")
    deprecated_spelling(parser, "--webhook-token-file", token_file)
    parser.add_argument(
        "--scrape.token-file", dest="scrape_token_file", metavar="PATH", type=Path,
        help="the token Prometheus scrapes the bridge's /metrics with (default: "
        f"DIR/{DEFAULT_SCRAPE_TOKEN_FILE}); created with a random token if missing")
    parser.add_argument("--profile", choices=PROFILES, default="local",
                        help="local processes (default), docker-compose services, or ha: "
                        "replicas of each part from provider.stack.ha (docs/ha.md); external: "
                        "the parts `owl config merge` adds to your own Prometheus and "
                        "Alertmanager (docs/external-stack.md)")
    parser.add_argument("--secrets.container-readable", dest="secrets_container_readable",
                        action="store_true",
                        help="create missing token files 0644, as --profile compose does, for "
                        "containers' users reading them through file mounts "
                        "(docker-compose.ha.yml, docs/ha.md); default 0600 but with compose")
    parser.add_argument("--now", metavar="YYYY-MM-DD", type=date_argument,
                        help="the day contracts are judged on (terminations, trials); "
                        "default: today in the provider's timezone")
    parser.add_argument("--shards", type=_shard_count, default=1, metavar="N",
                        help="split the targets between N Prometheus shards writing to "
                        "provider.stack.long_term_store, one per provider.stack.shards entry "
                        "(default 1: one Prometheus; docs/sharding.md)")
    parser.set_defaults(handler=run_render)
    config_merge.register(actions)  # owl config merge (owl_commands.config_merge)


def _shard_count(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of shards, 1 or more, not "
                                         f"{text!r}")
    return int(text)


def run_render(args) -> int:
    inventory = inventory_or_exit(args.inventory, ": nothing rendered")
    today = args.now or dt.datetime.now(ZoneInfo(inventory.provider.timezone)).date()
    options = RenderOptions(out_dir=args.out, today=today, profile=args.profile,
                            webhook_token_file=args.webhook_token_file,
                            scrape_token_file=args.scrape_token_file, shards=args.shards)
    try:
        files = render(inventory, options)
    except (HaRenderError, ShardRenderError) as exc:
        print(f"owl config render: {exc}; nothing rendered", file=sys.stderr)
        return 1
    readable = options.profile == "compose" or args.secrets_container_readable
    mode = 0o644 if readable else 0o600
    tokens = (("webhook", options.token_file), ("scrape", options.scrape_token_path),
              ("web", options.web_secret_path))
    try:
        for what, path in tokens:  # all checked before any is created
            check_token_file(path, what)
        created = [(what, path) for what, path in tokens if ensure_token_file(path, mode, what)]
        write_rendered(files, args.out)
    except (TokenFileError, OSError) as exc:
        print(f"owl config render: {exc}", file=sys.stderr)
        return 1
    _report(inventory, options, len(files), created)
    return 0


def _report(inventory, options: RenderOptions, file_count: int,
            tokens_created: list[tuple[str, Path]]) -> None:
    monitored = inventory.monitored_clients(options.today)
    print(f"rendered {file_count} files into {options.out_dir} (profile {options.profile}, "
          f"{options.today.isoformat()}): {len(monitored)} of {len(inventory.clients)} "
          "clients monitored")
    for client in inventory.clients:
        reason = client.contract.unmonitored_reason(options.today)
        if reason:
            print(f"  not monitored: {client.id} ({reason})")
    for what, path in tokens_created:
        print(f"created the {what} token file {path}")
