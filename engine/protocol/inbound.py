"""Inbound frames (platform -> us): typed events discriminated by ``interaction_type``.

Parsing is deliberately lenient: unknown fields and event types are tolerated, because the
platform adds fields over time and the docs' own samples carry strays. Transcripts are kept as
the raw JSON the platform sent (:class:`Transcript`): ``update_only`` frames arrive many times a
second and carry the whole call so far, so they are decoded only when something reads them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import msgspec
import orjson

from engine.errors import ProtocolError


class Utterance(msgspec.Struct, frozen=True):
    """One transcript entry: who spoke (``agent``, ``user`` or anything else) and what."""

    role: str
    content: str


_UTTERANCES = msgspec.json.Decoder(tuple[Utterance, ...])

Span: TypeAlias = tuple[float | None, float | None]
"""When an utterance was said: its first word's start and last word's end, in seconds from
the start of the call (``None`` where the platform sent no word timings)."""


class _Word(msgspec.Struct):
    start: float | None = None
    end: float | None = None


class _Timed(msgspec.Struct):
    role: str
    content: str
    words: list[_Word] = msgspec.field(default_factory=list)


_TIMED = msgspec.json.Decoder(tuple[_Timed, ...])


class Transcript:
    """A transcript as the platform sent it, decoded only as far as someone asks.

    Frames carry the whole call so far, word timings included, many times a second; most of
    them (``update_only``) are never read by the agent. So a frame keeps its transcript as raw
    JSON; :meth:`utterances` decodes just roles and texts (skipping word timings without
    building them), and :meth:`entries` the full entries, once each, when they are needed.
    """

    __slots__ = ("_entries", "_raw", "_spans", "_utterances")

    def __init__(self, raw: bytes = b"[]") -> None:
        self._raw = raw
        self._utterances: tuple[Utterance, ...] | None = None
        self._entries: list[Any] | None = None
        self._spans: tuple[Span, ...] | None = None

    @classmethod
    def of(cls, entries: Sequence[Mapping[str, Any]]) -> Transcript:
        """A transcript from entries already decoded (tests, other sources)."""
        return cls(orjson.dumps(list(entries)))

    def utterances(self) -> tuple[Utterance, ...]:
        """Who said what, in order; entries without a text role and content are skipped."""
        if self._utterances is None:
            try:
                self._utterances = _UTTERANCES.decode(self._raw)
            except msgspec.ValidationError:  # odd entries: keep the usable ones
                self._utterances = utterances(self.entries())
            except RecursionError:
                # Parsed whole by :func:`parse_event`, but decoded here from deeper in the
                # stack: the same frame can reach the limit now. Nothing in it is usable.
                self._utterances = ()
        return self._utterances

    def spans(self) -> tuple[Span, ...]:
        """When each of :meth:`utterances` was said, from the platform's word timings.

        Decodes only the timings (no word texts), once; read when a call is recorded or
        saved, never per frame.
        """
        if self._spans is None:
            try:
                timed = _TIMED.decode(self._raw)
                self._spans = tuple(_span(t.words) for t in timed)
            except (msgspec.ValidationError, RecursionError):  # odd entries: the usable ones
                self._spans = tuple(
                    _span_of(item.get("words"))
                    for item in self.entries()
                    if isinstance(item, Mapping)
                    and isinstance(item.get("content"), str)
                    and isinstance(item.get("role"), str)
                )
        return self._spans

    def entries(self) -> list[Any]:
        """The entries as the platform sent them (word timings and metadata included)."""
        if self._entries is None:
            try:
                decoded = orjson.loads(self._raw)
            except orjson.JSONDecodeError:  # deeper than orjson's limit (1024 levels)
                decoded = []
            self._entries = decoded if isinstance(decoded, list) else []
        return self._entries

    def __len__(self) -> int:
        return len(self.utterances())

    def __repr__(self) -> str:
        return f"Transcript({len(self._raw)} bytes)"


RawTranscript: TypeAlias = Transcript
"""What ``update_only`` hands to a conversation: a transcript decoded on demand."""


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

    transcript: Transcript
    turntaking: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseRequired:
    """The platform wants the agent to speak (``reminder`` when the caller went quiet)."""

    response_id: int
    transcript: Transcript
    reminder: bool = False


@dataclass(frozen=True, slots=True)
class UnknownEvent:
    """An ``interaction_type`` this version does not know; logged and ignored."""

    interaction_type: str


InboundEvent: TypeAlias = PingPong | CallDetails | UpdateOnly | ResponseRequired | UnknownEvent


class _Frame(msgspec.Struct):
    """The fields we read of an inbound frame; anything else is skipped, not built."""

    interaction_type: Any = None
    response_id: Any = None
    timestamp: Any = None
    transcript: msgspec.Raw = msgspec.Raw(b"null")
    turntaking: Any = None
    call: Any = None


_FRAME = msgspec.json.Decoder(_Frame)


def _transcript(frame: _Frame) -> Transcript:
    raw = bytes(frame.transcript)
    if raw == b"null":
        return Transcript()
    if raw[:1] != b"[":
        raise ProtocolError("`transcript` is not a list")
    return Transcript(raw)


WIRE_INT = range(-(2**63), 2**63)
"""The integers a frame may carry as ids and timestamps: what any JSON peer can take back."""


def _wire_int(value: object) -> bool:
    # bool is an int subclass: `true` is no number here.
    return isinstance(value, int) and not isinstance(value, bool) and value in WIRE_INT


def wire_ints(value: Any) -> Any:
    """``value`` (JSON-like data) with integers outside :data:`WIRE_INT` as their text.

    Call details are whatever the call's creator put in them; a number no JSON or MessagePack
    encoder takes would otherwise fail every record, save and page of the call.
    """
    if isinstance(value, dict):
        return {key: wire_ints(item) for key, item in value.items()}
    if isinstance(value, list):
        return [wire_ints(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool) and value not in WIRE_INT:
        return str(value)
    return value


MAX_DETAILS_DEPTH = 32
"""How deeply the ``call`` of ``call_details`` may nest: far beyond any real call object, and
well within what the call log's JSON encoder takes (orjson stops at 254 levels)."""


