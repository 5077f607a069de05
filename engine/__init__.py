"""dialplan: scripted voice agents for the UponAI (Retell-compatible) Custom LLM WebSocket.

The public API, grouped:

* Running a server: :func:`create_app`, :class:`Settings`.
* Writing an agent: :class:`Agent`, :class:`Conversation`, :class:`CallInfo`, :class:`Turn`,
  :class:`Speech`, :class:`Greeting`, :class:`Actions`, :data:`Part`.
* Models: :class:`ChatModel`, :class:`OpenAIChatModel`, :class:`TextDelta`,
  :class:`ToolCallRequest`.
* Errors: :class:`DialplanError` and its branches.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .agent import Agent, CallInfo, Conversation, Greeting, Part, Speech, Turn
from .errors import (
    AuthoringError,
    AuthoringErrors,
    DialplanError,
    LLMError,
    LLMTimeout,
    ProtocolError,
    RuntimeFault,
    TemplateError,
)
from .llm import ChatModel, OpenAIChatModel, TextDelta, ToolCallRequest
from .protocol import Actions
from .server import create_app
from .settings import Settings

__all__ = [
    "Actions",
    "Agent",
    "AuthoringError",
    "AuthoringErrors",
    "CallInfo",
    "ChatModel",
    "Conversation",
    "DialplanError",
    "Greeting",
    "LLMError",
    "LLMTimeout",
    "OpenAIChatModel",
    "Part",
    "ProtocolError",
    "RuntimeFault",
    "Settings",
    "Speech",
    "TemplateError",
    "TextDelta",
    "ToolCallRequest",
    "Turn",
    "create_app",
]
