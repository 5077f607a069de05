"""Passes 1 and 2 of loading a flow: safe YAML, then the schema, to a :class:`LoadedFlow`.

1. **Parse** safely (:mod:`engine.flow.safe_yaml`): line numbers kept, duplicate keys refused.
2. **Schema**: the models of :mod:`engine.flow.spec`; unknown keys are errors with a
   did-you-mean.

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
from pydantic import BaseModel, ValidationError

from engine.errors import AuthoringError, AuthoringErrors, Location

from . import safe_yaml, spec

FLOW_SUFFIXES = (".yaml", ".yml")


@dataclass(frozen=True)
class LoadedFlow:
    """A checked flow: its spec, where it came from, and the files it depends on."""

    spec: spec.Flow
    path: Path
    lines: Any  # the located YAML tree, to point later messages at lines
    files: tuple[Path, ...]  # the flow file and every template file it uses
    version: str  # content hash of all of ``files``

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
    )
)


def _schema_errors(path: Path, data: Any, exc: ValidationError) -> list[AuthoringError]:
    errors = []
    for error in exc.errors():
        loc = error["loc"]
        where = Location(str(path), safe_yaml.line_of(data, loc))
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
        errors.append(AuthoringError(message, where, hint))
    return errors


def parse_flow(path: Path) -> tuple[spec.Flow, Any]:
    """Passes 1 and 2: the schema-checked spec and its located YAML tree."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AuthoringErrors(
            [AuthoringError(f"cannot read: {exc.strerror}", Location(str(path)))]
        ) from None
    try:
        data = safe_yaml.load(text)
    except yaml.MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        message = f"{exc.problem or 'invalid YAML'}"
        if exc.context:
            message = f"{exc.context}: {message}"
        raise AuthoringErrors([AuthoringError(message, Location(str(path), line))]) from None
    except yaml.YAMLError as exc:
        raise AuthoringErrors(
            [AuthoringError(f"invalid YAML: {exc}", Location(str(path)))]
        ) from None
    if not isinstance(data, dict):
        raise AuthoringErrors(
            [
                AuthoringError(
                    "a flow file is a mapping with `flow:` and `states:`", Location(str(path), 1)
                )
            ]
        )
    try:
        flow = spec.Flow.model_validate(data)
    except ValidationError as exc:
        raise AuthoringErrors(_schema_errors(path, data, exc)) from None
    return flow, data


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
