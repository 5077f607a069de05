"""The narrow interface between the call server and whatever decides what the agent says.

The server knows the wire protocol, sockets, response ids and deadlines; an :class:`Agent`
knows the conversation. For every call the server asks the agent for a :class:`Conversation`,
then per turn hands it a :class:`Turn` and streams back the :data:`Part` items it yields:
speech as it is produced, :class:`~engine.protocol.CallControl` (hang up, transfer, press
digits, not interruptible) and bookkeeping events. The single-prompt agent and the flow engine
are both agents; neither touches a socket.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeAlias

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
