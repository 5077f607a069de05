"""Calls handed off rather than ended: a silent platform, and a server that stops.

A real server on 127.0.0.1 and the scripted platform over real WebSockets; the stop is the
same drain ``dialplan serve`` runs on SIGTERM (over real processes, see ``test_failover.py``).
"""

from __future__ import annotations

import asyncio
import gc
import weakref

import httpx
import pytest
from websockets.exceptions import InvalidStatus

from engine.server.app import drain
from engine.server.lifecycle import Calls
from engine.server.store import MemoryCallStore
from engine.testing.llm_server import Reply
from engine.testing.platform import PlatformCall, Transcript

SLOW = Reply(text=" ".join(f"word{i}" for i in range(30)), token_delay=0.03)


async def test_a_silent_platform_is_dropped_so_that_it_dials_again(llm, start_server):
    server = start_server(idle_timeout=0.4)
    async with PlatformCall.connect(server.url("call_silent")) as call:
        await call.response(0)
        await asyncio.wait_for(call.closed.wait(), 3)
    assert call.close_code == 1006  # no close frame: the platform's reconnect path
    async with PlatformCall.connect(server.url("call_silent")) as again:
        resumed = await again.response(0)
    assert resumed.text == ""  # the call was kept: no second greeting


async def test_a_platform_that_pings_is_never_idle(llm, start_server):
    server = start_server(idle_timeout=0.6)
    async with PlatformCall.connect(server.url("call_pinging")) as call:
        await call.response(0)
        for _ in range(20):  # 2 s of keepalives, three idle timeouts
            await call.ping()
            await asyncio.sleep(0.1)
        assert not call.closed.is_set()


async def test_a_stopping_server_finishes_the_turn_then_hands_the_call_off(llm, start_server):
    llm.script(SLOW)
    server = start_server(drain_timeout=10)
    async with PlatformCall.connect(server.url("call_drained")) as call:
        greeting = await call.response(0)
        await call.request(1, Transcript().agent(greeting.text).user("Tell me everything"))
        await call.expect("response", where=lambda f: f["response_id"] == 1)
        draining = asyncio.create_task(asyncio.to_thread(server.run_coroutine, drain(server.app)))
        for _ in range(100):  # bounded: the server refuses new calls once it drains
            if server.runtime.calls.draining:
                break
            await asyncio.sleep(0.01)
        with pytest.raises(InvalidStatus) as refused:
            async with PlatformCall.connect(server.url("call_late")):
                pass
        async with httpx.AsyncClient() as http:
            ready = await http.get(server.http("/readyz"))
        answer = await call.response(1, timeout=5)
        await asyncio.wait_for(call.closed.wait(), 5)
        await draining
    assert refused.value.response.status_code == 503
    assert ready.status_code == 503 and "the server is stopping" in ready.json()["problems"]
    assert answer.complete and answer.text.endswith("word29")  # the turn was not cut short
    assert call.close_code == 1006  # then handed off: the platform dials the call again


async def test_a_turn_longer_than_the_drain_is_cut_off(llm, start_server):
    llm.script(Reply(text=" ".join(f"w{i}" for i in range(50)), token_delay=0.1))
    server = start_server(drain_timeout=0.3)
    async with PlatformCall.connect(server.url("call_cut")) as call:
        greeting = await call.response(0)
        await call.request(1, Transcript().agent(greeting.text).user("Tell me everything"))
        await call.expect("response", where=lambda f: f["response_id"] == 1)
        await asyncio.to_thread(server.run_coroutine, drain(server.app))
        await asyncio.wait_for(call.closed.wait(), 3)
    assert call.close_code == 1006
    assert not call.sent("response", response_id=1, content_complete=True)


def test_an_ended_socket_is_let_go_of_at_once():
    # The idle watchdog must not keep an ended call's buffers alive until its next look: the
    # memory of ended calls is handed back when the last one ends.
    class Seen:
        heard = 3

    calls = Calls(MemoryCallStore(grace=0), idle_timeout=10, drain_timeout=1)
    session = Seen()
    gone = weakref.ref(session)
    calls.add(session)  # type: ignore[arg-type]
    calls.check_idle(0.0)
    calls.discard(session)  # type: ignore[arg-type]
    del session
    gc.collect()
    assert gone() is None and len(calls) == 0
