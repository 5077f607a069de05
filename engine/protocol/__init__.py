"""The wire: the Custom LLM WebSocket protocol's events, with the platform's exact field names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.protocol.call_ids import CALL_ID_RULE, MAX_CALL_ID, call_id_problem
    from engine.protocol.inbound import (
        CallDetails,
        InboundEvent,
        PingPong,
        RawTranscript,
        ResponseRequired,
        Transcript,
        UnknownEvent,
        UpdateOnly,
        Utterance,
        parse_event,
        utterances,
        wire_ints,
    )
    from engine.protocol.outbound import (
        NO_CONTROL,
        AgentInterrupt,
        CallControl,
        Config,
        Metadata,
        OutboundEvent,
        Pong,
        ResponseChunk,
        SideEvent,
        ToolCallInvocation,
        ToolCallResult,
        UpdateAgent,
        encode,
    )

__all__ = [
    "CALL_ID_RULE",
    "MAX_CALL_ID",
    "NO_CONTROL",
    "AgentInterrupt",
    "CallControl",
    "CallDetails",
    "Config",
    "InboundEvent",
    "Metadata",
    "OutboundEvent",
    "PingPong",
    "Pong",
    "RawTranscript",
    "ResponseChunk",
    "ResponseRequired",
    "SideEvent",
    "ToolCallInvocation",
    "ToolCallResult",
    "Transcript",
    "UnknownEvent",
    "UpdateAgent",
    "UpdateOnly",
    "Utterance",
    "call_id_problem",
    "encode",
    "parse_event",
    "utterances",
    "wire_ints",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.protocol.call_ids": ("CALL_ID_RULE", "MAX_CALL_ID", "call_id_problem"),
        "engine.protocol.inbound": (
            "CallDetails",
            "InboundEvent",
            "PingPong",
            "RawTranscript",
            "ResponseRequired",
            "Transcript",
            "UnknownEvent",
            "UpdateOnly",
            "Utterance",
            "parse_event",
            "utterances",
            "wire_ints",
        ),
        "engine.protocol.outbound": (
            "NO_CONTROL",
            "AgentInterrupt",
            "CallControl",
            "Config",
            "Metadata",
            "OutboundEvent",
            "Pong",
            "ResponseChunk",
            "SideEvent",
            "ToolCallInvocation",
            "ToolCallResult",
            "UpdateAgent",
            "encode",
        ),
    },
)
