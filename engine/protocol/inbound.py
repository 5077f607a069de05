"""Inbound frames (platform -> us): typed events discriminated by ``interaction_type``.

Parsing is deliberately lenient: unknown fields and event types are tolerated, because the
platform adds fields over time and the docs' own samples carry strays. Transcripts are kept as
the raw list the platform sent: ``update_only`` frames arrive many times a second and carry the
whole call so far, so they are only turned into :class:`Utterance` objects when a response
actually needs them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import orjson

from engine.errors import ProtocolError

RawTranscript: TypeAlias = Sequence[Mapping[str, Any]]


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
        # bool is an int subclass; `true` is not a response id. 0 is our begin message's.
        if not isinstance(response_id, int) or isinstance(response_id, bool) or response_id < 1:
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
