"""``owl config merge``: owl-monitoring's parts (``owl config render --profile external``,
owl.render.external) merged into a provider's own ``prometheus.yml`` and ``alertmanager.yml``.

Pure: texts in, text out, or the problems found (naming the file and the job, receiver or time
interval) and no text. What the merge touches, and nothing else (docs/external-stack.md):

- prometheus.yml: our jobs appended to ``scrape_configs``, our glob to ``rule_files``, and our
  ``alerting`` only where theirs sends to no Alertmanager;
- alertmanager.yml: our route subtree first among their root route's children, our receivers,
  time intervals, inhibition rules (which mute only our alerts) and template appended.

What a previous merge added is known by its marks (owl.render.external), replaced, and put back
where it was: merging twice gives the same bytes. A job, receiver or time interval of theirs
named as one of ours is refused. Their YAML comments are not kept (PyYAML): the command keeps
the file it replaces as ``FILE.orig``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from owl.render.external import (ALERTMANAGER_PARTS, MARKER_MATCHER, PROMETHEUS_PARTS,
                                  SCRAPE_MARKER)

MERGED_HEADER = (
    "# Merged by `owl config merge`: owl-monitoring's parts (scrape jobs owl_*, its rule files;\n"
    "# the route matching owl_stack=\"owl-monitoring\", receivers and time intervals owl-*) are\n"
    "# replaced at each merge; the rest is yours as it was, but for YAML comments, not kept.\n")


@dataclass(frozen=True)
class Merged:
    """The merged file's text, or the problems that stopped the merge (then ``text`` is None)."""

    text: str | None
    problems: tuple[str, ...] = ()


class _Refused(Exception):
    def __init__(self, *problems: str):
        super().__init__(*problems)
        self.problems = problems


def merge_prometheus(theirs: str, name: str, parts: dict[str, str]) -> Merged:
    """``theirs`` (the text of their prometheus.yml, called ``name`` in problems) with our
    parts; ``parts``: rendered relative path -> text (at least :data:`PROMETHEUS_PARTS`)."""
    try:
        ours = {key: _part(parts, path, key) for key, path in PROMETHEUS_PARTS.items()}
        config = _mapping(_load(theirs, name), name, "the file")
        jobs = _list(config.get("scrape_configs"), name, "scrape_configs")
        kept = [job for job in jobs if not _is_our_job(job)]
        taken = {job.get("job_name") for job in kept if isinstance(job, dict)}
        _refuse([f"{name}: scrape job {job['job_name']!r} is yours, and owl-monitoring has a "
                 "job of that name: rename yours (owl-monitoring's are the owl_* jobs)"
                 for job in ours["scrape_configs"] if job["job_name"] in taken])
        merged = dict(config)
        merged["scrape_configs"] = [*kept, *ours["scrape_configs"]]
        rule_files = _list(config.get("rule_files"), name, "rule_files")
        merged["rule_files"] = [*(glob for glob in rule_files
                                  if glob not in ours["rule_files"]), *ours["rule_files"]]
        alerting = _mapping(config.get("alerting") or {}, name, "alerting")
        if not alerting.get("alertmanagers"):  # theirs sends nowhere: to theirs as we know it
            merged["alerting"] = {**alerting, **ours["alerting"]}
    except _Refused as refused:
        return Merged(None, refused.problems)
    return Merged(_dump(merged))


