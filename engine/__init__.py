"""dialplan: scripted voice agents for the UponAI (Retell-compatible) Custom LLM WebSocket.

The public API, grouped:

* Running a server: :func:`create_app`, :class:`Settings`, :class:`Project`.
* Flows: :class:`Flow` (the file format), :class:`SlotSpec`, :class:`FlowRegistry`,
  :class:`FlowAgent`, :class:`FlowRunner` (a flow in-process, turn by turn).
* Plugins: :class:`Plugin` (a module's actions and slot types), :class:`BaseSlotType`,
  :class:`Parsed`. The test kit is :mod:`engine.testing`.
* Writing an agent: :class:`Agent`, :class:`Conversation`, :class:`CallInfo`, :class:`Turn`,
  :class:`Speech`, :class:`Greeting`, :class:`CallControl`, :data:`Part`; for the call log
  :class:`Recorded`, :class:`TurnTrace`, :class:`CallSummary`.
* Call records: :class:`CallRecord`, :class:`Database` (the call log, read and written).
* Models: :class:`ChatModel`, :class:`OpenAIChatModel`, :class:`TextDelta`,
  :class:`ToolCallRequest`.
* Errors: :class:`DialplanError` and its branches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

__version__ = "0.1.0"

if TYPE_CHECKING:
    from engine.agent import (
        Agent,
        CallInfo,
        CallSummary,
        Conversation,
        Greeting,
        Part,
        Recorded,
        Speech,
        Turn,
        TurnTrace,
    )
    from engine.errors import (
        AuthoringError,
        AuthoringErrors,
        DialplanError,
        LLMError,
        LLMTimeout,
        ProtocolError,
        RuntimeFault,
        TemplateError,
    )
    from engine.flow import (
        BaseSlotType,
        Flow,
        FlowAgent,
        FlowRegistry,
        FlowRunner,
        Parsed,
        Plugin,
        SlotSpec,
    )
    from engine.llm import ChatModel, OpenAIChatModel, TextDelta, ToolCallRequest
    from engine.project import Project
    from engine.protocol import CallControl
    from engine.records import CallRecord, Database
    from engine.server import create_app
    from engine.settings import Settings

__all__ = [
    "Agent",
    "AuthoringError",
    "AuthoringErrors",
    "BaseSlotType",
    "CallControl",
    "CallInfo",
    "CallRecord",
    "CallSummary",
    "ChatModel",
    "Conversation",
    "Database",
    "DialplanError",
    "Flow",
    "FlowAgent",
    "FlowRegistry",
    "FlowRunner",
    "Greeting",
    "LLMError",
    "LLMTimeout",
    "OpenAIChatModel",
    "Parsed",
    "Part",
    "Plugin",
    "Project",
    "ProtocolError",
    "Recorded",
    "RuntimeFault",
    "Settings",
    "SlotSpec",
    "Speech",
    "TemplateError",
    "TextDelta",
    "ToolCallRequest",
    "Turn",
    "TurnTrace",
    "create_app",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.agent": (
            "Agent",
            "CallInfo",
            "CallSummary",
            "Conversation",
            "Greeting",
            "Part",
            "Recorded",
            "Speech",
            "Turn",
            "TurnTrace",
        ),
        "engine.errors": (
            "AuthoringError",
            "AuthoringErrors",
            "DialplanError",
            "LLMError",
            "LLMTimeout",
            "ProtocolError",
            "RuntimeFault",
            "TemplateError",
        ),
        "engine.flow": (
            "BaseSlotType",
            "Flow",
            "FlowAgent",
            "FlowRegistry",
            "FlowRunner",
            "Parsed",
            "Plugin",
            "SlotSpec",
        ),
        "engine.llm": ("ChatModel", "OpenAIChatModel", "TextDelta", "ToolCallRequest"),
        "engine.project": ("Project",),
        "engine.protocol": ("CallControl",),
        "engine.records": ("CallRecord", "Database"),
        "engine.server": ("create_app",),
        "engine.settings": ("Settings",),
    },
)
