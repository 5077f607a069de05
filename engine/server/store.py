"""Where a call's state lives between the sockets of that call.

The platform re-dials the same URL when a socket drops, so a call can outlive its first
connection. Its state (the conversation, whether the greeting was spoken, the last settings sent
with ``update_agent``, what the call log will need at its end) is kept here, keyed by call id,
and expires a grace period after its last socket closed: then the call is over.

Two stores share one interface. :class:`MemoryCallStore` (the default) keeps calls in this
process: nothing to set up, nothing per frame or per turn. The Redis store
(:mod:`engine.server.redis_store`) keeps them where every worker and host can reach them, so a
call goes on wherever the platform reconnects it. A session tells the store when a call changed
(:meth:`CallStore.save`, never waiting for it) and when its socket closed
(:meth:`CallStore.release`); the store decides what that costs.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from engine.agent import CallInfo, Conversation
from engine.protocol import Transcript
from engine.records import TurnRecord

from . import memory


class Owner(Protocol):
    """The socket that speaks for a call now; a newer socket of the call takes over from it."""

    def take_over(self) -> None:
        """Stop speaking and close: a newer socket of the same call serves it from now on."""


@dataclass
class Sync:
    """A shared store's bookkeeping of one call (``None`` on a call that is only in memory)."""

    epoch: int = 0
    """How many times the call was taken by a socket; a write of an older epoch is refused."""
    seq: int = 0
    """Writes made in this epoch; a write that is not newer than the stored one is refused."""
    saved_turns: int = 0
    """Turns already in the store (each save appends only the new ones)."""
    leased: bool = False
    """The store has this process down as the call's owner (false while the store is out)."""
    released: bool = False
    """The call's socket closed here; it waits out its grace period."""
    release_saved: bool = False
    """The store knows the socket closed (its grace period runs there too)."""
    lost: bool = False
    """Another process took the call over: this one must not write it any more."""


@dataclass(eq=False)
class CallState:
    """Everything one call keeps across its sockets. Runtime state: mutable, never shared."""

    call: CallInfo
    conversation: Conversation
    greeted: bool = False
    interrupt_id: int = 0
    agent_config: dict[str, Any] = field(default_factory=dict)
    connections: int = 0
    started: float = field(default_factory=time.monotonic)
    details_arrived: asyncio.Event = field(default_factory=asyncio.Event)
    owner: Owner | None = None
    # For the call's record:
    started_at: float = field(default_factory=time.time)
    transcript: Transcript = field(default_factory=Transcript)
    """The last whole transcript the platform sent."""
    turns: list[TurnRecord] = field(default_factory=list)
    ended_by: Literal["hang_up", "transfer"] | None = None
    """The agent ended the call: a response with ``end_call`` or a transfer went out whole."""
    transfer_number: str | None = None
    recorded: int = -1
    """How many turns the last final record held (-1: none written yet)."""
    closed_at: float | None = None
    """Unix seconds: when the call's last socket closed (``None`` while one is open). A call
    that is not taken up again ended then, not when its grace period ran out."""
    sync: Sync | None = None


Expired = Callable[[CallState], None]
"""Told when a call's state expires: nothing has been heard of the call for the grace period."""

Revive = Callable[[CallInfo, Mapping[str, Any] | None], Conversation]
"""Makes the conversation of a call that comes from another process, from its snapshot."""


class CallStore(Protocol):
    """Holds call states by call id."""

    on_expire: Expired | None
    shared: bool
    """Whether calls outlive this process (a stopping server saves them instead of ending them)."""

    async def start(self, revive: Revive) -> None:
        """Connect (a shared store); ``revive`` rebuilds conversations that come from elsewhere."""
        ...

    async def stop(self) -> None:
        """Save what is unsaved (bounded in time) and let go of connections."""
        ...

    async def open(self, call_id: str, create: Callable[[], CallState]) -> tuple[CallState, bool]:
        """The state for ``call_id``: ``(state, True)`` if the call was known, else a new one."""
        ...

    def save(self, state: CallState) -> None:
        """The call changed: save it (in the background; never delays the caller)."""
        ...

    def release(self, call_id: str, state: CallState) -> None:
        """The call's socket closed: keep the state for the grace period, then forget it."""
        ...

    async def flush(self) -> None:
        """Wait until every change so far is saved (bound it with ``asyncio.timeout``)."""
        ...

    def get(self, call_id: str) -> CallState | None:
        """The state of a live or recently ended call of this process, if any."""
        ...

    def calls(self) -> list[CallState]:
        """Every call state held here (live calls and calls in their grace period)."""
        ...

    def health(self) -> dict[str, Any]:
        """For ``/readyz``: ``{"kind": ..., "state": "ok" | "degraded", ...}``."""
        ...

    def __len__(self) -> int: ...


class MemoryCallStore:
    """Call states in this process's memory, each expiring ``grace`` seconds after release."""

    shared = False

    def __init__(self, grace: float, on_expire: Expired | None = None) -> None:
        self.grace = grace
        self.on_expire = on_expire
        self._calls: dict[str, CallState] = {}
        self._idle_release = memory.IdleRelease(lambda: not self._calls)
        self._expiry: dict[str, asyncio.TimerHandle] = {}

    async def start(self, revive: Revive) -> None:
        """Nothing to connect to."""

    async def stop(self) -> None:
        """Nothing to save: calls end with this process."""

    async def open(self, call_id: str, create: Callable[[], CallState]) -> tuple[CallState, bool]:
        """See :meth:`CallStore.open`; cancels a pending expiry."""
        timer = self._expiry.pop(call_id, None)
        if timer is not None:
            timer.cancel()
        state = self._calls.get(call_id)
        if state is not None:
            return state, True
        state = self._calls[call_id] = create()
        return state, False

    def save(self, state: CallState) -> None:
        """Nothing to do: the state is this process's memory."""

    async def flush(self) -> None:
        """Always saved."""

    def release(self, call_id: str, state: CallState) -> None:
        """See :meth:`CallStore.release`."""
        if self._calls.get(call_id) is not state:
            return
        if self.grace <= 0:
            self._forget(call_id, state)
            return
        loop = asyncio.get_running_loop()
        self._expiry[call_id] = loop.call_later(self.grace, self._forget, call_id, state)

    def get(self, call_id: str) -> CallState | None:
        """See :meth:`CallStore.get`."""
        return self._calls.get(call_id)

    def _forget(self, call_id: str, state: CallState) -> None:
        self._expiry.pop(call_id, None)
        if self._calls.get(call_id) is state and state.owner is None:
            del self._calls[call_id]
            if self.on_expire is not None:
                self.on_expire(state)  # before the conversation lets go of what it knows
            state.conversation.close()
            if not self._calls:
                self._idle_release.schedule()  # the last call is gone: the server is idle

    def calls(self) -> list[CallState]:
        """See :meth:`CallStore.calls`."""
        return list(self._calls.values())

    def health(self) -> dict[str, Any]:
        """Memory is always there."""
        return {"kind": "memory", "state": "ok"}

    def __len__(self) -> int:
        return len(self._calls)
