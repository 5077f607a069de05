"""The model: streaming chat completions from any OpenAI-style endpoint, and what it is shown."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.llm.client import OpenAIChatModel, make_client, make_model
    from engine.llm.events import LLMEvent, TextDelta, ToolCallRequest, Usage
    from engine.llm.messages import chat_messages
    from engine.llm.metering import Meter
    from engine.llm.model import ChatModel, Message, model_configured
    from engine.llm.request import ModelRequest, RecordingModel

__all__ = [
    "ChatModel",
    "LLMEvent",
    "Message",
    "Meter",
    "ModelRequest",
    "OpenAIChatModel",
    "RecordingModel",
    "TextDelta",
    "ToolCallRequest",
    "Usage",
    "chat_messages",
    "make_client",
    "make_model",
    "model_configured",
]

# Only OpenAIChatModel, make_client and make_model load the openai package.
__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.llm.client": ("OpenAIChatModel", "make_client", "make_model"),
        "engine.llm.events": ("LLMEvent", "TextDelta", "ToolCallRequest", "Usage"),
        "engine.llm.messages": ("chat_messages",),
        "engine.llm.metering": ("Meter",),
        "engine.llm.model": ("ChatModel", "Message", "model_configured"),
        "engine.llm.request": ("ModelRequest", "RecordingModel"),
    },
)
