"""Passes 1 and 2 of loading a flow: safe YAML, then the schema, to a :class:`LoadedFlow`.

1. **Parse** safely (:mod:`engine.flow.safe_yaml`): line numbers kept, duplicate keys refused;
   YAML's traps get a hint (:mod:`engine.flow.yaml_hints`).
2. **Schema**: the models of :mod:`engine.flow.spec`, entry by entry
   (:mod:`engine.flow.partial`), so that the valid part of a file is still checked by pass 3;
   unknown keys are errors with a did-you-mean.

Pass 3 (graph, slots, templates, actions) is :mod:`engine.flow.checks`; :func:`load_flow` in
:mod:`engine.flow.load` runs all three. Errors read ``file:line: message (hint)``.
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import yaml
from pydantic import BaseModel

from engine.errors import AuthoringError, AuthoringErrors, Location

from . import partial, safe_yaml, spec
from .yaml_hints import comment_warnings, tab_errors, value_hint, yaml_error

FLOW_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedFlow:
    """A checked flow: its spec, where it came from, and the files it depends on."""

    spec: spec.Flow
    path: Path
    lines: Any  # the located YAML tree, to point later messages at lines
    files: tuple[Path, ...]  # the flow file and every template file it uses
    version: str  # content hash of all of ``files``
    text: str = ""  # the flow file as written (block scalars are located in it)
    cut: frozenset[tuple[str, str]] = frozenset()  # entries with schema errors, cut down
    warnings: tuple[AuthoringError, ...] = ()  # things that work, but probably not as meant

    def line(self, *path: Any) -> int | None:
        """The line of an entry, e.g. ``flow.line("states", "ask_name", "say")``."""
        return safe_yaml.line_of(self.lines, path)

    def where(self, *path: Any) -> Location:
        """A :class:`Location` for an entry of this flow."""
        return Location(str(self.path), self.line(*path), self.spec.flow)


def _all_keys(models: Iterable[type[BaseModel]]) -> set[str]:
    keys: set[str] = set()
    for model in models:
        for name, info in model.model_fields.items():
            keys.add(info.alias or name)
    return keys


_KNOWN_KEYS = _all_keys(
    (
        spec.Flow,
        spec.State,
        spec.SlotSpec,
        spec.Transition,
        spec.GlobalIntent,
        spec.ActionSpec,
        spec.Webhook,
        spec.VoiceSettings,
        spec.OpeningHours,
        spec.Repairs,
        spec.RepairLine,
    )
)


def _schema_errors(
    path: Path, data: Any, text: str, located: list[partial.Located]
) -> list[AuthoringError]:
    errors = []
    raw_lines = text.splitlines()
    for loc, error in located:
        line = safe_yaml.line_of(data, loc)
        where = Location(str(path), line)
        dotted = ".".join(str(part) for part in loc) or "(top level)"
        hint = None
        if error["type"] == "extra_forbidden":
            message = f"{dotted}: unknown key"
            close = difflib.get_close_matches(str(loc[-1]), sorted(_KNOWN_KEYS), n=1)
            hint = f"did you mean {close[0]!r}?" if close else None
        elif error["type"] == "missing":
            message = f"{dotted}: required key is missing"
        else:
            message = f"{dotted}: {error['msg'].removeprefix('Value error, ')}"
            if error["type"] == "string_type":
                raw = raw_lines[line - 1] if line and line <= len(raw_lines) else ""
                hint = value_hint(error["input"], raw)
        errors.append(AuthoringError(message, where, hint))
    return errors


@dataclass(frozen=True)
class ParsedFlow:
    """Passes 1 and 2 of one file: the flow as far as it is valid, and what is wrong with it."""

    flow: spec.Flow | None  # None when nothing usable is left (the errors say why)
    data: Any  # the located YAML tree
    text: str
    errors: list[AuthoringError]
    warnings: list[AuthoringError]
    cut: frozenset[tuple[str, str]]


def parse_flow(path: Path) -> ParsedFlow:
    """Passes 1 and 2: the schema-checked spec, its located YAML tree, and every error.

    Raises :class:`AuthoringErrors` only when nothing can be checked further (an unreadable
    file, broken YAML, no states).
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        raise AuthoringErrors(
            [AuthoringError(f"cannot read: {reason}", Location(str(path)))]
        ) from None
    warnings = comment_warnings(path, text)
    try:
        data = safe_yaml.load(text)
    except yaml.YAMLError as exc:
        first = yaml_error(path, text, exc)
        others = [e for e in tab_errors(path, text) if e.location != first.location]
        raise AuthoringErrors([first, *others], warnings) from None
    errors = tab_errors(path, text)
    if not isinstance(data, dict):
        errors.append(
            AuthoringError(
                "a flow file is a mapping with `flow:` and `states:`", Location(str(path), 1)
            )
        )
        raise AuthoringErrors(errors, warnings)
    checked = partial.validate(data, path.stem)
    errors += _schema_errors(path, data, text, checked.errors)
    if checked.flow is None:
        raise AuthoringErrors(errors, warnings)
    return ParsedFlow(checked.flow, data, text, errors, warnings, frozenset(checked.cut))


def template_files(flow: spec.Flow, env: jinja2.Environment) -> tuple[Path, ...]:
    """The template files a flow uses (persona and state prompts) that exist."""
    names = [flow.persona] if flow.persona else []
    names += [state.prompt for state in flow.states.values() if state.prompt]
    loader = env.loader
    found = []
    if isinstance(loader, jinja2.FileSystemLoader):
        for name in names:
            for root in loader.searchpath:
                candidate = Path(root) / name
                if candidate.is_file():
                    found.append(candidate)
                    break
    return tuple(found)


def digest(files: Iterable[Path]) -> str:
    """A short content hash of ``files``: the version of a flow and its templates."""
    digest = hashlib.sha256()
    for file in files:
        try:
            digest.update(file.read_bytes())
        except OSError:
            digest.update(b"<missing>")
    return digest.hexdigest()[:12]


def flow_files(paths: Iterable[Path]) -> list[Path]:
    """Every flow file in ``paths`` (files as given, folders searched one level deep)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(sorted(p for p in path.iterdir() if p.suffix in FLOW_SUFFIXES))
        else:
            found.append(path)
    return found