def _nested_within(value: object, limit: int) -> bool:
    """Whether ``value`` (decoded JSON) nests no deeper than ``limit``.

    Iterative, so that a deep value cannot exhaust the stack here either.
    """
    stack: list[tuple[object, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return False
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return True


def parse_event(frame: str | bytes) -> InboundEvent:
    """Parse one inbound text frame; raise :class:`ProtocolError` when it is not usable."""
    try:
        data = _FRAME.decode(frame)
    except msgspec.ValidationError:
        raise ProtocolError("frame is not a JSON object") from None
    except msgspec.DecodeError as exc:
        raise ProtocolError(f"frame is not JSON ({exc})") from None
    except RecursionError:
        # The decoder walks every value, skipped ones too; a frame nested a thousand levels
        # deep reaches its limit. Malformed for us: refused, and the call goes on.
        raise ProtocolError("frame is nested too deeply") from None
    kind = data.interaction_type
    if kind == "update_only":
        turntaking = data.turntaking
        return UpdateOnly(_transcript(data), turntaking if isinstance(turntaking, str) else None)
    if kind == "response_required" or kind == "reminder_required":
        response_id = data.response_id
        # 0 is our begin message's.
        if not _wire_int(response_id) or response_id < 1:
            raise ProtocolError(f"{kind} without a usable `response_id`; not answered")
        return ResponseRequired(response_id, _transcript(data), kind == "reminder_required")
    if kind == "ping_pong":
        timestamp = data.timestamp
        if not _wire_int(timestamp):
            raise ProtocolError("ping_pong without a 64-bit integer `timestamp`")
        return PingPong(timestamp)
    if kind == "call_details":
        call = data.call
        if not isinstance(call, dict):
            raise ProtocolError("call_details without a `call` object")
        if not _nested_within(call, MAX_DETAILS_DEPTH):
            # Kept whole in the call's record and saves: too deep, and none of them is written.
            raise ProtocolError(f"call_details nested more than {MAX_DETAILS_DEPTH} levels deep")
        return CallDetails(wire_ints(call))
    if not isinstance(kind, str):
        raise ProtocolError("frame has no `interaction_type`")
    return UnknownEvent(kind)


def _span(words: Sequence[_Word]) -> Span:
    if not words:
        return (None, None)
    return (words[0].start, words[-1].end)


def _span_of(words: object) -> Span:
    """:func:`_span` of words as decoded JSON (anything unusable: no timing)."""
    if not isinstance(words, list) or not words:
        return (None, None)
    first, last = words[0], words[-1]
    start = first.get("start") if isinstance(first, Mapping) else None
    end = last.get("end") if isinstance(last, Mapping) else None
    number = (int, float)
    return (
        float(start) if isinstance(start, number) and not isinstance(start, bool) else None,
        float(end) if isinstance(end, number) and not isinstance(end, bool) else None,
    )


def utterances(transcript: Sequence[Any]) -> tuple[Utterance, ...]:
    """Utterances of decoded transcript entries, skipping entries that are not usable."""
    result = []
    for item in transcript:
        if not isinstance(item, Mapping):
            continue
        content = item.get("content")
        role = item.get("role")
        if isinstance(content, str) and isinstance(role, str):
            result.append(Utterance(role, content))
    return tuple(result)
