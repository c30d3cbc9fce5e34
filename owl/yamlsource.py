"""YAML loading that remembers where every value came from.

PyYAML's composed node tree keeps the line of each node; we keep that tree beside the constructed
data so a validation error on a path such as ``("clients", 0, "contract", "monthly_fee")`` can
be reported with the line it was written on.

A scalar that YAML reads as a date, a number or a boolean but that Python cannot build
(``2025-02-30``, an integer of 5000 digits, ``!!bool maybe``) becomes an :class:`UnbuildableScalar`
instead of an exception, so that validation reports it with its field and line like any other
wrong value.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

import yaml


class YamlSourceError(ValueError):
    """The file is not valid YAML, or repeats a key; the message names file and line."""


@dataclass(frozen=True)
class UnbuildableScalar:
    """A scalar of a YAML type (``kind``: date, integer...) that could not be built, and why
    (``reason``, may be empty)."""

    text: str
    kind: str
    reason: str

    def __str__(self) -> str:
        return self.text

    @property
    def problem(self) -> str:
        shown = self.text if len(self.text) <= 40 else self.text[:37] + "..."
        why = f" ({self.reason})" if self.reason else ""
        return f"{shown} is not a valid {self.kind}{why}; quote it if it is meant as text"


def _date_reason(node, exc) -> str:
    return str(exc) if isinstance(exc, ValueError) else "expected YYYY-MM-DD"


def _integer_reason(node, exc) -> str:
    limit = sys.get_int_max_str_digits()
    return f"more than {limit} digits" if len(node.value) > limit else ""


# libyaml's parser (PyYAML's wheels include it) composes the same nodes, marks and all, about 20
# times faster than the pure-Python one: a 5,000-client inventory in 1 s instead of 20.
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):
    """PyYAML's safe loader, except that scalars it cannot build are kept as values."""


def _tolerate(tag: str, kind: str, reason=lambda node, exc: "") -> None:
    """Make the loader's constructor of ``tag`` return an :class:`UnbuildableScalar` where it
    fails; ``reason(node, exc)`` says why. Besides impossible values (ValueError), explicit tags
    fail their own way: ``!!bool x`` (KeyError), ``!!timestamp x`` (AttributeError)."""
    name = f"tag:yaml.org,2002:{tag}"
    constructor = yaml.SafeLoader.yaml_constructors[name]

    def construct(loader, node):
        try:
            return constructor(loader, node)
        except (ValueError, KeyError, AttributeError) as exc:
            return UnbuildableScalar(node.value, kind, reason(node, exc))

    _Loader.add_constructor(name, construct)


_tolerate("timestamp", "date", _date_reason)
_tolerate("int", "integer", _integer_reason)
_tolerate("float", "number")
_tolerate("bool", "boolean")


@dataclass
class YamlDocument:
    """Constructed data plus the node tree it came from."""

    filename: str
    data: object
    root: yaml.Node | None

    def line_of(self, path: tuple) -> int | None:
        """The 1-based line of the deepest node on ``path`` that exists in the document."""
        node = self.root
        line = node.start_mark.line + 1 if node is not None else None
        for step in path:
            child = _child(node, step)
            if child is None:
                break
            node = child
            line = node.start_mark.line + 1
        return line


def _child(node: yaml.Node | None, step) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if key_node.value == str(step):
                return value_node
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(step, int):
        return node.value[step] if 0 <= step < len(node.value) else None
    return None


def _check_duplicate_keys(node: yaml.Node, filename: str, visited: set[int]) -> None:
    """Visits each node once: an alias shares its anchor's node, and may even contain it."""
    if id(node) in visited:
        return
    visited.add(id(node))
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if isinstance(key_node, yaml.ScalarNode):
                if key_node.value in seen:
                    raise YamlSourceError(
                        f"{filename}:{line}: key {key_node.value!r} is repeated "
                        f"(first on line {seen[key_node.value]})")
                seen[key_node.value] = line
            _check_duplicate_keys(value_node, filename, visited)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, filename, visited)


_MAP, _SEQ, _STR = (f"tag:yaml.org,2002:{kind}" for kind in ("map", "seq", "str"))
_MERGE = "tag:yaml.org,2002:merge"


class _Builder:
    """Builds the data of a composed tree and refuses repeated keys in the same walk.

    PyYAML's constructor is generic Python (a 10,000-client inventory: 2.3 s, and 0.7 s more to
    look for repeated keys in a walk of its own); plain maps, lists and strings, nearly all of
    an inventory, are built here directly, each node once (an alias gives its anchor's object,
    as PyYAML does). Other scalars go to the loader's constructor of their tag; a map with a
    merge key (``<<``) or a key that is not a scalar, and any other tag, to PyYAML whole.
    """

    def __init__(self, loader: yaml.Loader, filename: str):
        self.loader = loader
        self.filename = filename
        self.built: dict[int, object] = {}

    def build(self, node: yaml.Node):
        if id(node) in self.built:
            return self.built[id(node)]
        if node.tag == _STR and isinstance(node, yaml.ScalarNode):
            return node.value
        if isinstance(node, yaml.ScalarNode):
            return self.loader.yaml_constructors[node.tag](self.loader, node) \
                if node.tag in self.loader.yaml_constructors else self._by_pyyaml(node)
        if node.tag == _SEQ and isinstance(node, yaml.SequenceNode):
            items = self.built[id(node)] = []
            items.extend(self.build(item) for item in node.value)
            return items
        if node.tag == _MAP and isinstance(node, yaml.MappingNode) and all(
                isinstance(key, yaml.ScalarNode) and key.tag != _MERGE for key, _ in node.value):
            return self._mapping(node)
        return self._by_pyyaml(node)

    def _mapping(self, node: yaml.MappingNode) -> dict:
        mapping = self.built[id(node)] = {}
        lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if key_node.value in lines:
                raise YamlSourceError(
                    f"{self.filename}:{line}: key {key_node.value!r} is repeated "
                    f"(first on line {lines[key_node.value]})")
            lines[key_node.value] = line
            mapping[self.build(key_node)] = self.build(value_node)
        return mapping

    def _by_pyyaml(self, node: yaml.Node):
        _check_duplicate_keys(node, self.filename, set())
        value = self.built[id(node)] = self.loader.construct_object(node, deep=True)
        return value


def load_yaml(text: str, filename: str) -> YamlDocument:
    """Parse one YAML document, refusing repeated keys (PyYAML would keep the last silently)."""
    try:
        root, data = _compose_and_construct(text, filename)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}" if mark else filename
        raise YamlSourceError(f"{where}: invalid YAML: {exc.problem or exc}") from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow
        line = text.count("\n", 0, exc.position) + 1
        raise YamlSourceError(f"{filename}:{line}: invalid YAML: character "
                              f"#x{exc.character:04x}: {exc.reason}") from None
    return YamlDocument(filename, data, root)


def _compose_and_construct(text: str, filename: str) -> tuple[yaml.Node | None, object]:
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, None
        return root, _Builder(loader, filename).build(root)
    except RecursionError:
        line = loader.get_mark().line + 1
        raise YamlSourceError(f"{filename}:{line}: invalid YAML: nested too deeply") from None
    finally:
        loader.dispose()
