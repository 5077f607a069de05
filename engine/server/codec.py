"""A call's state as bytes for a shared store, and back: compact MessagePack via msgspec.

What is written is everything a call needs to go on in another process and to be recorded
whole there: the call (id, URL flow, query, details), whether the greeting was spoken, the
interrupt ids used, the last ``update_agent`` settings, how many sockets it had, when it
started, its last transcript (roles and words, and when each line was said, without word
timings), who ended it, when its last socket closed, whether its record was written, and its
conversation's snapshot (:class:`~engine.agent.Persistent`). Turn records are encoded one by
one, so that each save appends only the new ones.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from engine.agent import CallInfo, snapshot_of
from engine.protocol import Transcript, wire_ints
from engine.records import TurnRecord

from .store import CallState, Revive

FORMAT = 1

# Values a conversation or an action keeps that MessagePack has no type for (a Decimal, a
# custom object) are written as their text: a moved call sees what a webhook would have seen.
_encoder = msgspec.msgpack.Encoder(enc_hook=str)
_decoder = msgspec.msgpack.Decoder()


def _pack(value: Any) -> bytes:
    try:
        return _encoder.encode(value)
    except OverflowError:
        # An integer beyond 64 bits (call details and metadata come from outside and may
        # hold one) is written as its text, like the values MessagePack has no type for.
        return _encoder.encode(wire_ints(msgspec.to_builtins(value, enc_hook=str)))


class DecodeError(ValueError):
    """Stored bytes that are not a call state of this format."""


def encode_state(state: CallState) -> bytes:
    """The call state (its turns apart), as bytes."""
    call = state.call
    return _pack(
        {
            "format": FORMAT,
            "call": {
                "id": call.call_id,
                "flow": call.flow,
                "query": dict(call.query),
                "details": dict(call.details),
            },
            "greeted": state.greeted,
            "interrupt_id": state.interrupt_id,
            "agent_config": state.agent_config,
            "connections": state.connections,
            "started_at": state.started_at,
            "transcript": _lines(state.transcript),
            "ended_by": state.ended_by,
            "transfer_number": state.transfer_number,
            "recorded": state.recorded,
            "closed_at": state.closed_at,
            "conversation": snapshot_of(state.conversation),
        }
    )


def _lines(transcript: Transcript) -> list[list[Any]]:
    """Each utterance as ``[role, content]``, or ``[role, content, start, end]`` if timed.

    The record needs when each line was said, not every word's timing.
    """
    spans = transcript.spans()
    lines: list[list[Any]] = []
    for index, utterance in enumerate(transcript.utterances()):
        start, end = spans[index] if index < len(spans) else (None, None)
        timing = [start, end] if start is not None or end is not None else []
        lines.append([utterance.role, utterance.content, *timing])
    return lines


def _entry(role: str, content: str, start: float | None = None, end: float | None = None) -> Any:
    """A transcript entry of :func:`_lines`; a timed one keeps its span as one word."""
    if start is None and end is None:
        return {"role": role, "content": content}
    return {"role": role, "content": content, "words": [{"start": start, "end": end}]}


def encode_turn(turn: TurnRecord) -> bytes:
    """One turn record, as bytes."""
    return _pack(turn.model_dump(mode="json"))


def decode_state(blob: bytes, turns: Sequence[bytes], revive: Revive) -> CallState:
    """A call state from :func:`encode_state` and its turns; ``revive`` makes its conversation.

    Raises :class:`DecodeError` for bytes of another format; whatever ``revive`` raises for a
    snapshot it cannot use is left to the caller.
    """
    try:
        data: dict[str, Any] = _decoder.decode(blob)
        if data.get("format") != FORMAT:
            raise DecodeError(f"a call state of format {data.get('format')!r}")
        fields = data["call"]
        call = CallInfo(
            call_id=str(fields["id"]),
            flow=fields.get("flow"),
            query=dict(fields.get("query") or {}),
            details=dict(fields.get("details") or {}),
        )
        records = [TurnRecord.model_validate(_decoder.decode(turn)) for turn in turns]
        transcript = Transcript.of([_entry(*line) for line in data["transcript"]])
    except (msgspec.DecodeError, KeyError, TypeError, ValueError) as exc:
        raise DecodeError(f"a damaged call state ({type(exc).__name__}: {exc})") from None
    state = CallState(
        call,
        revive(call, data.get("conversation")),
        greeted=bool(data.get("greeted")),
        interrupt_id=int(data.get("interrupt_id") or 0),
        agent_config=dict(data.get("agent_config") or {}),
        connections=int(data.get("connections") or 0),
        started_at=float(data.get("started_at") or 0.0),
        transcript=transcript,
        turns=records,
        ended_by=data.get("ended_by"),
        transfer_number=data.get("transfer_number"),
        recorded=int(data.get("recorded", -1)),
        closed_at=data.get("closed_at"),
    )
    if call.details:
        state.details_arrived.set()
    return state
