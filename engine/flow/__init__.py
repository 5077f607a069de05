"""Flows: YAML call flows checked into specs, compiled once, and the calls that run through them.

Reading order: :mod:`~engine.flow.spec` (the format), :mod:`~engine.flow.load` (every check
before a call), :mod:`~engine.flow.compile` and :mod:`~engine.flow.registry` (what calls run),
:mod:`~engine.flow.conversation` (a call, turn by turn: :mod:`~engine.flow.decide` plans,
:mod:`~engine.flow.effects` acts, :mod:`~engine.flow.memory` remembers).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.flow.actions import ActionError, ActionRegistry, ActionRunner
    from engine.flow.agent import FlowAgent
    from engine.flow.compile import CompiledFlow, compile_flow
    from engine.flow.conversation import FlowConversation
    from engine.flow.load import load_flow
    from engine.flow.memory import CallMemory
    from engine.flow.parse import LoadedFlow, flow_files
    from engine.flow.plugins import Extensions, Plugin
    from engine.flow.registry import FlowRegistry
    from engine.flow.runner import AgentReply, FlowRunner
    from engine.flow.services import FlowServices
    from engine.flow.slots import BaseSlotType, Parsed, SlotType, SlotTypes
    from engine.flow.spec import Flow, SlotSpec
    from engine.flow.stub_actions import Stub, StubActionRunner, StubbedCall, stub_runners

__all__ = [
    "ActionError",
    "ActionRegistry",
    "ActionRunner",
    "AgentReply",
    "BaseSlotType",
    "CallMemory",
    "CompiledFlow",
    "Extensions",
    "Flow",
    "FlowAgent",
    "FlowConversation",
    "FlowRegistry",
    "FlowRunner",
    "FlowServices",
    "LoadedFlow",
    "Parsed",
    "Plugin",
    "SlotSpec",
    "SlotType",
    "SlotTypes",
    "Stub",
    "StubActionRunner",
    "StubbedCall",
    "compile_flow",
    "flow_files",
    "load_flow",
    "stub_runners",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.flow.actions": ("ActionError", "ActionRegistry", "ActionRunner"),
        "engine.flow.agent": ("FlowAgent",),
        "engine.flow.compile": ("CompiledFlow", "compile_flow"),
        "engine.flow.conversation": ("FlowConversation",),
        "engine.flow.load": ("load_flow",),
        "engine.flow.memory": ("CallMemory",),
        "engine.flow.parse": ("LoadedFlow", "flow_files"),
        "engine.flow.plugins": ("Extensions", "Plugin"),
        "engine.flow.registry": ("FlowRegistry",),
        "engine.flow.runner": ("AgentReply", "FlowRunner"),
        "engine.flow.services": ("FlowServices",),
        "engine.flow.slots": ("BaseSlotType", "Parsed", "SlotType", "SlotTypes"),
        "engine.flow.spec": ("Flow", "SlotSpec"),
        "engine.flow.stub_actions": ("Stub", "StubActionRunner", "StubbedCall", "stub_runners"),
    },
)
