"""Loaded flows ready to run, the registry that picks one per call, and the flow agent.

A :class:`CompiledFlow` is one version of one flow file: its spec plus everything compiled
from it once (templates, guards, slot types, intent patterns, the state machine). Calls keep
the version they started with; the :class:`FlowRegistry` notices edited flow and template files
and compiles a new version for new calls, keeping the old one if the edit has errors.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
import structlog
from jinja2.sandbox import SandboxedEnvironment

from .agent import CallInfo
from .errors import AuthoringError, AuthoringErrors, Location
from .intents import IntentPattern
from .llm import ChatModel
from .loader import LoadedFlow, flow_files, load_flow
from .machine import FlowMachine
from .prompts import compile_string
from .slots import SlotSpec
from .validate import strings as _strings

log = structlog.get_logger("dialplan.flows")

TemplatePath = tuple[Any, ...]


@dataclass(frozen=True)
class CompiledFlow:
    """One runnable version of a flow."""

    loaded: LoadedFlow
    env: SandboxedEnvironment
    templates: dict[TemplatePath, jinja2.Template]
    guards: dict[TemplatePath, Any]  # compiled Jinja expressions
    slots: dict[str, SlotSpec]
    intents: dict[str, tuple[IntentPattern, ...]]  # state -> patterns of its intent transitions
    global_intents: tuple[IntentPattern, ...]
    machine: FlowMachine
    begin_uses_call: bool
    mtimes: tuple[float, ...] = field(default=())

    @property
    def spec(self) -> Any:
        """The flow's :class:`engine.spec.Flow`."""
        return self.loaded.spec

    @property
    def name(self) -> str:
        """The flow's name."""
        return str(self.loaded.spec.flow)

    @property
    def version(self) -> str:
        """Content hash of the flow file and its templates."""
        return self.loaded.version

    def template(self, *path: Any) -> jinja2.Template:
        """The compiled inline template at a spec path, e.g. ``("states", "done", "say")``."""
        return self.templates[path]

    def prompt(self, name: str) -> jinja2.Template:
        """A template file (persona or state prompt)."""
        return self.env.get_template(name)


def compile_flow(loaded: LoadedFlow, env: SandboxedEnvironment) -> CompiledFlow:
    """Compile a checked flow (templates, guards, patterns, machine)."""
    flow = loaded.spec
    templates: dict[TemplatePath, jinja2.Template] = {}
    guards: dict[TemplatePath, Any] = {}

    def inline(source: str | None, *path: Any) -> None:
        if source:
            origin = f"{loaded.path}:{loaded.line(*path) or 1}"
            templates[path] = compile_string(env, source, origin)

    inline(flow.begin, "begin")
    intents: dict[str, tuple[IntentPattern, ...]] = {}
    for name, state in flow.states.items():
        for key in ("say", "reask", "reminder", "transfer"):
            inline(getattr(state, key), "states", name, key)
        for index, transition in enumerate(state.next):
            inline(transition.say, "states", name, "next", index, "say")
            if transition.when:
                guards[("states", name, "next", index)] = env.compile_expression(transition.when)
        for index, action in enumerate(state.actions):
            base = ("states", name, "actions", index)
            for where, source in _strings(action.args):
                inline(source, *base, "args", *where)
            if action.webhook is not None:
                inline(action.webhook.url, *base, "webhook", "url")
                for where, source in _strings(action.webhook.body or {}):
                    inline(source, *base, "webhook", "body", *where)
            for key, expression in action.store.items():
                guards[("states", name, "actions", index, key)] = env.compile_expression(expression)
        intents[name] = tuple(
            IntentPattern.of(t.intent, t.examples, t.means) for t in state.next if t.intent
        )
    for index, intent in enumerate(flow.global_intents):
        inline(intent.say, "global", index, "say")
    slots = {
        name: SlotSpec(
            name=name,
            type=decl.type,
            description=decl.description,
            values=decl.synonyms(),
            min=decl.min,
            max=decl.max,
            past=decl.past,
            future=decl.future,
            with_year=decl.with_year,
            region=decl.region,
        )
        for name, decl in flow.slots.items()
    }
    uses_call = bool(flow.begin) and "call" in jinja2.meta.find_undeclared_variables(
        env.parse(flow.begin)
    )
    return CompiledFlow(
        loaded=loaded,
        env=env,
        templates=templates,
        guards=guards,
        slots=slots,
        intents=intents,
        global_intents=tuple(
            IntentPattern.of(g.intent, g.examples, None) for g in flow.global_intents
        ),
        machine=FlowMachine(flow),
        begin_uses_call=uses_call,
        mtimes=_mtimes(loaded.files),
    )


def _mtimes(files: tuple[Path, ...]) -> tuple[float, ...]:
    stamps = []
    for file in files:
        try:
            stamps.append(os.stat(file).st_mtime)
        except OSError:
            stamps.append(-1.0)
    return tuple(stamps)


