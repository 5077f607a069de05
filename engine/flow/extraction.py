"""The model as a reader: one structured extraction call when our parsers cannot settle a turn.

In a state with a fixed line (``say``), the agent's words are the flow's, not the model's. When
the caller's answer is absent to our parsers, ambiguous or invalid, and a model is configured,
the model is asked once to fill in a form: a single function, :data:`EXTRACT_TOOL`, whose
parameters are the slots the state asks for (each described by its slot type's JSON schema)
and, when the state or the flow has intents, the intent the caller voiced. The call forces that
function (``tool_choice``), so the answer is structured, never free text; every value it
returns is checked by the same slot types (and opening hours) as the caller's own words, so a
bad value is refused, never stored, and so is one the caller never said
(:mod:`engine.flow.grounding`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from datetime import date
from typing import Any

import orjson

from engine.agent import Part
from engine.llm import ChatModel, ModelRequest, ToolCallRequest
from engine.protocol import ToolCallInvocation, ToolCallResult

from .asking import question as question_of
from .compile import CompiledFlow
from .grounding import NOT_SAID, grounded
from .hours import check_hours
from .prompting import messages
from .slots import Parsed
from .tools import ToolOutcome

EXTRACT_TOOL = "record_answer"
"""The one function the model is offered (and made to call) in an extraction."""


def intents_of(flow: CompiledFlow, state_name: str) -> dict[str, str]:
    """The intents a caller may voice in ``state_name``: the state's, then the global ones."""
    state = flow.state(state_name)
    found = {t.intent: t.description for t in state.next if t.intent}
    for intent in flow.spec.global_intents:
        found.setdefault(intent.intent, intent.description)
    return {name: description or name.replace("_", " ") for name, description in found.items()}


def extraction_tool(flow: CompiledFlow, state_name: str) -> dict[str, Any] | None:
    """The chat-completions ``tools`` entry of the extraction, or None with nothing to read."""
    state = flow.state(state_name)
    properties: dict[str, Any] = {}
    for name in state.collect:
        spec = flow.slots[name]
        properties[name] = flow.slot_types[name].json_schema(spec)
    intents = intents_of(flow, state_name)
    if intents:
        listed = "; ".join(f"{name}: {description}" for name, description in intents.items())
        properties["intent"] = {
            "type": "string",
            "enum": list(intents),
            "description": f"What the caller wants, only if they clearly said so ({listed}).",
        }
    if not properties:
        return None
    return {
        "type": "function",
        "function": {
            "name": EXTRACT_TOOL,
            "description": "Record what the caller's last words give for each field. Leave "
            "out every field the caller did not clearly give; never guess.",
            "parameters": {"type": "object", "properties": properties, "required": []},
        },
    }


def reads_answer(flow: CompiledFlow, state_name: str) -> bool:
    """Whether the model only reads the caller's answer in ``state_name``, never speaking.

    So it is in a state with a fixed line and something to read (slots, intents); elsewhere
    the model speaks (:mod:`engine.flow.speaking`).
    """
    return flow.state(state_name).say is not None and extraction_tool(flow, state_name) is not None


def asked(line: str | None) -> str:
    """What the extraction says the agent asked: the question of the state's line, or all of it."""
    return (question_of(line) if line else "") or line or ""


def request(
    flow: CompiledFlow,
    state_name: str,
    transcript: Sequence[Any],
    entered_at: int,
    question: str,
    today: date,
) -> ModelRequest | None:
    """The extraction request of ``state_name``: forced to call :data:`EXTRACT_TOOL`."""
    tool = extraction_tool(flow, state_name)
    if tool is None:
        return None
    shown = messages(flow, state_name, extraction_prompt(question, today), transcript, entered_at)
    choice = {"type": "function", "function": {"name": EXTRACT_TOOL}}
    return ModelRequest(shown, [tool], choice)


def extraction_prompt(question: str, today: date) -> str:
    """The system prompt of an extraction: what was asked, and what day it is."""
    return (
        "You read a phone call between an agent and a caller, and record what the caller "
        f"answered by calling {EXTRACT_TOOL}. The agent's question was: {question!r}. "
        f"Today is {today:%A}, {today.isoformat()}. Record only what the caller clearly said "
        "in their last words; leave out anything unclear."
    )


def read_extraction(
    flow: CompiledFlow,
    state_name: str,
    arguments: Any,
    today: date,
    outcome: ToolOutcome,
    heard: str = "",
) -> str:
    """Check the model's answer into ``outcome``; returns the result reported for the call.

    ``heard`` is what the caller said: a value not grounded in it is refused.
    """
    if not isinstance(arguments, Mapping):
        return "rejected: the arguments are not an object"
    state = flow.state(state_name)
    kept, refused = [], []
    for name in state.collect:
        if arguments.get(name) is None:
            continue
        spec, kind = flow.slots[name], flow.slot_types[name]
        parsed = kind.parse(arguments[name], spec, today)
        if parsed.ok and spec.hours and flow.spec.hours:
            reason = check_hours(kind.name, parsed.value, flow.spec.hours)
            if reason:
                parsed = Parsed(False, error=reason)
        if parsed.ok and not grounded(kind, spec, parsed.value, heard):
            parsed = Parsed(False, error=NOT_SAID)
        if parsed.ok:
            outcome.slots[name] = parsed.value
            kept.append(name)
        else:
            outcome.errors.append(parsed.error)
            refused.append(f"{name} ({parsed.error})")
    intent = arguments.get("intent")
    if isinstance(intent, str) and intent in intents_of(flow, state_name):
        outcome.intent = intent
        kept.append(f"intent {intent}")
    said = f"stored {', '.join(kept)}" if kept else "nothing stored"
    return f"{said}; rejected {', '.join(refused)}" if refused else said


async def extract(
    model: ChatModel,
    flow: CompiledFlow,
    state_name: str,
    transcript: Sequence[Any],
    entered_at: int,
    question: str,
    today: date,
    outcome: ToolOutcome,
) -> AsyncIterator[Part]:
    """Ask the model once to read the caller's answer; the call's bookkeeping events as parts.

    What the model gave, once checked, is in ``outcome``; the model says nothing to the caller.
    """
    extraction = request(flow, state_name, transcript, entered_at, question, today)
    if extraction is None:
        return
    calls: list[ToolCallRequest] = []
    async for event in extraction.send(model):
        if isinstance(event, ToolCallRequest):
            calls.append(event)
    for call in calls[:1]:  # asked once: one answer
        yield ToolCallInvocation(call.id, call.name, call.arguments)
        try:
            arguments = orjson.loads(call.arguments or "{}")
        except orjson.JSONDecodeError:
            arguments = None
        if call.name != EXTRACT_TOOL:
            result = f"rejected: no tool named {call.name!r}"
        else:
            heard = " ".join(u.content for u in transcript if u.role == "user")
            result = read_extraction(flow, state_name, arguments, today, outcome, heard)
        yield ToolCallResult(call.id, result, not result.startswith("rejected"))
