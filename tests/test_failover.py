"""Calls that survive their server: real `dialplan serve` processes sharing a real Redis.

A server killed outright (SIGKILL), one worker of several killed, a server stopped for a
deploy (SIGTERM), and Redis stopped and started again mid-call: each time the platform (the
scripted test client) dials the same call again, and the call goes on where it was, to its
end, and its record is whole.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import psutil
import pytest
import redis as redis_client

from engine.records import CallRecord, Database
from engine.server.redis_scripts import call_key, turns_key
from engine.testing.llm_server import Reply
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import free_port
from tests.helpers import finish, serve, wait_healthy

DETAILS = {"call_type": "phone_call", "from_number": "+14155550123", "metadata": {}}


class Server:
    """One `dialplan serve` process on a port of its own."""

    def __init__(self, process: subprocess.Popen[str], port: int) -> None:
        self.process, self.port = process, port

    def url(self, call_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/llm-websocket/{call_id}"

    def http(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture
def servers(redis) -> Iterator[Callable[..., Server]]:
    """Start `dialplan serve` processes on the test's Redis; each is stopped after the test."""
    started: list[Server] = []

    def start(*args: str, env: dict[str, str] | None = None) -> Server:
        port = free_port()
        environment = {"DIALPLAN_STORE": redis.url, "DIALPLAN_LOG_LEVEL": "INFO"}
        process = serve(
            "--port", str(port), "--flow", "clinic_intake", *args, env=environment | (env or {})
        )
        server = Server(process, port)
        started.append(server)
        wait_healthy(port, process)
        return server

    yield start
    for server in started:
        if server.process.poll() is None:
            server.process.send_signal(signal.SIGTERM)
        finish(server.process, 30)


def stored_turns(redis, call_id: str) -> int:
    client = redis_client.Redis.from_url(redis.url)
    try:
        return int(client.llen(turns_key(call_id)))
    finally:
        client.close()


def owner_pid(redis, call_id: str) -> int:
    """The process that owns the call (its lease in Redis: ``host:pid:tag``)."""
    client = redis_client.Redis.from_url(redis.url)
    try:
        owner = client.hget(call_key(call_id), "owner")
    finally:
        client.close()
    assert owner, f"nobody owns {call_id}"
    return int(owner.decode().split(":")[-2])


async def until_stored(redis, call_id: str, turns: int) -> None:
    """Wait until Redis holds ``turns`` turn records of the call (saved in the background)."""
    for _ in range(200):  # bounded: 200 x 25 ms
        if stored_turns(redis, call_id) >= turns:
            return
        await asyncio.sleep(0.025)
    raise AssertionError(f"{call_id}: {stored_turns(redis, call_id)} turns stored, not {turns}")


async def record_of(url: str, call_id: str, outcome: str) -> CallRecord:
    database = Database(url)
    try:
        for _ in range(400):  # bounded: 400 x 25 ms
            found = database.call(call_id)
            if found is not None and found.outcome == outcome:
                return found
            await asyncio.sleep(0.025)
    finally:
        database.close()
    raise AssertionError(f"no {outcome} record of {call_id}")


async def first_half(call: PlatformCall, call_id: str) -> Dialog:
    """The caller answers two questions; returns the dialog (its transcript goes on)."""
    await call.call_details(call_id=call_id, **DETAILS)
    dialog = Dialog(call)
    await dialog.start()
    assert (await dialog.say("My name is Dana Scully")).text.startswith("Thanks, Dana.")
    assert (await dialog.say("March third 1980")).text.startswith("And what is the reason")
    return dialog


async def second_half(url: str, dialog: Dialog) -> dict[str, Any]:
    """The platform dials the call again; the caller finishes it. What the caller heard."""
    async with PlatformCall.connect(url) as call:
        dialog.call = call
        greeting = await call.response(0)
        read_back = await dialog.say("a sore throat")
        goodbye = await dialog.say("yes")
        await call.close()
    return {"greeting": greeting.text, "read_back": read_back.text, "goodbye": goodbye}


def assert_whole(record: CallRecord) -> None:
    """The record of the call, written where it ended, holds what happened where it began."""
    assert record.slots == {
        "full_name": "Dana Scully",
        "date_of_birth": "1980-03-03",
        "reason": "a sore throat",
    }
    assert record.path == ["ask_name", "ask_dob", "ask_reason", "confirm", "done"]
    assert [t.response_id for t in record.turns] == [0, 1, 2, 3, 4]
    assert record.turns[1].said == "Thanks, Dana. What is your date of birth?"
    assert [t["role"] for t in record.transcript].count("user") == 4
    assert record.from_number == "+14155550123"


