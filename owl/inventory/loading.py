"""Loading an inventory: YAML to the model, with every problem reported by file, line and field."""

from __future__ import annotations

import contextlib
import gc
import typing
from pathlib import Path

import pydantic
from pydantic import BaseModel

from owl.inventory import cache
from owl.inventory.model import Inventory
from owl.yamlsource import UnbuildableScalar, YamlSourceError, load_yaml


class InventoryError(ValueError):
    """Every problem found in an inventory, one per line, each naming file, line and field."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


def _duplicate_ids(inventory_data) -> list[tuple[tuple, str]]:
    """Ids must be unique: clients globally, sites and servers within their client."""
    problems = []
    if not isinstance(inventory_data, dict) or not isinstance(inventory_data.get("clients"), list):
        return problems
    seen_clients: dict[str, int] = {}
    for index, client in enumerate(inventory_data["clients"]):
        if not isinstance(client, dict):
            continue
        client_id = client.get("id")
        if isinstance(client_id, str):
            if client_id in seen_clients:
                problems.append(((("clients", index, "id")),
                                 f"duplicate client id {client_id!r} "
                                 f"(also clients[{seen_clients[client_id]}])"))
            seen_clients.setdefault(client_id, index)
        targets: dict[str, str] = {}
        for kind in ("sites", "servers"):
            listed = client.get(kind)
            for position, target in enumerate(listed if isinstance(listed, list) else []):
                target_id = target.get("id") if isinstance(target, dict) else None
                if not isinstance(target_id, str):
                    continue
                where = f"{kind}[{position}]"
                if target_id in targets:
                    problems.append(((("clients", index, kind, position, "id")),
                                     f"duplicate target id {target_id!r} in client "
                                     f"{client_id!r} (also {targets[target_id]})"))
                targets.setdefault(target_id, where)
        problems.extend(_duplicate_database_ids(client, index))
    return problems


def _duplicate_database_ids(client: dict, index: int) -> list[tuple[tuple, str]]:
    """A database's id names it in its client's alerts and dashboards, whichever server or site
    it belongs to: unique within the client."""
    problems, seen = [], {}
    for path, database in _databases(client):
        database_id = database.get("id")
        if not isinstance(database_id, str):
            continue
        where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)
        if database_id in seen:
            problems.append((("clients", index, *path, "id"),
                             f"duplicate database id {database_id!r} in client "
                             f"{client.get('id')!r} (also {seen[database_id].lstrip('.')})"))
        seen.setdefault(database_id, where)
    return problems


def _databases(client: dict):
    """``(path within the client, database)`` of every database the client lists."""
    servers, sites = client.get("servers"), client.get("sites")
    for position, server in enumerate(servers if isinstance(servers, list) else []):
        listed = server.get("databases") if isinstance(server, dict) else None
        for number, database in enumerate(listed if isinstance(listed, list) else []):
            if isinstance(database, dict):
                yield ("servers", position, "databases", number), database
    for position, site in enumerate(sites if isinstance(sites, list) else []):
        database = site.get("database") if isinstance(site, dict) else None
        if isinstance(database, dict):
            yield ("sites", position, "database"), database


def _describe(error: dict) -> str:
    kind, msg = error["type"], error["msg"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    if isinstance(error.get("input"), UnbuildableScalar):
        return error["input"].problem
    if kind in ("value_error", "assertion_error"):
        return msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind == "literal_error":
        return msg.replace("Input should be", "expected")
    if kind == "string_pattern_mismatch":
        return f"{error['input']!r} does not have the expected form ({msg.split(' ', 1)[1]})"
    return f"{msg.replace('Input should be', 'expected')}, got {error['input']!r}"


def _format_path(path: tuple) -> str:
    text = ""
    for step in path:
        text += f"[{step}]" if isinstance(step, int) else (f".{step}" if text else str(step))
    return text or "(top level)"


def _known_keys(path: tuple) -> str:
    """For an unknown key, the keys that were expected at that place."""
    model = Inventory
    for step in path[:-1]:
        if isinstance(step, int) or model is None:
            continue
        field = model.model_fields.get(step)
        model = _model_in(field.annotation) if field else None
    if model is None:
        return ""
    return " (expected one of: " + ", ".join(model.model_fields) + ")"


def _model_in(annotation):
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def parse_inventory(text: str, filename: str = "<inventory>") -> Inventory:
    """Validate inventory YAML text; raise :class:`InventoryError` listing every problem."""
    with _collector_paused():
        return _parse_inventory(text, filename)


@contextlib.contextmanager
def _collector_paused():
    """The cyclic garbage collector off while the inventory's objects are built: they are
    hundreds of thousands, none garbage, and the collections they triggered took 3 of the 4.6 s
    that parsing 10,000 clients took."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _parse_inventory(text: str, filename: str) -> Inventory:
    try:
        document = load_yaml(text, filename)
    except YamlSourceError as exc:
        raise InventoryError([str(exc)]) from None
    if not isinstance(document.data, dict):
        raise InventoryError([f"{filename}:1: expected a mapping with 'provider' and 'clients'"])

    problems: list[tuple[tuple, str]] = []
    inventory = None
    try:
        inventory = Inventory.model_validate(document.data)
    except pydantic.ValidationError as exc:
        for error in exc.errors():
            path = tuple(error["loc"])
            message = _describe(error)
            if error["type"] == "extra_forbidden":
                message += _known_keys(path)
            problems.append((path, message))
    problems.extend(_duplicate_ids(document.data))
    if problems:
        located = sorted(((document.line_of(path) or 1, _format_path(path), message)
                          for path, message in problems), key=lambda item: item[0])
        raise InventoryError([f"{filename}:{line}: {where}: {message}"
                              for line, where, message in located])
    return inventory


def load_inventory(path: str | Path) -> Inventory:
    path = Path(path)
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise InventoryError([f"{path}: cannot read the inventory: {exc.strerror}"]) from None
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = content.count(b"\n", 0, exc.start) + 1
        raise InventoryError([f"{path}:{line}: the inventory is not UTF-8 text "
                              f"({exc.reason})"]) from None
    with _collector_paused():  # unpickling builds as many objects as parsing does
        inventory = cache.lookup(content)
    if inventory is None:
        inventory = parse_inventory(text, str(path))
        cache.store(content, inventory)
    return inventory
