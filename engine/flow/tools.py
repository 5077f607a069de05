"""The model's tools in a state: one table of name -> handler, offered and obeyed alike.

In a state the model is offered one ``set_<slot>`` function per slot it may fill (the state's
own slots and any still unknown that the caller can give) and one ``intent_<name>`` function
per intent it may choose (the state's and the global ones). The same table answers the model's
calls: a name that is not in it (an intent never offered, a slot only actions may set) is
refused and answered as an error, and a value is checked by its slot type like anything a
caller said, and against the caller's words (:mod:`engine.flow.grounding`), so a bad or
invented one is refused, never stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import orjson

from engine.llm import ToolCallRequest

from .compile import CompiledFlow
from .grounding import NOT_SAID, grounded
from .slots import Parsed
from .spec import State


@dataclass
class ToolOutcome:
    """What the model's tool calls of one turn amount to."""

    slots: dict[str, Any] = field(default_factory=dict)
    intent: str | None = None
    errors: list[str] = field(default_factory=list)


Handler = Callable[[Any, ToolOutcome], str]
"""Applies a call's parsed arguments to the outcome; returns the result reported for it."""


@dataclass(frozen=True)
class Tool:
    """One function the model may call: what it is offered as, and what calling it does."""

    name: str
    description: str
    parameters: Mapping[str, Any]
    handle: Handler

    def offer(self) -> dict[str, Any]:
        """The chat-completions ``tools`` entry."""
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": {
                    "type": "object",
                    "properties": dict(self.parameters),
                    "required": list(self.parameters),
                },
            },
        }


class ToolTable:
    """The tools of one state for one turn, given the slots already known."""

    def __init__(
        self,
        flow: CompiledFlow,
        state: State,
        known: Mapping[str, Any],
        today: date,
        heard: str = "",
    ) -> None:
        """``heard``: everything the caller said in the call (a value must be grounded in it)."""
        self._tools: dict[str, Tool] = {}
        for name, slot in flow.slots.items():
            if slot.source == "action":
                continue  # filled by actions only; the model has no say in it
            if name in state.collect or known.get(name) is None:
                kind = flow.slot_types[name]
                self._add(
                    f"set_{name}",
                    slot.description or f"Record the caller's {name.replace('_', ' ')}.",
                    {"value": kind.json_schema(slot)},
                    _set_slot(flow, name, today, heard),
                )
        intents = [(t.intent, t.description) for t in state.next if t.intent]
        intents += [(g.intent, g.description) for g in flow.spec.global_intents]
        for intent, description in intents:
            self._add(
                f"intent_{intent}",
                description or f"The caller wants {intent}.",
                {},
                _choose_intent(intent),
            )

    def _add(self, name: str, description: str, parameters: Mapping[str, Any], fn: Handler) -> None:
        self._tools.setdefault(name, Tool(name, description, parameters, fn))

    def __bool__(self) -> bool:
        return bool(self._tools)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def offered(self) -> list[dict[str, Any]]:
        """The chat-completions ``tools`` list."""
        return [tool.offer() for tool in self._tools.values()]

    def apply(self, call: ToolCallRequest, outcome: ToolOutcome) -> str:
        """Check one tool call into ``outcome``; returns the result text reported for it."""
        tool = self._tools.get(call.name)
        if tool is None:
            return f"rejected: no tool named {call.name!r} in this step"
        try:
            arguments = orjson.loads(call.arguments or "{}")
        except orjson.JSONDecodeError:
            return "rejected: arguments are not JSON"
        return tool.handle(arguments, outcome)


def _set_slot(flow: CompiledFlow, name: str, today: date, heard: str) -> Handler:
    slot, kind = flow.slots[name], flow.slot_types[name]

    def handle(arguments: Any, outcome: ToolOutcome) -> str:
        value = arguments.get("value") if isinstance(arguments, dict) else None
        parsed = kind.parse(value, slot, today)
        if parsed.ok and not grounded(kind, slot, parsed.value, heard):
            parsed = Parsed(False, error=NOT_SAID)
        if not parsed.ok:
            outcome.errors.append(parsed.error)
            return f"rejected: {parsed.error}"
        outcome.slots[name] = parsed.value
        return f"stored {name}"

    return handle


def _choose_intent(intent: str) -> Handler:
    def handle(arguments: Any, outcome: ToolOutcome) -> str:
        outcome.intent = intent
        return "noted"

    return handle
