"""Authored YAML files other than flows, read one way: safe YAML, a schema, ``file:line`` errors.

A project file (``dialplan.yaml``), a routing table or a conversation test is read like a flow
(:mod:`engine.flow.parse`): safe YAML with line numbers and YAML's traps explained, then a
pydantic model whose every error becomes ``file:line: key.path: message (hint)``, an unknown
key with a did-you-mean.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from engine.errors import AuthoringError, AuthoringErrors, Location

from . import safe_yaml
from .yaml_hints import yaml_error


def read_document(path: Path) -> tuple[str, Any]:
    """The text of ``path`` and its located YAML tree (``None`` for an empty file).

    Raises :class:`AuthoringErrors` for a file that cannot be read or is not YAML.
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise AuthoringErrors(
            [AuthoringError(f"cannot read: {reason}", Location(str(path)))]
        ) from None
    try:
        return text, safe_yaml.load(text)
    except yaml.YAMLError as exc:
        raise AuthoringErrors([yaml_error(path, text, exc)]) from None


def known_keys(models: Iterable[type[BaseModel]]) -> list[str]:
    """Every key the models accept (by alias where one is set), for did-you-mean hints."""
    return sorted(
        {info.alias or name for model in models for name, info in model.model_fields.items()}
    )


def schema_errors(
    path: Path,
    data: Any,
    exc: ValidationError,
    keys: Sequence[str],
    prefix: Sequence[Any] = (),
) -> list[AuthoringError]:
    """Pydantic's errors for the entry of ``data`` at ``prefix``, as ``file:line`` errors."""
    errors: list[AuthoringError] = []
    seen: set[tuple[Any, ...]] = set()
    for error in exc.errors():
        missing = error["type"] == "missing"
        loc = (*prefix, *_existing(_at(data, prefix), error["loc"], keep_last=missing))
        if loc in seen:  # a union reports once per branch; one message per entry is enough
            continue
        seen.add(loc)
        where = Location(str(path), safe_yaml.line_of(data, loc))
        dotted = ".".join(str(part) for part in loc) or "(top level)"
        hint = None
        if error["type"] == "extra_forbidden":
            message = f"{dotted}: unknown key"
            close = difflib.get_close_matches(str(loc[-1]), keys, n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
        elif missing:
            message = f"{dotted}: required key is missing"
        else:
            message = f"{dotted}: {error['msg'].removeprefix('Value error, ')}"
            if error["type"] == "string_type" and not isinstance(error["input"], dict | list):
                # YAML reads 5:30 as the number 330 and 2026-12-04 as a date.
                hint = f"YAML read this as {type(error['input']).__name__}; put it in quotes"
        errors.append(AuthoringError(message, where, hint))
    return errors


def _at(data: Any, path: Sequence[Any]) -> Any:
    for part in path:
        data = data[part]
    return data


def _existing(data: Any, loc: tuple[Any, ...], *, keep_last: bool) -> tuple[Any, ...]:
    """The part of a pydantic error path that names entries of the file.

    Pydantic adds the branch of a union (``str``, ``list[str]``) to the path; those are no keys
    of the file. A missing key is named although it does not exist.
    """
    kept: list[Any] = []
    node = data
    for index, part in enumerate(loc):
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
        if in_dict or in_list:
            node = node[part]
        else:
            if keep_last and index == len(loc) - 1:
                kept.append(part)
            break
        kept.append(part)
    return tuple(kept)
