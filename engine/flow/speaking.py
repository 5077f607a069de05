"""The model speaks for a state: its words streamed to the caller, its tool calls checked.

In a ``prompt`` state (and in a ``say`` state with nothing to extract) the model answers the
caller in its own words, guided by the state's prompt; with a :class:`~engine.flow.tools.
ToolTable` it may set slots and choose intents as it speaks, and each call is checked by the
table like anything a caller said.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from engine.agent import Part, Speech, Turn
from engine.llm import ChatModel, ModelRequest, TextDelta, ToolCallRequest
from engine.protocol import ToolCallInvocation, ToolCallResult, Utterance

from . import prompting
from .compile import CompiledFlow
from .memory import CallMemory
from .tools import ToolOutcome, ToolTable


@dataclass(frozen=True, slots=True)
class Streamed(Speech):
    """A later piece of the model's streamed answer: it goes on from the piece before as it is.

    Models split words and punctuation across pieces ("Sure" "," " I" "'ll" " book" "ing"), so
    nothing may be put between two of them. An answer's first piece is plain :class:`Speech`:
    where it meets what was said before, spacing applies (:func:`~engine.flow.effects.spaced`).
    """


def request(
    flow: CompiledFlow,
    state: str,
    view: Mapping[str, Any],
    slots: Mapping[str, Any],
    transcript: Sequence[Utterance],
    entered_at: int,
    table: ToolTable | None,
    prompts: prompting.SystemPrompts | None = None,
) -> ModelRequest:
    """What the model is given to speak in ``state``: the messages, and the table's tools.

    ``prompts``: the call's system prompt as last made (made anew without it).
    """
    offered = table.offered() if table else []
    make = prompts.get if prompts is not None else prompting.system_prompt
    system = make(flow, state, view, slots, with_tools=bool(offered))
    return ModelRequest(prompting.messages(flow, state, system, transcript, entered_at), offered)


async def speak(
    model: ChatModel,
    flow: CompiledFlow,
    memory: CallMemory,
    view: Mapping[str, Any],
    turn: Turn,
    table: ToolTable | None,
    outcome: ToolOutcome | None = None,
    prompts: prompting.SystemPrompts | None = None,
) -> AsyncIterator[Part]:
    """The model's answer in the call's current state, as speech and tool bookkeeping.

    Values the table accepted are in ``outcome``; storing them is the conversation's business.
    """
    asked = request(
        flow, memory.state, view, memory.slots, turn.transcript, memory.entered_at, table,
        prompts,
    )  # fmt: skip
    calls: list[ToolCallRequest] = []
    started = False
    async for event in asked.send(model):
        if isinstance(event, TextDelta):
            yield Streamed(event.text) if started else Speech(event.text)
            started = True
        elif isinstance(event, ToolCallRequest):  # (token counts are the meter's business)
            calls.append(event)
    if table is None or outcome is None:
        return
    for call in calls:
        yield ToolCallInvocation(call.id, call.name, call.arguments)
        result = table.apply(call, outcome)
        yield ToolCallResult(call.id, result, not result.startswith("rejected"))
