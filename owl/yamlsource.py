"""YAML loading that remembers where every value came from.

PyYAML's composed node tree keeps the line of each node; we keep that tree beside the constructed
data so a validation error on a path such as ``("clients", 0, "contract", "monthly_fee")`` can
be reported with the line it was written on.
"""

from __future__ import annotations

from dataclasses import dataclass

import yaml


class YamlSourceError(ValueError):
    """The file is not valid YAML, or repeats a key; the message names file and line."""


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



def _check_duplicate_keys(node: yaml.Node, filename: str) -> None:
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
            _check_duplicate_keys(value_node, filename)
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            _check_duplicate_keys(item, filename)


def load_yaml(text: str, filename: str) -> YamlDocument:
    """Parse one YAML document, refusing repeated keys (PyYAML would keep the last silently)."""
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_duplicate_keys(root, filename)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{filename}:{mark.line + 1}" if mark else filename
        raise YamlSourceError(f"{where}: invalid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlSourceError(f"{filename}: invalid YAML: {exc}") from None
    finally:
        loader.dispose()
    return YamlDocument(filename, data, root)

