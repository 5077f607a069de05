"""The model: streaming chat completions from any OpenAI-style endpoint, and what it is shown."""

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