async def test_a_killed_server_s_call_goes_on_in_another(servers, redis, call_log):
    a, b = servers(), servers()
    async with PlatformCall.connect(a.url("call_kill")) as call:
        dialog = await first_half(call, "call_kill")
        await until_stored(redis, "call_kill", 3)  # the greeting and two turns
        a.process.kill()  # SIGKILL mid-call: nothing is saved or closed on the way out
        await asyncio.wait_for(call.closed.wait(), 5)
    assert call.close_code == 1006

    heard = await second_half(b.url("call_kill"), dialog)
    assert heard["greeting"] == ""  # no second greeting
    assert "Dana Scully, born March 3rd, 1980" in heard["read_back"]  # nothing was lost
    assert heard["goodbye"].flag("end_call")
    assert_whole(await record_of(call_log, "call_kill", "completed"))


async def test_a_killed_worker_s_call_goes_on_in_another_worker(servers, redis, call_log):
    server = servers("--workers", "2")
    supervisor = psutil.Process(server.process.pid)
    async with PlatformCall.connect(server.url("call_worker")) as call:
        dialog = await first_half(call, "call_worker")
        await until_stored(redis, "call_worker", 3)
        victim = owner_pid(redis, "call_worker")
        assert victim in [p.pid for p in supervisor.children()]
        os.kill(victim, signal.SIGKILL)
        await asyncio.wait_for(call.closed.wait(), 5)

    heard = await second_half(server.url("call_worker"), dialog)
    assert heard["greeting"] == ""
    assert "Dana Scully, born March 3rd, 1980" in heard["read_back"]
    assert_whole(await record_of(call_log, "call_worker", "completed"))
    assert server.process.poll() is None  # one worker gone is not the server gone

    for _ in range(200):  # bounded: the supervisor replaces the worker (200 x 50 ms)
        workers = [p for p in supervisor.children() if "spawn_main" in " ".join(p.cmdline())]
        if len(workers) == 2 and victim not in [p.pid for p in workers]:
            break
        await asyncio.sleep(0.05)
    else:
        raise AssertionError("the killed worker was not replaced")
    async with httpx.AsyncClient() as http:  # whichever worker answers, the counts are whole
        metrics = (await http.get(server.http("/metrics"))).text
    assert 'dialplan_connections_total{kind="new"} 1.0' in metrics
    assert 'dialplan_connections_total{kind="resumed"} 1.0' in metrics
    counted = (
        r'dialplan_calls_total\{arm="",flow="clinic_intake",outcome="completed",'
        r'version="[0-9a-f]{12}"\} 1\.0'
    )
    assert re.search(counted, metrics)


async def test_sigterm_finishes_the_turn_then_hands_the_call_to_another_server(
    servers, redis, llm_server
):
    llm_server.reset()
    llm_server.script(Reply(text=" ".join(f"word{i}" for i in range(30)), token_delay=0.05))
    model = {"OPENAI_BASE_URL": llm_server.base_url, "OPENAI_API_KEY": "test-key"}
    prompt = {**model, "DIALPLAN_AGENT": "prompt", "DIALPLAN_CALL_DETAILS_WAIT": "0"}
    a, b = servers(env=prompt), servers(env=prompt)
    async with PlatformCall.connect(a.url("call_deploy")) as call:
        dialog = Dialog(call)
        await dialog.start()
        dialog.transcript.user("Tell me everything")
        await call.request(1, list(dialog.transcript))
        await call.expect("response", where=lambda f: f["response_id"] == 1)
        a.process.send_signal(signal.SIGTERM)  # a deploy: this server is stopping
        answer = await call.response(1, timeout=10)
        await asyncio.wait_for(call.closed.wait(), 10)
    output = finish(a.process, 20)
    assert answer.complete and answer.text.endswith("word29")  # the turn was let finish
    assert call.close_code == 1006  # then dropped so that the platform dials again
    assert a.process.returncode == 0, output
    assert "server.drained" in output

    async with PlatformCall.connect(b.url("call_deploy")) as again:
        resumed = await again.response(0)
    assert resumed.text == ""  # the call goes on on the other server


