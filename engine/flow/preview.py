"""What the model would be given in a state, without a call: ``dialplan prompt``.

The request is built by the code a call runs (:func:`engine.flow.speaking.request`,
:func:`engine.flow.extraction.request`, the state's :class:`~engine.flow.tools.ToolTable`),
chosen as a turn chooses it (:func:`engine.flow.extraction.reads_answer`), so what it shows
cannot drift from what a call sends. Only the call is made up: the slots and call details given,
and a transcript of the state's line and the caller's words, as if the call had just entered
the state and the caller had answered.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

from engine.agent import CallInfo
from engine.llm import ModelRequest
from engine.protocol import Utterance

from . import effects, extraction, speaking
from .compile import CompiledFlow
from .tools import ToolTable
from .view import template_view

CALLER = "(what the caller says)"
"""The caller's words in a preview when none are given."""


@dataclass(frozen=True)
class Preview:
    """The request of one state, and what the model does with it there."""

    state: str
    kind: Literal["reads", "speaks"]  # reads the caller's answer (a fixed line), or speaks
    request: ModelRequest


def preview(
    flow: CompiledFlow,
    state: str,
    slots: Mapping[str, Any],
    call: CallInfo,
    today: date,
    said: str = CALLER,
) -> Preview:
    """The request the model gets when the caller answers ``said`` in ``state``.

    In a fixed-line state with something to read, that is the extraction, forced to call
    ``record_answer``; elsewhere the model speaks, with the state's tools. Raises
    :class:`~engine.errors.TemplateError` (with its file and line) when a template cannot be
    rendered with these slots and call details.
    """
    filled = dict(slots)
    view = template_view(flow, state, filled, call)
    line = effects.line(flow, state, "say", view)
    transcript = [Utterance("agent", line)] if line else []
    transcript.append(Utterance("user", said))
    if extraction.reads_answer(flow, state):
        asked = extraction.asked(line)
        request = extraction.request(flow, state, transcript, 0, asked, today)
        assert request is not None  # reads_answer: there is something to read
        return Preview(state, "reads", request)
    table = ToolTable(flow, flow.state(state), filled, today, said)
    return Preview(
        state, "speaks", speaking.request(flow, state, view, filled, transcript, 0, table)
    )
