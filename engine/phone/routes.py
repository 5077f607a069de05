"""Inbound routing: which flow, and which variables, answer a call to one of your numbers.

The project's routing table (``routes.yaml`` beside ``flows/``) matches the caller's number
(``from``) and the dialled number (``to``) against patterns, first match wins::

    hook: myproject.routing:route          # optional: asked first; None falls through
    routes:
      - to: "+14155550100"                 # the clinic's number
        flow: clinic_intake
        variables: {clinic_name: Elm Street Clinic}
      - from: ["+1415*", "+1650*"]         # Bay Area callers
        flow: booking
      - flow: clinic_intake                # everyone else

A pattern is a number (spaces, dashes and brackets are ignored) where ``*`` stands for any
digits and ``?`` for one. The file is checked like a flow: safe YAML, unknown keys with a
did-you-mean, unknown flows, malformed patterns, an unimportable hook, each as
``file:line: message (hint)``.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import inspect
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from engine._lazy import logger
from engine.errors import AuthoringError, AuthoringErrors, Location
from engine.flow import safe_yaml
from engine.flow.authored import read_document, schema_errors

log = logger("dialplan.phone")

HOOK_TIMEOUT = 5.0  # seconds; the platform waits 10 for the whole answer
_FORMATTING = re.compile(r"[\s().-]")
_PATTERN = re.compile(r"^\+?[0-9*?]+$")


@dataclass(frozen=True)
class InboundCall:
    """The platform's ``call_inbound``: who calls which number (no call id exists yet)."""

    from_number: str
    to_number: str
    agent_id: str | None = None
    agent_version: int | None = None


@dataclass(frozen=True)
class Route:
    """How to answer one inbound call: its flow, variables, metadata, and agent."""

    flow: str | None = None
    variables: Mapping[str, str] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)
    agent_id: str | None = None
    source: str = ""
    """Where it came from (``routes.yaml:12``, ``hook``), kept in the call's metadata."""

    def answer(self) -> dict[str, Any]:
        """The ``call_inbound`` answer for the platform."""
        inbound: dict[str, Any] = {}
        metadata = dict(self.metadata)
        if self.flow:
            metadata["flow"] = self.flow
        if self.source:
            metadata["dialplan"] = {"route": self.source}
        if metadata:
            inbound["metadata"] = metadata
        if self.variables:
            inbound["dynamic_variables"] = dict(self.variables)
        if self.agent_id:
            inbound["override_agent_id"] = self.agent_id
        return {"call_inbound": inbound}


HookAnswer = Route | Mapping[str, Any] | None
Hook = Callable[[InboundCall], HookAnswer | Awaitable[HookAnswer]]
"""A Python routing hook: a call in, a :class:`Route` (or its fields as a dict) or ``None``."""


# -- the file's schema ------------------------------------------------------------------------

Patterns = tuple[str, ...]


class RouteSpec(BaseModel):
    """One entry of ``routes:``."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    from_: Patterns | None = Field(None, alias="from")
    to: Patterns | None = None
    flow: str | None = None
    agent: str | None = None
    variables: dict[str, str | int | float | bool | None] = Field(default_factory=dict)
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("from_", "to", mode="before")
    @classmethod
    def _patterns(cls, value: object) -> object:
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            found = []
            for item in value:
                if not isinstance(item, str):
                    raise ValueError(
                        f'{item!r} is a number to YAML, not a pattern: quote it ("+{item}")'
                    )
                pattern = _FORMATTING.sub("", item)
                if not _PATTERN.match(pattern):
                    raise ValueError(
                        f"{item!r} is not a number pattern (digits, a leading +, * for any "
                        "digits, ? for one)"
                    )
                found.append(pattern)
            return tuple(found)
        if isinstance(value, int):
            raise ValueError(f'{value!r} is a number to YAML, not a pattern: quote it ("+{value}")')
        return value


class RoutesSpec(BaseModel):
    """A routing table file."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    hook: str | None = None
    routes: tuple[RouteSpec, ...] = ()


_KEYS = sorted({"hook", "routes", "from", "to", "flow", "agent", "variables", "metadata"})


# -- the table ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoutingTable:
    """A checked routing table: its routes with their lines, and its hook."""

    path: Path
    routes: tuple[tuple[RouteSpec, int | None], ...] = ()
    hook: Hook | None = None

    def match(self, call: InboundCall) -> Route | None:
        """The first route whose patterns match the call's numbers."""
        for spec, line in self.routes:
            if _matches(spec.from_, call.from_number) and _matches(spec.to, call.to_number):
                return Route(
                    flow=spec.flow,
                    variables={k: _text(v) for k, v in spec.variables.items()},
                    metadata=spec.metadata,
                    agent_id=spec.agent,
                    source=f"{self.path.name}:{line}" if line else self.path.name,
                )
        return None


def _matches(patterns: Patterns | None, number: str) -> bool:
    if patterns is None:
        return True
    number = _FORMATTING.sub("", number)
    return any(fnmatchcase(number, pattern) for pattern in patterns)


