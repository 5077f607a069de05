"""Call state across sockets, and its expiry."""

from __future__ import annotations

import asyncio

from engine.agent import CallInfo
from engine.server.store import CallState, MemoryCallStore


class Closing:
    closed = False

    def close(self) -> None:
        self.closed = True


def new_state() -> CallState:
    return CallState(CallInfo("c1"), conversation=Closing())  # type: ignore[arg-type]


async def test_known_call_is_resumed_and_expiry_cancelled():
    store = MemoryCallStore(grace=0.05)
    state, resumed = await store.open("c1", new_state)
    assert not resumed
    store.release("c1", state)
    again, resumed = await store.open("c1", new_state)
    assert resumed and again is state
    await asyncio.sleep(0.1)
    assert store.get("c1") is state  # reopened before expiry: kept


async def test_released_call_expires_after_grace():
    store = MemoryCallStore(grace=0.05)
    state, _ = await store.open("c1", new_state)
    store.release("c1", state)
    assert len(store) == 1
    await asyncio.sleep(0.1)
    assert store.get("c1") is None and len(store) == 0
    assert state.conversation.closed  # the conversation released its place in the flow


async def test_zero_grace_forgets_at_once():
    store = MemoryCallStore(grace=0)
    state, _ = await store.open("c1", new_state)
    store.release("c1", state)
    assert len(store) == 0


async def test_the_last_call_gone_hands_memory_back_once_idle(monkeypatch):
    from engine.server import memory

    released: list[bool] = []
    monkeypatch.setattr(memory, "release", lambda: released.append(True))
    monkeypatch.setattr(memory, "IDLE_DELAY", 0.05)
    store = MemoryCallStore(grace=0)
    first, _ = await store.open("a", new_state)
    second, _ = await store.open("b", new_state)
    store.release("a", first)
    store.release("b", second)
    await asyncio.sleep(0.01)
    third, _ = await store.open("c", new_state)  # a call came in: the memory is busy again
    await asyncio.sleep(0.1)
    assert released == []
    store.release("c", third)
    assert released == []  # not at once: the last call's buffers are still being let go
    await asyncio.sleep(0.1)
    assert released == [True]
