"""What to tell a flow author when YAML reads a file differently than it looks.

The traps worth a hint, each seen in real first flows: an unquoted ``+14155550142`` is a
number, not a phone number; a colon and a space inside plain text start a new key ("mapping
values are not allowed here"); a `` #`` inside plain text starts a comment, so the rest of the
line is silently not spoken; a key one space too far or too little
(:mod:`engine.flow.yaml_indent`); and a tab cannot indent YAML.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import yaml

from engine.errors import AuthoringError, AuthoringWarning, Location

from .yaml_indent import indentation_error

# A key whose plain (unquoted, not block) value holds " #": the rest of the line is a comment.
_CUT_COMMENT = re.compile(
    r"^\s*(?:-\s+)?(?P<key>say|reask|reminder|begin|description|examples)\s*:\s+"
    r"(?P<value>[^\s\"'|>#{\[&*!%@`][^#]*?)\s+#(?P<rest>.*)$"
)
_PHONE = re.compile(r"^\+?[\d\s().-]{6,}$")

QUOTE_HINT = (
    'put the text in quotes ("...") or in a block: `say: >-` with the text on the next lines'
)


def yaml_error(path: Path, text: str, exc: yaml.YAMLError) -> AuthoringError:
    """A YAML syntax error as ``file:line: message (hint)``."""
    if not isinstance(exc, yaml.MarkedYAMLError):
        return AuthoringError(f"invalid YAML: {exc}", Location(str(path)))
    mark = exc.problem_mark
    line = mark.line + 1 if mark else None
    problem = exc.problem or "invalid YAML"
    message = f"{exc.context}: {problem}" if exc.context else problem
    hint = None
    raw = text.splitlines()[line - 1] if line and line <= len(text.splitlines()) else ""
    indented = None if "\t" in text else indentation_error(path, text, exc)
    if indented is not None:
        return indented
    if "mapping values are not allowed here" in problem:
        message = "a colon followed by a space inside plain text starts a new key"
        hint = QUOTE_HINT
    elif re.search(r":\s+\{[{%]", raw) or re.match(r"^\s*-\s+\{[{%]", raw):
        hint = "a value that starts with { is a YAML mapping: put the whole line in quotes"
    elif "\t" in problem or "\t" in raw[: len(raw) - len(raw.lstrip())]:
        message = f"a tab in the indentation ({problem})"
        hint = "YAML indents with spaces, not tabs"
    return AuthoringError(message, Location(str(path), line), hint)


def tab_errors(path: Path, text: str) -> list[AuthoringError]:
    """Lines indented with tabs (YAML may read them differently or not at all)."""
    return [
        AuthoringError(
            "a tab in the indentation", Location(str(path), number), "YAML indents with spaces"
        )
        for number, line in enumerate(text.splitlines(), start=1)
        if "\t" in line[: len(line) - len(line.lstrip())]
    ]


def comment_warnings(path: Path, text: str) -> list[AuthoringError]:
    """Plain text lines cut short by `` #``: the rest of the line is a comment, never spoken."""
    warnings: list[AuthoringError] = []
    for number, line in enumerate(text.splitlines(), start=1):
        match = _CUT_COMMENT.match(line)
        if match and match.group("rest").strip():
            warnings.append(
                AuthoringWarning(
                    f"`{match.group('key')}` ends before ' #{match.group('rest')}': YAML reads "
                    "' #' as the start of a comment",
                    Location(str(path), number),
                    "put the whole text in quotes if the # belongs to it",
                )
            )
    return warnings


def value_hint(value: Any, raw_line: str) -> str | None:
    """A hint for a value YAML read as something other than the text that was written."""
    if isinstance(value, bool):
        return "YAML read this as true/false; put it in quotes"
    if isinstance(value, (int, float)):
        written = raw_line.split(":", 1)[-1].strip() if ":" in raw_line else str(value)
        written = written.split(" #", 1)[0].strip().lstrip("- ").strip()
        if _PHONE.match(written):
            return f'YAML reads {written} as a number; quote it: "{written}"'
        return f"YAML read {written or value} as a number; put it in quotes"
    if isinstance(value, (date, datetime)):
        return "YAML read this as a date; put it in quotes"
    return None
