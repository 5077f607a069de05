"""The tools a flow offers the model, and what its tool calls mean.

In a state the model is offered one ``set_<slot>`` function per slot it may fill (the state's
own slots and any still unknown), whose JSON schema comes from the slot's type, and one
``intent_<name>`` function per intent it may choose (the state's and the global ones). A call
the model makes is checked by the slot's type like anything a caller said: a bad value is
refused, never stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import orjson

from .llm import ToolCallRequest
from .slots import slot_type
from .spec import State

if TYPE_CHECKING:
    from .flows import CompiledFlow


@dataclass
class ToolOutcome:
    """What the model's tool calls of one turn amount to."""

    slots: dict[str, Any] = field(default_factory=dict)
    intent: str | None = None
    errors: list[str] = field(default_factory=list)


def offered_tools(
    flow: CompiledFlow, state: State, known: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """The chat-completions ``tools`` for ``state``, given the slots already ``known``."""
    tools = []
    for name, slot in flow.slots.items():
        if flow.spec.slots[name].source == "action":
            continue  # filled by actions only; the model has no say in it
        if name in state.collect or known.get(name) is None:
            description = slot.description or f"Record the caller's {name.replace('_', ' ')}."
            schema = slot_type(slot.type).json_schema(slot)
            tools.append(_function(f"set_{name}", description, {"value": schema}))
    intents = [(t.intent, t.description) for t in state.next if t.intent]
    intents += [(g.intent, g.description) for g in flow.spec.global_intents]
    for intent, description in intents:
        tools.append(
            _function(f"intent_{intent}", description or f"The caller wants {intent}.", {})
        )
    return tools


def apply_tool_call(
    flow: CompiledFlow, call: ToolCallRequest, today: date, outcome: ToolOutcome
) -> str:
    """Check one tool call into ``outcome``; returns the result text reported for it."""
    try:
        arguments = orjson.loads(call.arguments or "{}")
    except orjson.JSONDecodeError:
        return "rejected: arguments are not JSON"
    if call.name.startswith("set_") and call.name[4:] in flow.slots:
        name = call.name[4:]
        slot = flow.slots[name]
        value = arguments.get("value") if isinstance(arguments, dict) else None
        parsed = slot_type(slot.type).parse(value, slot, today)
        if not parsed.ok:
            outcome.errors.append(parsed.error)
            return f"rejected: {parsed.error}"
        outcome.slots[name] = parsed.value
        return f"stored {name}"
    if call.name.startswith("intent_"):
        outcome.intent = call.name[7:]
        return "noted"
    return "rejected: unknown tool"


def _function(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": properties,
                "required": list(properties),
            },
        },
    }