def _text(value: object) -> str:
    # The platform's dynamic variables are strings.
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def load_routes(path: Path, flows: Iterable[str] | None = None) -> RoutingTable:
    """Read and check ``path``; :class:`AuthoringErrors` with every problem of the file.

    ``flows``: the project's flow names, to check the routes' flows (``None``: not checked).
    """
    where = str(path)
    _text, data = read_document(path)
    if data is None:
        return RoutingTable(path)
    if not isinstance(data, dict):
        raise AuthoringErrors(
            [AuthoringError("a routing table is a mapping with `routes:`", Location(where, 1))]
        )
    errors: list[AuthoringError] = []
    # Entry by entry, so that one bad route does not hide the mistakes of the others.
    entries = data.get("routes")
    try:
        spec = RoutesSpec.model_validate({**data, "routes": []})
    except ValidationError as exc:
        errors += schema_errors(path, data, exc, _KEYS)
        spec = RoutesSpec()
    if entries is not None and not isinstance(entries, list):
        errors.append(
            AuthoringError(
                "routes: a list of routes", Location(where, safe_yaml.line_of(data, ["routes"]))
            )
        )
        entries = []
    known = set(flows) if flows is not None else None
    lines = []
    for index, entry in enumerate(entries or []):
        line = safe_yaml.line_of(data, ["routes", index])
        try:
            route = RouteSpec.model_validate(entry)
        except ValidationError as exc:
            errors += schema_errors(path, data, exc, _KEYS, ["routes", index])
            continue
        lines.append((route, line))
        if route.flow is None and route.agent is None:
            errors.append(
                AuthoringError("a route names a `flow` (or an `agent`)", Location(where, line))
            )
        if route.flow is not None and known is not None and route.flow not in known:
            close = difflib.get_close_matches(route.flow, sorted(known), n=1)
            errors.append(
                AuthoringError(
                    f"unknown flow {route.flow!r}",
                    Location(where, safe_yaml.line_of(data, ["routes", index, "flow"])),
                    f"did you mean {close[0]!r}?"
                    if close
                    else f"flows: {', '.join(sorted(known)) or 'none'}",
                )
            )
    hook = None
    if spec.hook is not None:
        try:
            hook = import_hook(spec.hook)
        except AuthoringError as exc:
            errors.append(
                AuthoringError(
                    exc.message, Location(where, safe_yaml.line_of(data, ["hook"])), exc.hint
                )
            )
    if errors:
        raise AuthoringErrors(errors)
    return RoutingTable(path, tuple(lines), hook)


def import_hook(name: str) -> Hook:
    """The callable ``module:function`` (or ``module.function``); :class:`AuthoringError`."""
    module, sep, attribute = name.partition(":")
    if not sep:
        module, _, attribute = name.rpartition(".")
    if not module or not attribute:
        raise AuthoringError(f"hook {name!r} names no function", hint="write it as module:function")
    try:
        imported = importlib.import_module(module)
    except Exception as exc:  # a hook module's own bug must read as one line
        raise AuthoringError(
            f"cannot import hook module {module!r}: {type(exc).__name__}: {exc}",
            hint="a hook is a function in a module on the Python path",
        ) from None
    fn = getattr(imported, attribute, None)
    if not callable(fn):
        raise AuthoringError(f"module {module!r} has no function {attribute!r}")
    return fn  # type: ignore[no-any-return]


async def ask_hook(hook: Hook, call: InboundCall, within: float = HOOK_TIMEOUT) -> Route | None:
    """What the hook says of ``call``; ``None`` when it says nothing, fails or is too slow."""
    try:
        async with asyncio.timeout(within):
            answer = hook(call)
            if inspect.isawaitable(answer):
                answer = await answer
    except Exception as exc:  # a hook's bug must not leave the caller ringing
        log.error("routes.hook_failed", error=f"{type(exc).__name__}: {exc}")
        return None
    if answer is None or isinstance(answer, Route):
        return answer
    if isinstance(answer, Mapping):
        try:
            return Route(
                flow=answer.get("flow"),
                variables={str(k): _text(v) for k, v in (answer.get("variables") or {}).items()},
                metadata=dict(answer.get("metadata") or {}),
                agent_id=answer.get("agent_id") or answer.get("agent"),
                source="hook",
            )
        except (AttributeError, TypeError) as exc:
            log.error("routes.hook_failed", error=f"malformed answer: {exc}")
            return None
    log.error("routes.hook_failed", error=f"answered a {type(answer).__name__}, not a Route")
    return None


# -- the live table: reloaded when its file changes ---------------------------------------------


class Router:
    """Answers inbound calls from the project's routing table, reloading it when it changes.

    An edit with errors is logged with ``file:line`` and the last good table keeps routing.
    Without a file every call gets an empty answer (the number's own agent and the server's
    default flow).
    """

    def __init__(self, path: Path, flows: Callable[[], Iterable[str] | None] = lambda: None):
        self.path = path
        self.flows = flows
        self.table: RoutingTable | None = None
        self.problems: list[str] = []
        self._seen: tuple[float, int] | None = None

    def refresh(self) -> None:
        """Load the file again if it changed since it was last read."""
        try:
            stat = self.path.stat()
        except OSError:
            if self._seen is not None:
                log.warning("routes.removed", file=str(self.path))
            self.table, self._seen, self.problems = None, None, []
            return
        seen = (stat.st_mtime, stat.st_size)
        if seen == self._seen:
            return
        self._seen = seen
        try:
            self.table = load_routes(self.path, self.flows())
        except AuthoringErrors as exc:
            self.problems = [str(error) for error in exc.errors]
            log.error("routes.reload_failed", file=str(self.path), errors=self.problems)
            return
        self.problems = []
        log.info("routes.loaded", file=str(self.path), routes=len(self.table.routes))

    async def route(self, call: InboundCall) -> Route:
        """The answer for ``call``: the hook's, else the first matching route's, else none."""
        self.refresh()
        table = self.table
        if table is None:
            return Route()
        if table.hook is not None:
            found = await ask_hook(table.hook, call)
            if found is not None:
                return found
        return table.match(call) or Route()
