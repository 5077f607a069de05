"""The narrow interface between the call server and whatever decides what the agent says.

The server knows the wire protocol, sockets, response ids and deadlines; an :class:`Agent`
knows the conversation. For every call the server asks the agent for a :class:`Conversation`,
then per turn hands it a :class:`Turn` and streams back the :data:`Part` items it yields:
speech as it is produced, :class:`~engine.protocol.CallControl` (hang up, transfer, press
digits, not interruptible) and bookkeeping events. The single-prompt agent and the flow engine
are both agents; neither touches a socket.

For the call log a conversation may also say what it did (:class:`Recorded`): a
:class:`TurnTrace` after each turn and a :class:`CallSummary` of the whole call. These are
plain records, so the server can keep them without knowing how the agent works.

For calls that move between processes (a shared call store), a conversation may be
:class:`Persistent` (it says what it remembers as plain data) and its agent
:class:`Resumable` (it rebuilds a conversation from that data on another process).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeAlias, cast, runtime_checkable

from engine.protocol import NO_CONTROL, CallControl, RawTranscript, SideEvent, Utterance


@dataclass(frozen=True, slots=True)
class CallInfo:
    """What is known about a call: its id, the URL it came in on, and the platform's details."""

    call_id: str
    flow: str | None = None
    """Flow named in the URL (``<prefix>/<flow>/<call_id>``), if any."""
    query: Mapping[str, str] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)
    """The ``call`` object of ``call_details`` (empty until it arrives)."""

    def template_view(self) -> dict[str, Any]:
        """The ``call`` that templates see: the details, with the fields they may rely on."""
        view = dict(self.details)
        view.setdefault("call_id", self.call_id)
        view.setdefault("metadata", {})
        view.setdefault("retell_llm_dynamic_variables", {})
        return view


@dataclass(frozen=True, slots=True)
class Turn:
    """One request to speak: the platform's response id, its transcript, and the call."""

    response_id: int
    transcript: tuple[Utterance, ...]
    call: CallInfo
    reminder: bool = False


@dataclass(frozen=True, slots=True)
class Speech:
    """Text for the caller to hear; pieces are appended, so spacing is the producer's."""

    text: str
    masked: str | None = None
    """The same words for storage, with sensitive values hidden (``None``: none were said)."""


Part: TypeAlias = Speech | CallControl | SideEvent
"""What a conversation yields during a turn."""


@dataclass(frozen=True, slots=True)
class Greeting:
    """The begin message: empty ``text`` lets the caller speak first."""

    text: str
    control: CallControl = NO_CONTROL


class Conversation(Protocol):
    """One call's conversation. Created per call, kept across reconnects of that call."""

    @property
    def wants_call_details(self) -> bool:
        """Whether the greeting uses call data, so the server waits (briefly) for it."""
        ...

    def greeting(self, call: CallInfo) -> Greeting:
        """The begin message, rendered with whatever call data has arrived."""
        ...

    def observe(self, transcript: RawTranscript, turntaking: str | None) -> None:
        """Fold an ``update_only`` into the conversation; must be cheap and never block."""
        ...

    def respond(self, turn: Turn) -> AsyncIterator[Part]:
        """Produce the reply to ``turn``. Cancelled at once when a newer request arrives."""
        ...

    def close(self) -> None:
        """The call is over (its state expired); release what the conversation holds."""
        ...


class Agent(Protocol):
    """Makes a conversation for each call; one agent serves the whole process."""

    def start(self, call: CallInfo) -> Conversation:
        """A fresh conversation for a new call."""
        ...

    def accepts(self, call: CallInfo) -> str | None:
        """``None`` if the agent can take ``call``; else why not (the socket is refused, 404)."""
        ...

    def problems(self) -> list[str]:
        """Why the agent is not fully ready (shown by ``/readyz`` and at start); empty if ready."""
        ...


# -- what a conversation tells the call log ------------------------------------------------------