class FlowRegistry:
    """The flows of a folder, by name; edited files are reloaded for new calls."""

    def __init__(
        self, flows_dir: Path, env: SandboxedEnvironment, prompts_dir: Path | None
    ) -> None:
        self.flows_dir = flows_dir
        self.env = env
        self.prompts_dir = prompts_dir
        self._flows: dict[str, CompiledFlow] = {}
        self._broken: dict[Path, list[AuthoringError]] = {}

    def load_all(self) -> list[AuthoringError]:
        """(Re)load every flow file of the folder; returns the errors of the broken ones."""
        errors: list[AuthoringError] = []
        for path in flow_files([self.flows_dir]) if self.flows_dir.is_dir() else []:
            errors.extend(self._load(path))
        return errors

    def _load(self, path: Path) -> list[AuthoringError]:
        try:
            compiled = compile_flow(load_flow(path, self.env, self.prompts_dir), self.env)
        except AuthoringErrors as exc:
            self._broken[path] = exc.errors
            return exc.errors
        except AuthoringError as exc:
            self._broken[path] = [exc]
            return [exc]
        self._broken.pop(path, None)
        existing = self._flows.get(compiled.name)
        if existing is not None and existing.loaded.path != path:
            error = AuthoringError(
                f"flow {compiled.name!r} is also defined in {existing.loaded.path}",
                Location(str(path), compiled.loaded.line("flow")),
            )
            return [error]
        self._flows[compiled.name] = compiled
        return []

    def get(self, name: str) -> CompiledFlow | None:
        """The current version of flow ``name`` (reloaded first if its files changed)."""
        flow = self._flows.get(name)
        if flow is not None and _mtimes(flow.loaded.files) != flow.mtimes:
            errors = self._load(flow.loaded.path)
            if errors:
                log.error(
                    "flow.reload_failed",
                    flow=name,
                    errors=[str(e) for e in errors],
                    kept_version=flow.version,
                )
                # Keep serving the last good version; stop re-checking until it changes again.
                self._flows[name] = _with_mtimes(flow, _mtimes(flow.loaded.files))
            else:
                log.info("flow.reloaded", flow=name, version=self._flows[name].version)
        return self._flows.get(name)

    def names(self) -> list[str]:
        """The names of the flows that loaded."""
        return sorted(self._flows)

    def broken(self) -> dict[Path, list[AuthoringError]]:
        """Flow files that did not load, with their errors."""
        return dict(self._broken)

    def __iter__(self) -> Iterator[CompiledFlow]:
        return iter(self._flows.values())


def _with_mtimes(flow: CompiledFlow, mtimes: tuple[float, ...]) -> CompiledFlow:
    return replace(flow, mtimes=mtimes)


class FlowAgent:
    """The :class:`~engine.agent.Agent` that runs calls through flows."""

    def __init__(
        self,
        registry: FlowRegistry,
        model: ChatModel | None,
        default_flow: str | None,
        runner_factory: Callable[[str], Any],
        today: Callable[[], date] = date.today,
    ) -> None:
        self.registry = registry
        self.model = model
        self.default_flow = default_flow
        self.runner_factory = runner_factory
        self.today = today

    def accepts(self, call: CallInfo) -> str | None:
        """Refuse a call whose URL names a flow that is not loaded."""
        if call.flow is not None and self.registry.get(call.flow) is None:
            return f"no flow named {call.flow!r}"
        return None

    def choose(self, call: CallInfo) -> CompiledFlow | None:
        """The flow for a call: from the URL, else call metadata (`flow`), else the default."""
        metadata = call.details.get("metadata") or {}
        for name in (call.flow, metadata.get("flow") if isinstance(metadata, dict) else None):
            if name:
                flow = self.registry.get(str(name))
                if flow is not None:
                    return flow
        if self.default_flow:
            flow = self.registry.get(self.default_flow)
            if flow is not None:
                return flow
        names = self.registry.names()  # a project with one flow needs no default named
        return self.registry.get(names[0]) if len(names) == 1 else None

    def start(self, call: CallInfo) -> Any:
        """A conversation for a new call (bound to its flow once the flow is known)."""
        from .conversation import FlowConversation

        return FlowConversation(self, call)

    def problems(self) -> list[str]:
        """Flows that did not load, flows that need a model that is not there, or no flow."""
        problems = [
            f"{path}: {len(errs)} error(s)" for path, errs in self.registry.broken().items()
        ]
        if self.model is None:
            for flow in self.registry:
                needing = [name for name, s in flow.spec.states.items() if s.prompt]
                if needing:
                    problems.append(
                        f"flow {flow.name!r} has model states ({', '.join(needing)}) "
                        "but no language model is configured"
                    )
        if not self.registry.names():
            problems.append(f"no flows loaded from {self.registry.flows_dir}")
        elif (
            self.default_flow
            and self.registry.get(self.default_flow) is None
            and len(self.registry.names()) > 1
        ):
            problems.append(f"default flow {self.default_flow!r} is not loaded")
        return problems