def merge_alertmanager(theirs: str, name: str, parts: dict[str, str]) -> Merged:
    """``theirs`` (their alertmanager.yml) with our parts (:data:`ALERTMANAGER_PARTS`)."""
    try:
        ours = {key: _part(parts, path, key) for key, path in ALERTMANAGER_PARTS.items()}
        config = _mapping(_load(theirs, name), name, "the file")
        if "route" not in config:
            raise _Refused(f"{name}: no route: an Alertmanager configuration needs its root "
                           "route, under which owl-monitoring's subtree goes")
        route = _mapping(config["route"], name, "route")
        children = _list(route.get("routes"), name, "route.routes")
        previous = [child for child in children if _is_our_route(child)]
        their_routes = [child for child in children if not _is_our_route(child)]
        their_tree = {**route, "routes": their_routes}
        # what only a previous merge's subtree names is ours
        receivers_before = _referenced(previous, "receiver") - _referenced([their_tree],
                                                                           "receiver")
        intervals_before = _referenced(previous, "intervals") - _referenced([their_tree],
                                                                            "intervals")
        receivers = [receiver for receiver in _list(config.get("receivers"), name, "receivers")
                     if _name(receiver) not in receivers_before]
        intervals = [interval for interval in _list(config.get("time_intervals"), name,
                                                    "time_intervals")
                     if _name(interval) not in intervals_before]
        old_intervals = _list(config.get("mute_time_intervals"), name, "mute_time_intervals")
        _refuse([
            *_conflicts(name, "receiver", ours["receivers"], receivers),
            *_conflicts(name, "time interval", ours["time_intervals"],
                        [*intervals, *old_intervals]),
        ])
        merged = dict(config)
        merged["route"] = {**route, "routes": [ours["route"], *their_routes]}
        merged["receivers"] = [*receivers, *ours["receivers"]]
        merged["time_intervals"] = [*intervals, *ours["time_intervals"]]
        inhibit_rules = _list(config.get("inhibit_rules"), name, "inhibit_rules")
        merged["inhibit_rules"] = [*(rule for rule in inhibit_rules if not _is_our_inhibition(
            rule)), *ours["inhibit_rules"]]
        templates = _list(config.get("templates"), name, "templates")
        merged["templates"] = [*(path for path in templates if path not in ours["templates"]),
                               *ours["templates"]]
    except _Refused as refused:
        return Merged(None, refused.problems)
    return Merged(_dump(merged))


# --- what is ours ---------------------------------------------------------------------------

def _is_our_job(job) -> bool:
    return isinstance(job, dict) and SCRAPE_MARKER in (job.get("relabel_configs") or [])


def _is_our_route(route) -> bool:
    return isinstance(route, dict) and MARKER_MATCHER in (route.get("matchers") or [])


def _is_our_inhibition(rule) -> bool:
    return isinstance(rule, dict) and all(
        MARKER_MATCHER in (rule.get(side) or []) for side in ("source_matchers",
                                                             "target_matchers"))


def _routes(routes: list) -> Iterator[dict]:
    for route in routes:
        if isinstance(route, dict):
            yield route
            yield from _routes(route.get("routes") or [])


def _referenced(routes: list, what: str) -> set[str]:
    """The receivers (``what="receiver"``) or time intervals the routes and their children
    name."""
    names = set()
    for route in _routes(routes):
        if what == "receiver":
            names.add(route.get("receiver"))
        else:
            names.update((route.get("active_time_intervals") or [])
                         + (route.get("mute_time_intervals") or []))
    return names


def _name(item):
    return item.get("name") if isinstance(item, dict) else None


def _conflicts(name: str, kind: str, ours: list[dict], theirs: list) -> list[str]:
    taken = {_name(item) for item in theirs}
    return [f"{name}: {kind} {item['name']!r} is yours, and owl-monitoring has a {kind} of that "
            f"name: rename yours (owl-monitoring's are named owl-*)"
            for item in ours if item["name"] in taken]


# --- reading and writing --------------------------------------------------------------------

def _load(text: str, name: str):
    try:
        return yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" line {mark.line + 1}, column {mark.column + 1}:" if mark else ""
        raise _Refused(f"{name}:{where} not valid YAML ({exc.problem or exc.context})") from None
    except yaml.YAMLError as exc:
        raise _Refused(f"{name}: not valid YAML ({exc})") from None


def _mapping(value, name: str, what: str) -> dict:
    if not isinstance(value, dict):
        found = "nothing" if value is None else f"a {type(value).__name__}"
        raise _Refused(f"{name}: {what} should be a mapping, not {found}")
    return value


def _list(value, name: str, what: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _Refused(f"{name}: {what} should be a list, not a {type(value).__name__}")
    return value


def _part(parts: dict[str, str], path: str, key: str):
    """The value of ``key`` in the rendered part ``path``."""
    if path not in parts:
        raise _Refused(f"{path}: missing from the rendered folder: render it with `owl config "
                       "render --profile external`")
    document = _mapping(_load(parts[path], path), path, "the file")
    if key not in document:
        raise _Refused(f"{path}: has no {key}: render it again with `owl config render "
                       "--profile external`")
    return document[key]


def _refuse(problems: list[str]) -> None:
    if problems:
        raise _Refused(*problems)


def _dump(config: dict) -> str:
    return MERGED_HEADER + yaml.safe_dump(config, sort_keys=False, allow_unicode=True,
                                          default_flow_style=False, width=1 << 16)