async def test_a_redis_outage_is_not_a_call_outage(servers, redis, call_log):
    a, b = servers(env={"DIALPLAN_STORE_TIMEOUT": "0.3"}), servers()
    async with PlatformCall.connect(a.url("call_outage")) as call:
        await call.call_details(call_id="call_outage", **DETAILS)
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully")
        redis.stop()  # by its process id, mid-call
        answer = await dialog.say("March third 1980")
        assert answer.text.startswith("And what is the reason")  # the call did not notice
        async with httpx.AsyncClient(timeout=5) as http:
            ready = await http.get(a.http("/readyz"))
            assert ready.status_code == 200  # calls still work...
            assert ready.json()["store"]["state"] == "degraded"  # ...but it says what is wrong

            redis.start()  # back, empty: it lost everything it held
            for _ in range(200):  # bounded: 200 x 50 ms
                if (await http.get(a.http("/readyz"))).json()["store"]["state"] == "ok":
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the store never recovered")
        await until_stored(redis, "call_outage", 3)  # saved whole once Redis answered
        a.process.kill()  # and now the server goes too: the call lives on in Redis alone
        await asyncio.wait_for(call.closed.wait(), 5)

    heard = await second_half(b.url("call_outage"), dialog)
    assert heard["greeting"] == ""
    assert "Dana Scully, born March 3rd, 1980" in heard["read_back"]
    assert_whole(await record_of(call_log, "call_outage", "completed"))


KILL_AFTER_MS = (0, 1, 5, 20, 100)


@pytest.mark.parametrize("round_", [1, 2])
async def test_a_server_killed_right_after_an_answer_loses_nothing_the_caller_said(
    servers, redis, call_log, round_
):
    # Saves go to Redis in the background, after the words: a server killed within a few
    # milliseconds of an answer left the call as it was before it, and the server the call
    # moved to asked for the date of birth again. The platform's transcript has every caller
    # line: the call takes those it has not taken, in order, before the new one.
    b = servers()
    for delay in KILL_AFTER_MS:
        call_id = f"call_kill_{round_}_{delay}ms"
        a = servers()
        async with PlatformCall.connect(a.url(call_id)) as call:
            await call.call_details(call_id=call_id, **DETAILS)
            dialog = Dialog(call)
            await dialog.start()
            await dialog.say("My name is Dana Scully")
            answer = await dialog.say("March third 1980")
            assert answer.text.startswith("And what is the reason")
            await asyncio.sleep(delay / 1000)
            a.process.kill()  # SIGKILL: nothing more is saved or closed
            await asyncio.wait_for(call.closed.wait(), 5)
        heard = await second_half(b.url(call_id), dialog)
        assert heard["greeting"] == "", delay  # no second greeting
        # Nothing asked twice, nothing lost: straight to the read-back, with the date.
        assert "Dana Scully, born March 3rd, 1980" in heard["read_back"], (delay, heard)
        assert heard["goodbye"].flag("end_call"), delay
        record = await record_of(call_log, call_id, "completed")
        assert record.slots == {
            "full_name": "Dana Scully",
            "date_of_birth": "1980-03-03",
            "reason": "a sore throat",
        }, delay
        assert record.path == ["ask_name", "ask_dob", "ask_reason", "confirm", "done"], delay


async def test_the_console_on_a_killed_server_costs_its_calls_nothing(servers, redis, call_log):
    # The console's live feed wrote on the store's Redis client: a call's save waited for a
    # connection of its own while the feed wrote, and a server killed right after the
    # caller's second answer had saved nothing of the call (the next server greeted again).
    console = {"DIALPLAN_CONSOLE_TOKEN": "a-console-token-of-this-test"}
    b = servers(env=console)
    for attempt in range(3):
        call_id = f"call_console_{attempt}"
        a = servers(env=console)
        async with PlatformCall.connect(a.url(call_id)) as call:
            dialog = await first_half(call, call_id)
            a.process.kill()  # SIGKILL, at once: nothing more is saved or closed
            await asyncio.wait_for(call.closed.wait(), 5)
        heard = await second_half(b.url(call_id), dialog)
        assert heard["greeting"] == "", attempt  # the call was found, not started again
        assert "Dana Scully, born March 3rd, 1980" in heard["read_back"], (attempt, heard)
        record = await record_of(call_log, call_id, "completed")
        assert record.path == ["ask_name", "ask_dob", "ask_reason", "confirm", "done"], attempt
