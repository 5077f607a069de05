"""Outbound events (us -> platform), discriminated by ``response_type``.

Encoding is strict: the platform silently drops an event whose field types are wrong, so every
outbound event is built from a typed class and never from a hand-written dict, and every frame
is text (a binary frame ends the call).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import orjson


@dataclass(frozen=True, slots=True)
class CallControl:
    """What the platform does with the call after a response is spoken, and its interruptibility.

    At most one of ``end_call``, ``transfer_number`` and ``digit_to_press`` runs (the platform's
    precedence is that order). ``no_interruption_allowed`` keeps the caller from cutting in.
    """

    end_call: bool = False
    transfer_number: str | None = None
    show_transferee_as_caller: bool = False
    digit_to_press: str | None = None
    no_interruption_allowed: bool = False

    def __or__(self, other: CallControl) -> CallControl:
        return CallControl(
            self.end_call or other.end_call,
            other.transfer_number or self.transfer_number,
            self.show_transferee_as_caller or other.show_transferee_as_caller,
            other.digit_to_press or self.digit_to_press,
            self.no_interruption_allowed or other.no_interruption_allowed,
        )

    def __bool__(self) -> bool:
        return bool(
            self.end_call
            or self.transfer_number
            or self.digit_to_press
            or self.no_interruption_allowed
        )

    def fields(self) -> dict[str, Any]:
        """The wire fields this control adds to a speech event (only those that are set)."""
        out: dict[str, Any] = {}
        if self.end_call:
            out["end_call"] = True
        if self.transfer_number:
            out["transfer_number"] = self.transfer_number
            if self.show_transferee_as_caller:
                out["show_transferee_as_caller"] = True
        if self.digit_to_press:
            out["digit_to_press"] = self.digit_to_press
        if self.no_interruption_allowed:
            out["no_interruption_allowed"] = True
        return out


NO_CONTROL = CallControl()


@dataclass(frozen=True, slots=True)
class Config:
    """Connection settings; sent first on every socket."""

    auto_reconnect: bool = True
    call_details: bool = True
    transcript_with_tool_calls: bool = False

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return {
            "response_type": "config",
            "config": {
                "auto_reconnect": self.auto_reconnect,
                "call_details": self.call_details,
                "transcript_with_tool_calls": self.transcript_with_tool_calls,
            },
        }


@dataclass(frozen=True, slots=True)
class Pong:
    """Keepalive echo, carrying the timestamp the platform sent."""

    timestamp: int

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return {"response_type": "ping_pong", "timestamp": self.timestamp}


@dataclass(frozen=True, slots=True)
class ResponseChunk:
    """A piece of what the agent says for request ``response_id`` (0: the begin message)."""

    response_id: int
    content: str
    content_complete: bool = False
    control: CallControl = NO_CONTROL

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return _speech("response", "response_id", self.response_id, self)


@dataclass(frozen=True, slots=True)
class AgentInterrupt:
    """Unprompted speech that cuts in now; ``interrupt_id`` is ours and increases per call."""

    interrupt_id: int
    content: str
    content_complete: bool = True
    control: CallControl = CallControl(no_interruption_allowed=True)

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return _speech("agent_interrupt", "interrupt_id", self.interrupt_id, self)


def _speech(
    kind: str, id_key: str, id_value: int, event: ResponseChunk | AgentInterrupt
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "response_type": kind,
        id_key: id_value,
        "content": event.content,
        "content_complete": event.content_complete,
    }
    if event.control:
        out.update(event.control.fields())
    return out


@dataclass(frozen=True, slots=True)
class ToolCallInvocation:
    """Bookkeeping: a tool of ours started (weaves it into the call transcript)."""

    tool_call_id: str
    name: str
    arguments: str  # stringified JSON, as the platform requires

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return {
            "response_type": "tool_call_invocation",
            "tool_call_id": self.tool_call_id,
            "name": self.name,
            "arguments": self.arguments,
        }


@dataclass(frozen=True, slots=True)
class ToolCallResult:
    """Bookkeeping: a tool of ours returned."""

    tool_call_id: str
    content: str
    successful: bool | None = None

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        out: dict[str, Any] = {
            "response_type": "tool_call_result",
            "tool_call_id": self.tool_call_id,
            "content": self.content,
        }
        if self.successful is not None:
            out["successful"] = self.successful
        return out


_UNIT_RANGE = ("responsiveness", "interruption_sensitivity")


@dataclass(frozen=True, slots=True)
class UpdateAgent:
    """Change turn-taking settings for the rest of the call; values are clamped to range."""

    agent_config: Mapping[str, float | int] = field(default_factory=dict)

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        config: dict[str, float | int] = {}
        for key, value in self.agent_config.items():
            if key in _UNIT_RANGE:
                config[key] = min(1.0, max(0.0, float(value)))
            elif key == "reminder_trigger_ms":
                config[key] = max(1, int(value))
            elif key == "reminder_max_count":
                config[key] = max(0, int(value))
            else:
                config[key] = value
        return {"response_type": "update_agent", "agent_config": config}


@dataclass(frozen=True, slots=True)
class Metadata:
    """Data for a web call's browser client; no effect on the conversation."""

    metadata: Any

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return {"response_type": "metadata", "metadata": self.metadata}


OutboundEvent: TypeAlias = (
    Config
    | Pong
    | ResponseChunk
    | AgentInterrupt
    | ToolCallInvocation
    | ToolCallResult
    | UpdateAgent
    | Metadata
)

SideEvent: TypeAlias = ToolCallInvocation | ToolCallResult | UpdateAgent | Metadata
"""Outbound events a conversation may emit besides speech (they carry no response id)."""


def encode(event: OutboundEvent) -> str:
    """Serialise an outbound event to the text of one frame (never binary: that ends the call)."""
    return orjson.dumps(event.to_wire()).decode()
