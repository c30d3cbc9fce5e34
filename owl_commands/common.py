"""What the subcommands share: the inventory or an exit, option types, deprecated spellings."""

from __future__ import annotations

import argparse
import datetime as dt
import sys

from owl.inventory import InventoryError, load_inventory


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
