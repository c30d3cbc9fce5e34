"""The ``owl`` command. Each area registers its own subcommands; this module only wires them."""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import importlib.metadata
import sys

from owl.inventory import InventoryError, load_inventory

# Modules that add subcommands through ``register(subparsers)``, imported lazily so that
# ``owl check`` does not pay for Flask or SQLAlchemy.
COMMAND_MODULES = (
    "exporters.command",
    "owl.demo",
    "sla_bridge.command",
    "sla_bridge.sla_command",
    "owl.render.command",
    "owl.stack",
    "owl.grafana_sync",
)


def inventory_or_exit(path: str, consequence: str = ""):
    """The inventory at ``path``; or its problems on stderr, one a line, and exit status 1."""
    try:
        return load_inventory(path)
    except InventoryError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        print(f"{len(exc.problems)} problem(s) found{consequence}", file=sys.stderr)
        raise SystemExit(1) from None


def date_argument(text: str) -> dt.date:
    """An argparse type for ``YYYY-MM-DD`` options such as ``--now``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date such as 2025-07-15") from None


class _DeprecatedSpelling(argparse.Action):
    """An old spelling of an option: hidden from the help, it warns on stderr when used."""

    def __init__(self, option_strings, dest, current: str, **kwargs):
        super().__init__(option_strings, dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS,
                         **kwargs)
        self.current = current

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"owl: {option_string} is deprecated, use {self.current}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def deprecated_spelling(parser: argparse.ArgumentParser, old: str, option: argparse.Action):
    """Accept ``old`` for ``option``, an option taking one value (what ``add_argument``
    returned)."""
    parser.add_argument(old, dest=option.dest, type=option.type, metavar=option.metavar,
                        action=_DeprecatedSpelling, current=option.option_strings[0])


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
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args) or 0


if __name__ == "__main__":
    sys.exit(main())
