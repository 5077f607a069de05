"""A key indented one space too far or too little: said as such, at the line that is off.

PyYAML reports these as something else, often on another line. A key one space too far after
``say: Some text`` reads as more of that text, and the colon after it then "starts a new key"
(so the hint would be to quote the text); one space too little ends the block it belongs to,
and PyYAML says "expected <block end>, but found '<block mapping start>'" at the next key, or
at the key that was right all along. Here the lines around the error are read as the author
laid them out: the keys of one block share one indentation, and the odd one out is the mistake.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import yaml

from engine.errors import AuthoringError, Location

# A line as a flow file lays it out: indentation, list dashes, then a `key:` (or plain text).
_LINE = re.compile(r"^(?P<indent> *)(?P<dashes>(?:- +)*)(?P<rest>.*)$")
_KEY = re.compile(r"^(?P<key>[^\s#:'\"{\[|>!&*-][^:#]*?|\"[^\"]*\"|'[^']*'):(?:\s+(?P<value>.*))?$")
_BLOCK = re.compile(r"^[|>][-+0-9]*\s*(#.*)?$")
_NOT_PLAIN = tuple("|>\"'[{&*!#")


@dataclass(frozen=True)
class _Line:
    """One line that holds content (not blank, not a comment, not inside a block of text)."""

    number: int  # 1-based
    indent: int  # leading spaces
    column: int  # where its key or item starts: after any list dashes
    key: str | None  # the key it starts with, if it is a `key:` line
    value: str  # what follows the key's colon ("" for a key that opens a block)
    item: bool  # a list item (`- ...`)


def indentation_error(path: Path, text: str, exc: yaml.MarkedYAMLError) -> AuthoringError | None:
    """The indentation mistake behind ``exc``, at the line that is off; ``None`` if none is."""
    mark = exc.problem_mark
    problem = exc.problem or ""
    if mark is None:
        return None
    lines = _content(text)
    at = next((line for line in lines if line.number == mark.line + 1), None)
    if at is None or at.key is None:
        return None
    above = [line for line in lines if line.number < at.number and _structural(line)]
    if not above:
        return None
    if "mapping values are not allowed" in problem:
        # `key: some text` then ` other: ...` deeper: YAML reads the second as more text.
        owner = next((line for line in reversed(above) if line.indent < at.indent), None)
        if owner is None or owner.key is None or not _plain(owner.value):
            return None
        if at.column <= owner.column:
            return None
        return _settle(path, lines, owner, at, text_above=True)
    if "expected <block end>" not in problem:
        return None
    previous = above[-1]
    if at.column > previous.column:
        if previous.key is not None and not previous.value:
            return None  # the first key of the block `previous` opens: not what is wrong
        return _settle(path, lines, previous, at)
    levels = _levels(above)
    if at.column in levels:
        return None
    higher = min(level for level in levels if level > at.column)
    upper = next(line for line in reversed(above) if line.column == higher)
    return _settle(path, lines, upper, at)


def _settle(
    path: Path, lines: list[_Line], upper: _Line, at: _Line, text_above: bool = False
) -> AuthoringError:
    """Which of two blocks that should line up is off: ``upper``'s keys, or those from ``at``.

    A list item's key is where its dash puts it. Otherwise the one the file's usual indentation
    step from the parent agrees with is right; failing that, the one more keys agree with; and
    failing that, ``at``, the line YAML stumbled on.
    """
    structural = [line for line in lines if _structural(line)]
    start = structural.index(upper)
    group = []
    for line in reversed(structural[: start + 1]):
        if line.column < upper.column:
            break
        if line.column == upper.column:
            group.append(line)
    top = group[-1]
    after = []
    for line in structural[structural.index(at) :]:
        if line.column < at.column:
            break
        if line.column == at.column:
            after.append(line)
    parent = next(
        (
            line
            for line in reversed(structural[: structural.index(top)])
            if line.column < min(upper.column, at.column)
        ),
        None,
    )
    expected = parent.column + _step(structural) if parent is not None else None
    if upper.item:
        odd_is_at = True
    elif expected is not None and (upper.column == expected) != (at.column == expected):
        odd_is_at = upper.column == expected
    elif len(group) != len(after):
        odd_is_at = len(after) < len(group)
    else:
        odd_is_at = True
    if odd_is_at:
        return _off(path, at, upper.column, text_above and at.column > upper.column)
    return _off(path, top, at.column)


def _off(path: Path, line: _Line, siblings: int, text_above: bool = False) -> AuthoringError:
    way = "more" if line.column > siblings else "less"
    hint = (
        f"`{line.key}:` has {_spaces(line.column)}, the keys around it {_spaces(siblings)}: "
        "line it up with them"
    )
    if text_above:
        hint += " (or, if it goes on with the text of the line above, put that text in quotes)"
    return AuthoringError(
        f"this line is indented {way} than the keys around it",
        Location(str(path), line.number),
        hint,
    )


def _content(text: str) -> list[_Line]:
    """The lines that hold keys, items or plain text, without the insides of text blocks."""
    found: list[_Line] = []
    block_at: int | None = None  # the indentation of the key whose text block we are in
    block_text: int | None = None  # the indentation of that block's text, once seen
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        indent = len(raw) - len(raw.lstrip(" "))
        if block_at is not None:
            if not stripped:
                continue
            if block_text is None and indent > block_at:
                block_text = indent
            if block_text is not None and indent >= block_text:
                continue
            block_at = block_text = None
        if not stripped or stripped.startswith("#"):
            continue
        parts = _LINE.match(raw)
        assert parts is not None  # the pattern matches every line
        dashes, rest = parts.group("dashes"), parts.group("rest")
        key = _KEY.match(rest)
        value = (key.group("value") or "").strip() if key else rest
        found.append(
            _Line(
                number,
                indent,
                indent + len(dashes),
                key.group("key") if key else None,
                value,
                bool(dashes),
            )
        )
        if (key and _BLOCK.match(value)) or (dashes and not key and _BLOCK.match(rest)):
            block_at = indent
    return found


def _structural(line: _Line) -> bool:
    # Keys and list items give a block its indentation; a line going on with plain text does not.
    return line.key is not None or line.item


def _levels(above: list[_Line]) -> list[int]:
    """The indentations open at the end of ``above``, innermost first (as a reader sees them)."""
    levels: list[int] = []
    for line in reversed(above):
        for level in (line.column, line.indent):
            if not levels or level < levels[-1]:
                levels.append(level)
        if levels[-1] == 0:
            break
    return levels


def _step(structural: list[_Line]) -> int:
    """How far this file indents a block under its key, as most of its blocks do (else 2)."""
    steps = Counter(
        line.indent - opener.column
        for opener, line in itertools.pairwise(structural)
        if opener.key is not None and not opener.value and line.indent > opener.column
    )
    return steps.most_common(1)[0][0] if steps else 2


def _plain(value: str) -> bool:
    return bool(value) and not value.startswith(_NOT_PLAIN)


def _spaces(count: int) -> str:
    return f"{count} space" if count == 1 else f"{count} spaces"
