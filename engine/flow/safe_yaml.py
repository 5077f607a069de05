"""Safe YAML for authored files: line numbers kept, duplicate keys refused, strict booleans.

YAML 1.1 (PyYAML's default) reads ``yes``, ``no``, ``on`` and ``off`` as booleans, which
silently turns a voice flow's yes/no examples into ``True``/``False``. Here only ``true`` and
``false`` are booleans; everything else stays a string. Mappings and lists remember the line of
each entry so that every later error can point at ``file:line``.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import Any

import yaml


@dataclass(frozen=True)
class Scalar:
    """Where a text value sits in the file: its lines (1-based) and its YAML style.

    ``style`` is ``None`` for plain text, ``'"'`` or ``"'"`` for quoted text, ``"|"`` for a
    literal block (lines kept) and ``">"`` for a folded block (lines joined with spaces).
    """

    key_line: int
    start: int
    end: int
    style: str | None


class LocatedDict(dict[Any, Any]):
    """A mapping that knows the line of each key (1-based), and where its text values sit."""

    line: int = 0
    lines: dict[Any, int]
    scalars: dict[Any, Scalar]


class LocatedList(list[Any]):
    """A list that knows the line of each item (1-based), and where its text items sit."""

    line: int = 0
    lines: list[int]
    scalars: dict[int, Scalar]


class DuplicateKeyError(yaml.MarkedYAMLError):
    """The same key twice in one mapping (YAML allows it; the second would silently win)."""


class _Loader(yaml.SafeLoader):
    pass


# Drop YAML 1.1's yes/no/on/off booleans; keep only true/false (any case).
_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.copy().items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _mapping(loader: _Loader, node: yaml.MappingNode) -> LocatedDict:
    loader.flatten_mapping(node)
    result = LocatedDict()
    result.line = node.start_mark.line + 1
    result.lines = {}
    result.scalars = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, Hashable):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value", key_node.start_mark
            )
        if key in result:
            raise DuplicateKeyError(
                None,
                None,
                f"duplicate key {key!r} (first on line {result.lines[key]})",
                key_node.start_mark,
            )
        result[key] = loader.construct_object(value_node, deep=True)
        result.lines[key] = key_node.start_mark.line + 1
        if isinstance(value_node, yaml.ScalarNode):
            result.scalars[key] = _scalar(key_node.start_mark.line + 1, value_node)
    return result


def _scalar(key_line: int, node: yaml.ScalarNode) -> Scalar:
    end = node.end_mark.line + 1
    if node.style in ("|", ">") and node.end_mark.column == 0:
        end -= 1  # a block scalar ends at the start of the line after its text
    return Scalar(key_line, node.start_mark.line + 1, max(end, key_line), node.style)


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    result = LocatedList(loader.construct_object(child, deep=True) for child in node.value)
    result.line = node.start_mark.line + 1
    result.lines = [child.start_mark.line + 1 for child in node.value]
    result.scalars = {
        index: _scalar(child.start_mark.line + 1, child)
        for index, child in enumerate(node.value)
        if isinstance(child, yaml.ScalarNode)
    }
    return result


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)


def load(text: str) -> Any:
    """Parse one YAML document safely (raises :class:`yaml.YAMLError` with a mark)."""
    return yaml.load(text, Loader=_Loader)  # _Loader is a SafeLoader subclass


def line_of(data: Any, path: Sequence[Any]) -> int | None:
    """The line of the deepest entry along ``path`` (keys and list indexes) that exists."""
    line = getattr(data, "line", None) or None
    node = data
    for key in path:
        if (isinstance(node, LocatedDict) and key in node) or (
            isinstance(node, LocatedList) and isinstance(key, int) and 0 <= key < len(node)
        ):
            line = node.lines[key]
            node = node[key]
        else:
            break
    return line


def scalar_at(data: Any, path: Sequence[Any]) -> Scalar | None:
    """Where the text value at ``path`` sits, if ``path`` leads to one."""
    node = data
    for key in path[:-1]:
        if (isinstance(node, LocatedDict) and key in node) or (
            isinstance(node, LocatedList) and isinstance(key, int) and 0 <= key < len(node)
        ):
            node = node[key]
        else:
            return None
    if not path or not isinstance(node, (LocatedDict, LocatedList)):
        return None
    return node.scalars.get(path[-1])
