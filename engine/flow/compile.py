"""A checked flow compiled once into what calls run: templates, guards, slot types, machine.

A :class:`CompiledFlow` is one version of one flow file. Calls keep the version they started
with; :class:`~engine.flow.registry.FlowRegistry` compiles a new version when files change.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2.sandbox import SandboxedEnvironment

from engine.templates import Value, compile_string, compile_value

from .actions import ActionRegistry
from .intents import IntentPattern
from .machine import FlowMachine
from .parse import LoadedFlow
from .plugins import Extensions
from .repair import DEFAULT_LINES, EXTRA_DEFAULTS, Repairs
from .slots import SlotType
from .spec import Flow, SlotSpec, State, string_leaves
from .understanding import Listener

TemplatePath = tuple[Any, ...]
"""Where a template sits in the flow file, e.g. ``("states", "done", "say")``."""

Guard = Callable[..., Any]
"""A compiled Jinja expression, called with the template context as keyword arguments."""


@dataclass(frozen=True, eq=False)
class CompiledFlow:
    """One runnable version of a flow."""

    loaded: LoadedFlow
    env: SandboxedEnvironment
    templates: Mapping[TemplatePath, jinja2.Template]
    guards: Mapping[TemplatePath, Guard]
    slot_types: Mapping[str, SlotType]  # slot name -> its type
    intents: Mapping[str, tuple[IntentPattern, ...]]  # state -> its intent transitions
    global_intents: tuple[IntentPattern, ...]
    machine: FlowMachine
    actions: ActionRegistry
    begin_uses_call: bool
    listener: Listener
    repairs: Repairs
    values: Mapping[TemplatePath, Value] = field(default_factory=dict)
    """Action arguments and webhook body leaves that are one expression: their typed value."""
    mtimes: tuple[float, ...] = field(default=())

    @property
    def spec(self) -> Flow:
        """The flow as written."""
        return self.loaded.spec

    @property
    def name(self) -> str:
        """The flow's name."""
        return self.loaded.spec.flow

    @property
    def version(self) -> str:
        """Content hash of the flow file and its templates."""
        return self.loaded.version

    @property
    def slots(self) -> Mapping[str, SlotSpec]:
        """The flow's slots, by name, in the order declared."""
        return self.loaded.spec.slots

    def state(self, name: str) -> State:
        """The spec of state ``name``."""
        return self.loaded.spec.states[name]

    def model_states(self) -> list[str]:
        """The states where the model speaks (``prompt:``)."""
        return [name for name, state in self.spec.states.items() if state.prompt]

    def template(self, *path: Any) -> jinja2.Template:
        """The compiled inline template at a spec path, e.g. ``("states", "done", "say")``."""
        return self.templates[path]

    def prompt(self, name: str) -> jinja2.Template:
        """A template file (persona or state prompt)."""
        return self.env.get_template(name)


def compile_flow(
    loaded: LoadedFlow,
    env: SandboxedEnvironment,
    extensions: Extensions,
    mtimes: tuple[float, ...] = (),
) -> CompiledFlow:
    """Compile a checked flow (templates, guards, patterns, machine)."""
    flow = loaded.spec
    templates: dict[TemplatePath, jinja2.Template] = {}
    guards: dict[TemplatePath, Guard] = {}

    values: dict[TemplatePath, Value] = {}

    def inline(source: str | None, *path: Any) -> None:
        if source:
            origin = f"{loaded.path}:{loaded.line(*path) or 1}"
            templates[path] = compile_string(env, source, origin)

    def value(source: str, *path: Any) -> None:
        # What an action is given: one expression gives its typed value, anything else text.
        compiled = compile_value(env, source, f"{loaded.path}:{loaded.line(*path) or 1}")
        if compiled is None:
            inline(source, *path)
        else:
            values[path] = compiled

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
            for where, source in string_leaves(action.args):
                value(source, *base, "args", *where)
            if action.webhook is not None:
                inline(action.webhook.url, *base, "webhook", "url")
                for header, source in action.webhook.headers.items():
                    inline(source, *base, "webhook", "headers", header)
                for where, source in string_leaves(action.webhook.body or {}):
                    value(source, *base, "webhook", "body", *where)
            for key, expression in action.store.items():
                guards[(*base, key)] = env.compile_expression(expression)
        intents[name] = tuple(
            IntentPattern.of(t.intent, t.examples, t.means) for t in state.next if t.intent
        )
    for index, intent in enumerate(flow.global_intents):
        inline(intent.say, "global", index, "say")
    for repair, default in DEFAULT_LINES.items():
        option = flow.repair.option(repair)
        if option is not None:
            source = option.say if option.say is not None else default
            templates[("repair", repair, "say")] = compile_string(
                env, source, f"{loaded.path}:{loaded.line('repair', repair) or 1}"
            )
    for (repair, key), default in EXTRA_DEFAULTS.items():
        option = flow.repair.option(repair)
        if option is not None:
            source = getattr(option, key)
            templates[("repair", repair, key)] = compile_string(
                env,
                source if source is not None else default,
                f"{loaded.path}:{loaded.line('repair', repair, key) or 1}",
            )
    uses_call = bool(flow.begin) and "call" in jinja2.meta.find_undeclared_variables(
        env.parse(flow.begin)
    )
    slot_types = {name: extensions.slot_types[slot.type] for name, slot in flow.slots.items()}
    return CompiledFlow(
        loaded=loaded,
        env=env,
        templates=templates,
        guards=guards,
        slot_types=slot_types,
        intents=intents,
        global_intents=tuple(
            IntentPattern.of(g.intent, g.examples, None, anywhere=True) for g in flow.global_intents
        ),
        machine=FlowMachine(flow),
        actions=extensions.actions,
        begin_uses_call=uses_call,
        listener=Listener(flow.slots, slot_types, flow.hours),
        repairs=Repairs.of(flow),
        values=values,
        mtimes=mtimes,
    )


def file_mtimes(files: tuple[Path, ...]) -> tuple[float, ...]:
    """The modification times of ``files`` (-1 for a missing one): a cheap change check."""
    stamps = []
    for file in files:
        try:
            stamps.append(os.stat(file).st_mtime)
        except OSError:
            stamps.append(-1.0)
    return tuple(stamps)
