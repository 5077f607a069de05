"""The model: streaming chat completions from any OpenAI-style endpoint, and what it is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.llm.client import ChatModel, Message, OpenAIChatModel, make_client, make_model
    from engine.llm.messages import chat_messages
    from engine.llm.metering import Meter
    from engine.llm.stream import LLMEvent, TextDelta, ToolCallRequest, Usage

__all__ = [
    "ChatModel",
    "LLMEvent",
    "Message",
    "Meter",
    "OpenAIChatModel",
    "TextDelta",
    "ToolCallRequest",
    "Usage",
    "chat_messages",
    "make_client",
    "make_model",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.llm.client": (
            "ChatModel",
            "Message",
            "OpenAIChatModel",
            "make_client",
            "make_model",
        ),
        "engine.llm.messages": ("chat_messages",),
        "engine.llm.metering": ("Meter",),
        "engine.llm.stream": ("LLMEvent", "TextDelta", "ToolCallRequest", "Usage"),
    },
)
