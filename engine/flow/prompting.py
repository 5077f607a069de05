"""What the model is shown in a flow state: the system prompt and the transcript it sees.

The system prompt is the flow's persona, then the state's prompt (or, in a ``say`` state, its
line as what to convey), the slots known so far, and how to use the tools when any are offered.
A state with ``context: state`` shows the model only what was said since the call entered it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from engine.llm import Message, chat_messages
from engine.protocol import Utterance
from engine.templates import render

from .compile import CompiledFlow

TOOL_GUIDE = (
    "Use the set_ tools to record what the caller told you, and the intent_ tools when the "
    "caller clearly wants one of those things. Speak in short plain sentences for the phone: "
    "no lists, markdown or symbols."
)


def system_prompt(
    flow: CompiledFlow,
    state: str,
    view: Mapping[str, Any],
    slots: Mapping[str, Any],
    *,
    with_tools: bool,
) -> str:
    """The system prompt for the model speaking in ``state``."""
    spec = flow.state(state)
    parts = []
    if flow.spec.persona:
        parts.append(render(flow.prompt(flow.spec.persona), view))
    if spec.prompt:
        parts.append(render(flow.prompt(spec.prompt), view))
    elif spec.say is not None:
        line = render(flow.template("states", state, "say"), view)
        parts.append(f"Your line in this step of the call is: {line}")
    known = {name: value for name, value in slots.items() if value is not None}
    if known:
        parts.append("Known so far: " + orjson.dumps(known, default=str).decode())
    if with_tools:
        parts.append(TOOL_GUIDE)
    return "\n\n".join(parts)


class SystemPrompts:
    """One call's system prompt, made again only when what it is made from changes.

    A call mostly stays in a state for several turns and learns nothing new in them: the
    persona and the state's prompt would be rendered from the same view every turn. An
    edited prompt file reaches new calls, and a call in progress when its view next changes.
    """

    def __init__(self) -> None:
        self._made: tuple[CompiledFlow, tuple[Any, ...], str] | None = None

    def get(
        self,
        flow: CompiledFlow,
        state: str,
        view: Mapping[str, Any],
        slots: Mapping[str, Any],
        *,
        with_tools: bool,
    ) -> str:
        """:func:`system_prompt`, or the same text again if nothing it depends on changed."""
        key = (state, view, dict(slots), with_tools)
        if self._made is not None and self._made[0] is flow and self._made[1] == key:
            return self._made[2]
        text = system_prompt(flow, state, view, slots, with_tools=with_tools)
        self._made = (flow, key, text)
        return text


def messages(
    flow: CompiledFlow,
    state: str,
    system: str,
    transcript: Sequence[Utterance],
    entered_at: int,
) -> Sequence[Message]:
    """The chat messages: ``system``, then the transcript the state's context policy shows."""
    if flow.state(state).context == "state":
        transcript = transcript[entered_at:]
    return chat_messages(system, transcript)
