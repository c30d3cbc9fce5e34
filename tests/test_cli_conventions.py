"""The `owl` command's conventions: every subcommand, option and positional says what it is for,
and flags are spelled one way, Prometheus-style (`--web.listen-address`: dots between the parts,
dashes between the words of a part)."""

import argparse
import importlib.metadata
import re
import subprocess
import sys

import pytest

from owl_commands.cli import build_parser, main
from owl_commands.common import _DeprecatedSpelling

# `--word` and `--part.part`, each part words joined by dashes
PROMETHEUS_STYLE = re.compile(r"^--[a-z0-9]+(-[a-z0-9]+)*(\.[a-z0-9]+(-[a-z0-9]+)*)*$")
# long options of several words without a dot, on purpose
ALLOWED_DASHED = {
    "--password-file",  # `owl grafana sync`: the file of the Grafana admin's password
}


def walk(parser, path="owl"):
    """(command path, action) for every action of ``parser`` and its subcommands; a subcommand
    is reported as (its parent's path, the pseudo-action that lists it in the help)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            listed = {choice.dest: choice for choice in action._choices_actions}
            for name, subparser in action.choices.items():
                yield path, listed.get(name) or argparse.Action([], name)  # added without help
                yield from walk(subparser, f"{path} {name}")
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield path, action


def name_of(action) -> str:
    return action.option_strings[0] if action.option_strings else action.dest


def test_every_subcommand_option_and_positional_has_a_help_text():
    missing = [f"{path} {name_of(action)}" for path, action in walk(build_parser())
               if not action.help]
    assert missing == []


def test_only_old_spellings_are_hidden_from_the_help():
    hidden = [f"{path} {name_of(action)}" for path, action in walk(build_parser())
              if action.help == argparse.SUPPRESS and not isinstance(action, _DeprecatedSpelling)]
    assert hidden == []


def current_long_options():
    for path, action in walk(build_parser()):
        if isinstance(action, _DeprecatedSpelling):
            continue
        for option in action.option_strings:
            if option.startswith("--"):
                yield path, option


def test_long_options_are_prometheus_style_and_dotted_when_they_have_several_words():
    wrong = [f"{path} {option}" for path, option in current_long_options()
             if not PROMETHEUS_STYLE.match(option)
             or ("-" in option[2:] and "." not in option and option not in ALLOWED_DASHED)]
    assert wrong == []


def test_no_flag_is_spelled_two_ways_across_the_commands():
    spellings: dict[str, set[str]] = {}
    for _path, option in current_long_options():
        spellings.setdefault(option.replace(".", "-"), set()).add(option)
    assert [sorted(found) for found in spellings.values() if len(found) > 1] == []


def test_an_old_spelling_still_works_warns_once_on_stderr_and_is_not_in_the_help(capsys):
    parser = build_parser()
    args = parser.parse_args(["grafana", "sync", "--url", "http://grafana:3000", "--inventory",
                              "inventory.yml", "--label-proxy-url", "http://proxy:8080"])
    assert args.label_proxy_url == "http://proxy:8080"
    assert capsys.readouterr().err == ("owl: --label-proxy-url is deprecated, "
                                       "use --label-proxy.url\n")
    with pytest.raises(SystemExit):
        main(["grafana", "sync", "--help"])
    help_text = capsys.readouterr().out
    assert "--label-proxy.url" in help_text and "--label-proxy-url" not in help_text


def test_the_current_spelling_keeps_its_default_and_says_nothing():
    args = build_parser().parse_args(["grafana", "sync", "--url", "http://grafana:3000",
                                      "--inventory", "inventory.yml"])
    assert args.label_proxy_url == "http://prom-label-proxy:8080"


def test_owl_version_prints_the_installed_version():
    result = subprocess.run([sys.executable, "-m", "owl_commands.cli", "--version"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0
    assert result.stdout == f"owl-monitoring {importlib.metadata.version('owl-monitoring')}\n"
