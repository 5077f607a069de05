"""dialplan: scripted voice agents for the UponAI (Retell-compatible) Custom LLM WebSocket.

The public API, grouped:

* Running a server: :func:`create_app`, :class:`Settings`.
* Flows: :class:`Flow` (the file format), :func:`load_flow`, :class:`FlowRegistry`,
  :class:`FlowAgent`, :func:`action` (register a Python action), :class:`SlotSpec`,
  :func:`register_slot_type`. The test kit is :mod:`engine.testing`.
* Writing an agent: :class:`Agent`, :class:`Conversation`, :class:`CallInfo`, :class:`Turn`,
  :class:`Speech`, :class:`Greeting`, :class:`Actions`, :data:`Part`.
* Models: :class:`ChatModel`, :class:`OpenAIChatModel`, :class:`TextDelta`,
  :class:`ToolCallRequest`.
* Errors: :class:`DialplanError` and its branches.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .actions import action
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
from .flows import FlowAgent, FlowRegistry
from .llm import ChatModel, OpenAIChatModel, TextDelta, ToolCallRequest
from .loader import load_flow
from .protocol import Actions
from .server import create_app
from .settings import Settings
from .slots import SlotSpec, register_slot_type
from .spec import Flow

__all__ = [
    "Actions",
    "Agent",
    "AuthoringError",
    "AuthoringErrors",
    "CallInfo",
    "ChatModel",
    "Conversation",
    "DialplanError",
    "Flow",
    "FlowAgent",
    "FlowRegistry",
    "Greeting",
    "LLMError",
    "LLMTimeout",
    "OpenAIChatModel",
    "Part",
    "ProtocolError",
    "RuntimeFault",
    "Settings",
    "SlotSpec",
    "Speech",
    "TemplateError",
    "TextDelta",
    "ToolCallRequest",
    "Turn",
    "action",
    "create_app",
    "load_flow",
    "register_slot_type",
]
