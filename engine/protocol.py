"""The Custom LLM WebSocket protocol: typed inbound and outbound events.

Inbound frames are JSON objects discriminated by ``interaction_type``; outbound ones by
``response_type``. Field names are the platform's, letter for letter. Parsing is deliberately
lenient (unknown fields and event types are tolerated) while encoding is strict: the platform
silently drops an event whose field types are wrong, so every outbound event is built from a
typed class and never from a hand-written dict.

Transcripts are kept as the raw list the platform sent: ``update_only`` frames arrive many times
a second and carry the whole call so far, so they are only turned into :class:`Utterance`
objects when a response actually needs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import orjson

from .errors import ProtocolError

RawTranscript: TypeAlias = Sequence[Mapping[str, Any]]

# ---------------------------------------------------------------------------------------------
# Inbound (platform -> us)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Utterance:
    """One transcript entry: who spoke (``agent``, ``user`` or anything else) and what."""

    role: str
    content: str


@dataclass(frozen=True, slots=True)
class PingPong:
    """Keepalive from the platform; we echo its timestamp."""

    timestamp: int


@dataclass(frozen=True, slots=True)
class CallDetails:
    """The call object, pushed once after open when ``config.call_details`` is on."""

    call: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class UpdateOnly:
    """A transcript update; never answered and never supersedes a request."""

    transcript: RawTranscript
    turntaking: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseRequired:
    """The platform wants the agent to speak (``reminder`` when the caller went quiet)."""

    response_id: int
    transcript: RawTranscript
    reminder: bool = False


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An ``interaction_type`` this version does not know; logged and ignored."""

    interaction_type: str


InboundEvent: TypeAlias = PingPong | CallDetails | UpdateOnly | ResponseRequired | UnknownEvent


def _transcript(data: Mapping[str, Any]) -> RawTranscript:
    transcript = data.get("transcript")
    if transcript is None:
        return ()
    if not isinstance(transcript, list):
        raise ProtocolError("`transcript` is not a list")
    return transcript


def parse_event(frame: str | bytes) -> InboundEvent:
    """Parse one inbound text frame; raise :class:`ProtocolError` when it is not usable."""
    try:
        data = orjson.loads(frame)
    except orjson.JSONDecodeError as exc:
        raise ProtocolError(f"frame is not JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ProtocolError("frame is not a JSON object")
    kind = data.get("interaction_type")
    if kind == "update_only":
        turntaking = data.get("turntaking")
        return UpdateOnly(_transcript(data), turntaking if isinstance(turntaking, str) else None)
    if kind == "response_required" or kind == "reminder_required":
        response_id = data.get("response_id")
        # bool is an int subclass; `true` is not a response id.
        if not isinstance(response_id, int) or isinstance(response_id, bool) or response_id < 0:
            raise ProtocolError(f"{kind} without a usable `response_id`; not answered")
        return ResponseRequired(response_id, _transcript(data), kind == "reminder_required")
    if kind == "ping_pong":
        timestamp = data.get("timestamp")
        if not isinstance(timestamp, int) or isinstance(timestamp, bool):
            raise ProtocolError("ping_pong without an integer `timestamp`")
        return PingPong(timestamp)
    if kind == "call_details":
        call = data.get("call")
        if not isinstance(call, dict):
            raise ProtocolError("call_details without a `call` object")
        return CallDetails(call)
    if not isinstance(kind, str):
        raise ProtocolError("frame has no `interaction_type`")
    return UnknownEvent(kind)


def utterances(transcript: RawTranscript) -> tuple[Utterance, ...]:
    """Turn a raw transcript into utterances, skipping entries that are not usable."""
    result = []
    for item in transcript:
        if not isinstance(item, Mapping):
            continue
        content = item.get("content")
        role = item.get("role")
        if isinstance(content, str) and isinstance(role, str):
            result.append(Utterance(role, content))
    return tuple(result)


# ---------------------------------------------------------------------------------------------
# Outbound (us -> platform)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Actions:
    """What the platform does after a response has been spoken, plus its interruptibility.

    At most one of ``end_call``, ``transfer_number`` and ``digit_to_press`` runs (the platform's
    precedence is that order). ``no_interruption_allowed`` keeps the caller from cutting in.
    """

    end_call: bool = False
    transfer_number: str | None = None
    show_transferee_as_caller: bool = False
    digit_to_press: str | None = None
    no_interruption_allowed: bool = False

    def __or__(self, other: Actions) -> Actions:
        return Actions(
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
        """The wire fields these actions add to a response chunk (only those that are set)."""
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


NO_ACTIONS = Actions()


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
    actions: Actions = NO_ACTIONS

    def to_wire(self) -> dict[str, Any]:
        """The event as a JSON-ready dict."""
        return _speech("response", "response_id", self.response_id, self)


@dataclass(frozen=True, slots=True)
class AgentInterrupt:
    """Unprompted speech that cuts in now; ``interrupt_id`` is ours and increases per call."""

    interrupt_id: int
    content: str
    content_complete: bool = True
    actions: Actions = Actions(no_interruption_allowed=True)

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
    if event.actions:
        out.update(event.actions.fields())
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
