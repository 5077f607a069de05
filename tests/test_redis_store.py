"""The shared call store on a real Redis: calls move between processes, writes are fenced,
calls end once, and Redis trouble is not call trouble.

Each ``RedisCallStore`` here stands for one server process (its own instance id, its own
connections); the sessions are real ones over in-process sockets (``tests/fakes.py``). Over real
server processes, see ``test_failover.py``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from engine.server import redis_store
from engine.server.redis_scripts import EXPIRING, call_key, turns_key
from engine.server.redis_store import RedisCallStore, StoreError, redacted
from engine.server.store import CallState
from tests.fakes import Harness, ScriptedAgent


class Process:
    """One server process: its store on the shared Redis, its agent, the records it wrote."""

    def __init__(self, url: str, grace: float = 5.0, timeout: float = 0.5) -> None:
        self.recorded: list[CallState] = []
        self.store = RedisCallStore(url, grace, timeout, on_expire=self.recorded.append)
        self.harness = Harness(ScriptedAgent(), self.store, call_grace=grace)

    async def __aenter__(self) -> Process:
        await self.store.start(self.harness.revive)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.store.stop()


@pytest.fixture
async def processes(redis) -> AsyncIterator[Callable[..., Process]]:
    started: list[Process] = []

    def start(**kw: float) -> Process:
        process = Process(redis.url, **kw)
        started.append(process)
        return process

    yield start
    for process in started:
        await process.__aexit__()


async def until(predicate: Callable[[], bool], within: float = 5.0) -> None:
    for _ in range(int(within / 0.02)):  # bounded in count and time
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"not so within {within} s")


async def saved(process: Process) -> None:
    async with asyncio.timeout(3):
        await process.store.flush()


async def test_a_call_goes_on_in_another_process_and_the_old_socket_stops(processes):
    a, b = processes(), processes()
    await a.__aenter__(), await b.__aenter__()
    old = a.harness.connect("call_1")
    assert await old.answer(0) == "Hello."
    await old.request(1, "Hi")
    assert await old.answer(1) == "You said Hi."
    await saved(a)

    new = b.harness.connect("call_1")  # the platform dialled again; it landed elsewhere
    assert await new.answer(0) == ""  # no second greeting
    await old.socket.until(lambda: old.socket.close_code is not None)
    assert old.socket.close_code == 4000  # told through Redis, not through memory
    state = b.store.get("call_1")
    assert [t.response_id for t in state.turns] == [0, 1]  # what happened on the first host
    assert state.connections == 2 and state.greeted
    assert a.store.get("call_1") is None
    await new.request(2, "Hi", "You said Hi.", "Bye")
    assert await new.answer(2) == "You said Bye."
    await new.gone()
    await old.gone()


async def test_an_older_writer_never_overwrites_a_newer_state(processes, redis):
    a, b = processes(), processes()
    await a.__aenter__(), await b.__aenter__()
    state_a, _ = await a.store.open("call_2", lambda: a.harness.new_state_for("call_2"))
    a.store.save(state_a)
    await saved(a)
    state_b, resumed = await b.store.open("call_2", lambda: b.harness.new_state_for("call_2"))
    assert resumed
    state_b.interrupt_id = 7
    b.store.save(state_b)
    await saved(b)

    state_a.sync.lost = False  # as if the take-over message never reached the first process
    state_a.interrupt_id = 1
    a.store.save(state_a)
    await saved(a)
    assert state_a.sync.lost  # Redis refused the older epoch
    third = Process(redis.url)
    async with third:
        again, _ = await third.store.open("call_2", lambda: third.harness.new_state_for("x"))
    assert again.interrupt_id == 7


async def test_a_call_whose_grace_ended_is_recorded_once_and_forgotten(processes, redis):
    a, b = processes(grace=0.3), processes(grace=0.3)
    await a.__aenter__(), await b.__aenter__()
    line = a.harness.connect("call_3")
    await line.answer(0)
    await line.gone()
    await until(lambda: len(a.recorded) + len(b.recorded) == 1)
    await asyncio.sleep(1.5)  # every process had its turn at claiming it
    assert len(a.recorded) + len(b.recorded) == 1
    client = aioredis.Redis.from_url(redis.url)
    try:
        assert await client.exists(call_key("call_3"), turns_key("call_3")) == 0
        assert await client.zcard(EXPIRING) == 0
    finally:
        await client.aclose()
    assert a.store.get("call_3") is None


async def test_a_call_that_comes_back_within_the_grace_is_not_ended(processes):
    a, b = processes(grace=1.0), processes(grace=1.0)
    await a.__aenter__(), await b.__aenter__()
    line = a.harness.connect("call_4")
    await line.answer(0)
    await line.gone()
    await saved(a)
    back = b.harness.connect("call_4")
    assert await back.answer(0) == ""
    await asyncio.sleep(2.5)  # past the grace, and more than one look of every process
    assert a.recorded == [] and b.recorded == []
    await back.gone()


async def test_the_calls_of_a_process_that_died_are_recorded(processes, monkeypatch):
    monkeypatch.setattr(redis_store, "DEAD_AFTER", 0.5)
    a, b = processes(grace=0.2), processes(grace=0.2)
    # It dies before its first heartbeat: owning a call is enough to be noticed gone.
    monkeypatch.setattr(a.store, "_housekeeping", lambda: asyncio.sleep(3600))
    await a.__aenter__(), await b.__aenter__()
    line = a.harness.connect("call_5")
    await line.answer(0)
    await saved(a)
    # The process is gone: no heartbeat, no release, no timer of its own, nothing.
    monkeypatch.setattr(a.store, "release", lambda call_id, state: None)
    a.store._stopping = True
    for task in a.store._tasks:
        task.cancel()
    line.task.cancel()
    await until(lambda: len(b.recorded) == 1)
    assert b.recorded[0].call.call_id == "call_5" and b.recorded[0].greeted
    assert a.recorded == []


async def test_calls_go_on_while_redis_is_down_and_are_saved_when_it_is_back(processes, redis):
    a = processes(timeout=0.3)
    await a.__aenter__()
    line = a.harness.connect("call_6")
    await line.answer(0)
    await line.request(1, "one")
    await line.answer(1)
    await saved(a)

    redis.stop()
    await line.request(2, "one", "two")
    assert await line.answer(2) == "You said two."  # the call does not wait for Redis
    await until(lambda: a.store.health()["state"] == "degraded")
    assert a.store.health()["unsaved"] == 1
    fresh = a.harness.connect("call_7")  # a new call while Redis is down is served too
    assert await fresh.answer(0) == "Hello."

    redis.start()  # it lost everything it had
    await until(lambda: a.store.health()["state"] == "ok", within=10)
    await saved(a)
    client = aioredis.Redis.from_url(redis.url)
    try:
        assert await client.llen(turns_key("call_6")) == 3  # greeting and both turns, whole
        assert await client.llen(turns_key("call_7")) == 1
    finally:
        await client.aclose()
    await line.gone()
    await fresh.gone()


def test_a_url_that_is_not_redis_is_refused():
    with pytest.raises(StoreError, match="not a Redis URL"):
        RedisCallStore("http://127.0.0.1:6379", grace=1)


def test_a_password_in_the_url_is_never_shown():
    assert redacted("redis://user:hunter2@cache:6380/1") == "redis://user:***@cache:6380/1"
    assert redacted("redis://:hunter2@cache/0") == "redis://:***@cache/0"
    assert redacted("redis://cache:6379/0") == "redis://cache:6379/0"