MASK = "***"
"""What a sensitive value is replaced with wherever it must not be shown."""


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing understood in a turn: a slot value or an intent, and who understood it."""

    kind: Literal["slot", "intent"]
    name: str
    value: Any = None
    by: Literal["parser", "model"] = "parser"


@dataclass(frozen=True, slots=True)
class Move:
    """A state entered during a turn, and why (``"when slots.name"``, ``"intent confirm"``...)."""

    source: str
    target: str
    how: str


@dataclass(frozen=True, slots=True)
class ModelUse:
    """The model requests of one turn: how many, their tokens (if reported) and timings."""

    requests: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    first_token_ms: float | None = None
    """From sending the first request to its first event."""
    total_ms: float = 0.0
    """Time spent streaming, over all requests of the turn."""


@dataclass(frozen=True, slots=True)
class TurnTrace:
    """What a conversation did with one turn; sensitive values are already masked."""

    state_before: str | None = None
    state_after: str | None = None
    plan: str = ""
    """How the turn was settled (``move``, ``ask``, ``model``, ``not_understood``...)."""
    understood: tuple[Finding, ...] = ()
    moves: tuple[Move, ...] = ()
    refused: tuple[str, ...] = ()
    """Why values the caller or the model gave were refused."""
    gave_up: bool = False
    """The state's retries ran out in this turn."""
    model: ModelUse | None = None
    """``None`` when the model was not called."""
    caught_up: int = 0
    """Caller answers taken first, which the call's state had lost (a resumed call)."""


@dataclass(frozen=True, slots=True)
class ActionRun:
    """An action a call ran, with its arguments and result (``ok`` is ``None`` while running)."""

    name: str
    state: str
    arguments: Any = None
    result: Any = None
    ok: bool | None = None


@dataclass(frozen=True, slots=True)
class CallSummary:
    """What a whole call amounts to so far, from the conversation's side."""

    flow: str | None = None
    flow_version: str | None = None
    state: str | None = None
    slots: Mapping[str, Any] = field(default_factory=dict)
    """Collected values, in clear (the call log masks the sensitive ones where it shows them)."""
    sensitive: frozenset[str] = frozenset()
    """Names of slots whose values are never shown or logged."""
    path: tuple[str, ...] = ()
    actions: tuple[ActionRun, ...] = ()
    gave_up: bool = False
    cancelled: bool = False
    """The caller gave up on the call ("never mind, I'll call back")."""


@runtime_checkable
class Recorded(Protocol):
    """A conversation that tells the call log what it did (optional for a conversation)."""

    def turn_trace(self) -> TurnTrace | None:
        """What the last finished turn did (``None`` if it was superseded or none ran)."""
        ...

    def summary(self) -> CallSummary:
        """The call so far: flow, slots, path, actions."""
        ...


def _speaks(conversation: object, methods: tuple[str, ...]) -> bool:
    """Whether ``conversation`` has ``methods``: a runtime protocol's check, made directly.

    ``isinstance`` against a runtime-checkable protocol collects the protocol's members again
    on every call (14 to 27 µs on Python 3.11); it is asked of a conversation on every turn.
    The answer is the same: each method is there and not ``None``.
    """
    return all(getattr(conversation, name, None) is not None for name in methods)


def _methods(protocol: type) -> tuple[str, ...]:
    return tuple(name for name in vars(protocol) if not name.startswith("_"))


_RECORDED = _methods(Recorded)


def trace_of(conversation: object) -> TurnTrace | None:
    """The last turn's trace of ``conversation``, if it keeps one."""
    if not _speaks(conversation, _RECORDED):
        return None
    return cast(Recorded, conversation).turn_trace()


def summary_of(conversation: object) -> CallSummary:
    """The summary of ``conversation`` (an empty one if it keeps none)."""
    if not _speaks(conversation, _RECORDED):
        return CallSummary()
    return cast(Recorded, conversation).summary()


# -- what a conversation carries to another process -----------------------------------------------


@runtime_checkable
class Persistent(Protocol):
    """A conversation whose memory can be carried to another process (optional).

    The snapshot is plain data (JSON-friendly values only) of the conversation as it was at
    the end of its last finished turn: a turn under way is not in it, so a call resumed from
    it never sees half a turn. It names what it needs to be understood again (a flow's name
    and version, for instance).
    """

    def snapshot(self) -> dict[str, Any]:
        """What the conversation remembers, as plain data."""
        ...


@runtime_checkable
class Resumable(Protocol):
    """An agent that can go on with a call another process started (optional)."""

    def resume(self, call: CallInfo, snapshot: Mapping[str, Any]) -> Conversation:
        """The conversation of ``call`` as :meth:`Persistent.snapshot` left it."""
        ...


_PERSISTENT = _methods(Persistent)


def snapshot_of(conversation: object) -> dict[str, Any] | None:
    """The snapshot of ``conversation``, or ``None`` if it keeps nothing worth carrying."""
    if not _speaks(conversation, _PERSISTENT):
        return None
    return cast(Persistent, conversation).snapshot()
