"""One request to the model, as data: the messages, the tools offered, and a forced tool.

The engine builds every request it sends as a :class:`ModelRequest` (where the model speaks:
:func:`engine.flow.speaking.request`; where it only reads an answer:
:func:`engine.flow.extraction.request`), so ``dialplan prompt`` and the chat's ``/prompt`` show
the very request a call sends, and :class:`RecordingModel` keeps the last one sent.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from .events import LLMEvent
from .model import ChatModel, Message

CHARACTERS_PER_TOKEN = 4
"""The estimate of :meth:`ModelRequest.estimated_tokens`: OpenAI's rule of thumb for English
(about four characters a token), applied to the request's JSON. Tokenizers differ by model;
this is for judging the size of a prompt, not for billing."""


@dataclass(frozen=True)
class ModelRequest:
    """The chat-completions fields the engine decides: ``messages``, ``tools``, ``tool_choice``.

    The model's name, streaming and sampling settings are the client's (the same for every
    request of a server).
    """

    messages: Sequence[Message]
    tools: Sequence[Message] = field(default_factory=tuple)
    tool_choice: Message | str | None = None

    def body(self) -> dict[str, Any]:
        """The fields as they go into the request's JSON body (empty ones left out)."""
        body: dict[str, Any] = {"messages": [dict(message) for message in self.messages]}
        if self.tools:
            body["tools"] = [dict(tool) for tool in self.tools]
            if self.tool_choice is not None:
                body["tool_choice"] = self.tool_choice
        return body

    def estimated_tokens(self) -> int:
        """About how many tokens the model reads: see :data:`CHARACTERS_PER_TOKEN`."""
        characters = len(orjson.dumps(self.body()).decode())
        return -(-characters // CHARACTERS_PER_TOKEN)

    def send(self, model: ChatModel) -> AsyncIterator[LLMEvent]:
        """Stream ``model``'s answer to this request."""
        return model.stream(self.messages, self.tools or None, tool_choice=self.tool_choice)


class RecordingModel:
    """A :class:`ChatModel` that passes every request on and keeps the last one (``last``)."""

    def __init__(self, model: ChatModel) -> None:
        self.model = model
        self.last: ModelRequest | None = None

    def stream(
        self,
        messages: Sequence[Message],
        tools: Sequence[Message] | None = None,
        *,
        tool_choice: Message | str | None = None,
    ) -> AsyncIterator[LLMEvent]:
        """Keep the request, then stream the wrapped model's answer to it."""
        self.last = ModelRequest(list(messages), list(tools or ()), tool_choice)
        return self.model.stream(messages, tools, tool_choice=tool_choice)
