"""The ``owl`` command. Each area registers its own subcommands; this module only wires them."""

from __future__ import annotations

import argparse
import importlib.metadata
import sys

from owl_commands import (bridge, demo, exporter, grafana_sync, render, report, sla, stack,
                          token)
from owl_commands.common import inventory_or_exit

# Each adds its subcommands through ``register(subparsers)``. They import their heavy parts
# (Flask, SQLAlchemy, the probes) inside the handlers, so ``owl check`` does not pay for them.
COMMAND_MODULES = (exporter, demo, bridge, token, sla, report, render, stack, grafana_sync)


def version() -> str:
    """``owl-monitoring X.Y.Z`` as installed."""
    try:
        return f"owl-monitoring {importlib.metadata.version('owl-monitoring')}"
    except importlib.metadata.PackageNotFoundError:
        return "owl-monitoring (version unknown: the package is not installed)"


def _check(args) -> int:
    inventory = inventory_or_exit(args.inventory)
    print(f"{args.inventory}: OK: {inventory.summary()}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="owl", description="owl-monitoring: monitoring and SLA "
                                     "stack of OWL SYSTEMS")
    parser.add_argument("--version", action="version", version=version(),
                        help="print the version and exit")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check = subparsers.add_parser("check", help="validate an inventory file")
    check.add_argument("inventory", metavar="INVENTORY", help="the inventory file")
    check.set_defaults(handler=_check)
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
