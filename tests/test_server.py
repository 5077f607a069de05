"""The call server over real sockets: routes, secrets, frames, the model path, reconnects."""

from __future__ import annotations

import asyncio
import contextlib

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from engine.records import Database
from engine.server import writer as writer_module
from engine.server.writer import URGENT_KEPT
from engine.testing.llm_server import LLMTestServer, Reply
from engine.testing.platform import PlatformCall, Transcript

SLOW = Reply(text=" ".join(f"word{i}" for i in range(40)), token_delay=0.05)


async def test_opening_sends_config_then_greeting(llm, start_server):
    server = start_server()
    async with PlatformCall.connect(server.url("call_open")) as call:
        _, first = await call.next_frame()
        _, second = await call.next_frame()
    assert first == {
        "response_type": "config",
        "config": {
            "auto_reconnect": True,
            "call_details": True,
            "transcript_with_tool_calls": False,
        },
    }
    assert second["response_type"] == "response"
    assert second["response_id"] == 0
    assert second["content"] == "Hi, thanks for calling. How can I help you today?"
    assert second["content_complete"] is True


async def test_empty_greeting_lets_the_caller_speak_first(llm, start_server):
    server = start_server(greeting="")
    async with PlatformCall.connect(server.url("call_quiet")) as call:
        greeting = await call.response(0)
    assert greeting.text == ""
    assert greeting.complete


async def test_greeting_waits_for_call_details(llm, start_server):
    server = start_server(
        greeting="Hi {{ call.retell_llm_dynamic_variables.get('name', 'there') }}!",
        call_details_wait=5,
    )
    async with PlatformCall.connect(server.url("call_named")) as call:
        await call.expect("config")
        await asyncio.sleep(0.1)
        assert not call.sent("response")  # held back until the details arrive
        await call.call_details(call_id="call_named", retell_llm_dynamic_variables={"name": "Dana"})
        greeting = await call.response(0)
    assert greeting.text == "Hi Dana!"


async def test_greeting_goes_out_without_details_after_the_wait(llm, start_server):
    server = start_server(
        greeting="Hi {{ call.retell_llm_dynamic_variables.get('name', 'there') }}!",
        call_details_wait=0.2,
    )
    async with PlatformCall.connect(server.url("call_anon")) as call:
        greeting = await call.response(0, timeout=3)
    assert greeting.text == "Hi there!"


async def test_answer_is_streamed_and_closed(llm, start_server):
    llm.script(Reply(text="We open at nine tomorrow."))
    server = start_server()
    async with PlatformCall.connect(server.url("call_stream")) as call:
        greeting = await call.response(0)
        transcript = Transcript().agent(greeting.text).user("When do you open?")
        await call.request(1, transcript)
        answer = await call.response(1)
    assert answer.text == "We open at nine tomorrow."
    assert answer.complete
    assert all(chunk["content_complete"] is False for chunk in answer.chunks[:-1])
    body = llm.requests[-1]
    assert body["stream"] is True
    assert body["messages"][0]["role"] == "system"
    assert body["messages"][1:] == [
        {"role": "assistant", "content": greeting.text},
        {"role": "user", "content": "When do you open?"},
    ]


@pytest.mark.parametrize("gather_ms", [50, 0])
async def test_the_first_words_go_at_once_and_the_rest_a_few_tokens_a_frame(
    llm, start_server, gather_ms
):
    words = " ".join(f"word{i}" for i in range(30))
    llm.script(Reply(text=words, token_delay=0.01))
    server = start_server(gather_ms=gather_ms)
    async with PlatformCall.connect(server.url("call_gather")) as call:
        greeting = await call.response(0)
        await call.request(1, Transcript().agent(greeting.text).user("Tell me everything."))
        answer = await call.response(1)
    assert answer.text == words and answer.complete
    assert answer.chunks[0]["content"] == "word0"
    if gather_ms:  # 30 tokens 10 ms apart, read every 50 ms: not a frame per token
        assert len(answer.chunks) <= 15
    else:
        assert len(answer.chunks) >= 20


async def test_ping_is_echoed_while_a_slow_answer_streams(llm, start_server):
    llm.script(Reply(text="Let me think about that.", first_token_delay=1.0))
    server = start_server()
    async with PlatformCall.connect(server.url("call_ping")) as call:
        await call.response(0)
        await call.request(1, Transcript().user("Hard question"))
        stamp = await call.ping(1764031800123)
        pong = await call.expect("ping_pong", timeout=0.9)
        assert pong == {"response_type": "ping_pong", "timestamp": 1764031800123}
        assert not call.sent("response", response_id=1)  # the answer is still being generated
        answer = await call.response(1)
    assert stamp == 1764031800123
    assert answer.text == "Let me think about that."


async def test_update_only_never_supersedes(llm, start_server):
    llm.script(Reply(text="Still answering you.", first_token_delay=0.3))
    server = start_server()
    async with PlatformCall.connect(server.url("call_updates")) as call:
        await call.response(0)
        transcript = Transcript().user("Question")
        await call.request(1, transcript)
        for turn in ("user_turn", None, "agent_turn", None):
            await call.update(transcript, turntaking=turn)
        answer = await call.response(1)
    assert answer.text == "Still answering you."
    assert llm.stats.requests == 1


async def test_newer_request_cancels_the_older_at_once(llm, start_server):
    llm.script(SLOW, Reply(text="Second answer."))
    server = start_server()
    async with PlatformCall.connect(server.url("call_barge")) as call:
        await call.response(0)
        await call.request(1, Transcript().user("First"))
        await call.expect("response", where=lambda f: f["response_id"] == 1)
        await call.request(2, Transcript().user("First, no wait"))
        sent_at = len(call.frames)
        second = await call.response(2)
        # The upstream stream of the superseded answer is closed, not left running.
        assert await llm.wait_for(lambda s: s.closed_early >= 1, timeout=2)
        await asyncio.sleep(0.2)  # let anything stale that was still coming arrive
    assert second.text == "Second answer."
    late = [f for _, f in call.frames[sent_at:] if f.get("response_id") == 1]
    # Whatever was already on the wire when request 2 left may land, but never after id 2 began.
    first_of_2 = next(i for i, (_, f) in enumerate(call.frames) if f.get("response_id") == 2)
    assert not [f for _, f in call.frames[first_of_2:] if f.get("response_id") == 1]
    assert not [f for f in late if f["content_complete"]]
    assert llm.stats.completed == 1


async def test_model_error_speaks_fallback_and_closes(llm, start_server):
    llm.script(Reply(status=500), Reply(status=500), Reply(text="Back again."))
    server = start_server(fallback_line="Sorry, say that again?")
    async with PlatformCall.connect(server.url("call_err")) as call:
        await call.response(0)
        await call.request(1, Transcript().user("Hello?"))
        answer = await call.response(1)
        assert answer.text == "Sorry, say that again?"
        assert answer.complete
        await call.request(2, Transcript().user("Hello?").agent(answer.text).user("Hello!"))
        again = await call.response(2)
    assert again.text == "Back again."
    assert llm.stats.errors == 2  # one retry, then the fallback


@pytest.mark.parametrize("empty", [Reply.preempted(), Reply.empty()], ids=["preempted", "empty"])
async def test_a_model_that_answers_nothing_is_retried_then_the_fallback_is_heard(
    llm, start_server, call_log, empty
):
    # Taken as a valid empty answer, this was dead air for the caller and nothing was logged.
    llm.script(empty, empty)
    server = start_server(fallback_line="Sorry, say that again?")
    async with PlatformCall.connect(server.url("call_empty")) as call:
        await call.response(0)
        await call.request(1, Transcript().user("Hello?"))
        answer = await call.response(1)
    assert (answer.text, answer.complete) == ("Sorry, say that again?", True)
    assert llm.stats.requests == 2  # retried once
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(server.http("/metrics"))).text
    assert 'dialplan_llm_failures_total{kind="no_answer"} 1.0' in metrics
    server.stop()
    turn = Database(call_log).call("call_empty").turns[1]  # type: ignore[union-attr]
    assert turn.outcome == "fallback" and "the model" in (turn.error or "")


async def test_retry_recovers_a_failed_request(llm, start_server):
    llm.script(Reply(status=503), Reply(text="Recovered."))
    server = start_server()
    async with PlatformCall.connect(server.url("call_retry")) as call:
        await call.response(0)
        await call.request(1, Transcript().user("Hi"))
        answer = await call.response(1)
    assert answer.text == "Recovered."


async def test_missed_first_token_deadline_speaks_fallback(llm, start_server):
    llm.script(Reply(text="Too late.", first_token_delay=3))
    server = start_server(first_token_timeout=0.3, fallback_line="One moment, please say again.")
    async with PlatformCall.connect(server.url("call_slow")) as call:
        await call.response(0)
        await call.request(1, Transcript().user("Hi"))
        answer = await call.response(1, timeout=2)
        assert await llm.wait_for(lambda s: s.closed_early == 1, timeout=2)
    assert answer.text == "One moment, please say again."
    assert answer.complete


async def test_broken_stream_still_closes_the_response(llm, start_server):
    llm.script(Reply(text="This answer will break off here", disconnect_after=3))
    server = start_server()
    async with PlatformCall.connect(server.url("call_broken")) as call:
        await call.response(0)
        await call.request(1, Transcript().user("Hi"))
        answer = await call.response(1)
    assert answer.complete
    # What was already spoken stays; no fallback is glued onto half a sentence.
    assert "Sorry" not in answer.text
    assert answer.text.startswith("This")


@pytest.mark.parametrize(
    "frame",
    [
        "not json at all",
        "[1, 2, 3]",
        '{"no_type": true}',
        '{"interaction_type": "something_new", "x": 1}',
        '{"interaction_type": "response_required", "transcript": []}',
        '{"interaction_type": "response_required", "response_id": "7", "transcript": []}',
        '{"interaction_type": "ping_pong"}',
        '{"interaction_type": "update_only", "transcript": "oops"}',
        '{"interaction_type": "call_details", "call": null}',
    ],
)
async def test_bad_frames_are_ignored_and_the_call_goes_on(llm, start_server, frame):
    server = start_server()
    async with PlatformCall.connect(server.url("call_bad")) as call:
        await call.response(0)
        await call.send(frame)
        await call.ws.send(b"\x00binary")
        await call.ping(42)
        assert (await call.expect("ping_pong"))["timestamp"] == 42
        await call.request(1, Transcript().user("Still there?"))
        answer = await call.response(1)
    assert answer.text == "Okay."
    assert not call.sent("response", response_id=7)


async def test_tolerates_odd_transcripts(llm, start_server):
    server = start_server()
    odd = (
        Transcript()
        .user("(unintelligible audio)")
        .user("I mean, hello")
        .say("transfer_target", "Front desk here")
        .agent("")
        .agent("Hi!")
    )
    odd.append({"role": "user"})  # no content at all
    async with PlatformCall.connect(server.url("call_odd")) as call:
        await call.response(0)
        await call.send(
            {
                "interaction_type": "response_required",
                "response_id": 1,
                "transcript": odd,
                "timestamp": 3,
                "extra_field": {"a": 1},
            }
        )
        answer = await call.response(1)
        await call.request(2, [])
        empty = await call.response(2)
    assert answer.complete and empty.complete
    messages = llm.requests[0]["messages"]
    assert messages[1:] == [
        {"role": "user", "content": "(unintelligible audio) I mean, hello Front desk here"},
        {"role": "assistant", "content": "Hi!"},
    ]


async def test_two_megabyte_frame_is_accepted(llm, start_server):
    server = start_server()
    words = [{"word": "blah", "start": i * 0.1, "end": i * 0.1 + 0.05} for i in range(40_000)]
    transcript = [{"role": "user", "content": "blah " * 40_000, "words": words}]
    async with PlatformCall.connect(server.url("call_big")) as call:
        await call.response(0)
        await call.request(1, transcript)
        answer = await call.response(1, timeout=10)
    assert answer.text == "Okay."


async def test_secret_segment_is_required(llm, start_server):
    server = start_server(secret="s3cr3t-path-segment")
    for url in (
        server.url("call_s"),
        server.url("call_s", "wrong"),
        server.url("call_s", "x", "y"),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with PlatformCall.connect(url):
                pass
        assert refused.value.response.status_code == 403
    async with PlatformCall.connect(server.url("call_s", "s3cr3t-path-segment")) as call:
        assert (await call.response(0)).complete
    async with PlatformCall.connect(server.url("call_f", "s3cr3t-path-segment", "clinic")) as call:
        assert (await call.response(0)).complete
    assert len(server.runtime.store) == 2  # refused connections touched no call state


async def test_query_string_and_flow_segment_are_tolerated(llm, start_server):
    server = start_server()
    url = server.url("call_q", "booking", query="tenant=acme&x=1")
    async with PlatformCall.connect(url) as call:
        assert (await call.response(0)).complete
    state = server.runtime.store.get("call_q")
    assert state.call.flow == "booking"
    assert dict(state.call.query) == {"tenant": "acme", "x": "1"}


async def test_unknown_paths_are_not_calls(llm, start_server):
    server = start_server()
    with pytest.raises(InvalidStatus):
        async with PlatformCall.connect(server.base + "/llm-websocket"):
            pass
    with pytest.raises(InvalidStatus):
        async with PlatformCall.connect(server.base + "/elsewhere/call_x"):
            pass


async def test_reminder_asks_for_a_short_check_in(llm, start_server):
    llm.script(Reply(text="Are you still with me?"))
    server = start_server()
    async with PlatformCall.connect(server.url("call_remind")) as call:
        greeting = await call.response(0)
        await call.request(1, Transcript().agent(greeting.text), reminder=True)
        nudge = await call.response(1)
    assert nudge.text == "Are you still with me?"
    system = llm.requests[0]["messages"][0]["content"]
    assert "gone quiet" in system and "Do not repeat" in system


async def test_dropped_socket_reconnects_without_second_greeting(llm, start_server):
    server = start_server()
    async with PlatformCall.connect(server.url("call_re")) as call:
        greeting = await call.response(0)
        assert greeting.text
        await call.request(1, Transcript().agent(greeting.text).user("Hi"))
        await call.response(1)
        call.drop()  # no close frame: a 1006 on the server's side
    async with PlatformCall.connect(server.url("call_re")) as again:
        _, config = await again.next_frame()
        resumed = await again.response(0)
        await again.request(
            3, Transcript().agent(greeting.text).user("Hi").agent("Okay.").user("?")
        )
        answer = await again.response(3)
    assert config["response_type"] == "config"
    assert resumed.text == "" and resumed.complete
    assert answer.text == "Okay."
    state = server.runtime.store.get("call_re")
    assert state.connections == 2


async def test_a_handed_off_call_is_dropped_without_a_close_frame(llm, start_server):
    # Under hypercorn (checked on every upgrade of it): the platform sees 1006 and dials again.
    server = start_server()
    async with PlatformCall.connect(server.url("call_handed")) as call:
        await call.response(0)
        session = server.runtime.store.get("call_handed").owner
        server.call_soon(session.hand_off, "test")
        await asyncio.wait_for(call.closed.wait(), 3)
    assert call.close_code == 1006
    async with PlatformCall.connect(server.url("call_handed")) as again:
        resumed = await again.response(0)
    assert resumed.text == ""  # the same call goes on


async def test_new_socket_takes_over_an_open_one(llm, start_server):
    llm.script(SLOW)
    server = start_server()
    async with PlatformCall.connect(server.url("call_take")) as old:
        await old.response(0)
        await old.request(1, Transcript().user("Long answer please"))
        await old.expect("response", where=lambda f: f["response_id"] == 1)
        async with PlatformCall.connect(server.url("call_take")) as new:
            resumed = await new.response(0)
            await asyncio.wait_for(old.closed.wait(), 3)
            assert await llm.wait_for(lambda s: s.closed_early == 1, timeout=2)
    assert resumed.text == ""
    assert old.close_code == 4000
    assert not old.sent("response", response_id=1, content_complete=True)


async def test_call_state_expires_after_the_grace_period(llm, start_server):
    server = start_server(call_grace=0.2)
    async with PlatformCall.connect(server.url("call_gone")) as call:
        await call.response(0)
        assert len(server.runtime.store) == 1
    for _ in range(60):  # bounded: 60 x 50 ms
        if not len(server.runtime.store):
            break
        await asyncio.sleep(0.05)
    assert len(server.runtime.store) == 0


async def test_without_a_model_the_server_runs_and_says_so(no_llm, start_server):
    server = start_server()
    async with httpx.AsyncClient() as http:
        ready = await http.get(server.http("/readyz"))
        health = await http.get(server.http("/healthz"))
    assert health.status_code == 200
    assert ready.status_code == 503
    assert "no language model" in ready.json()["problems"][0]
    async with PlatformCall.connect(server.url("call_nomodel")) as call:
        assert (await call.response(0)).text
        await call.request(1, Transcript().user("Hello"))
        answer = await call.response(1)
        await call.request(2, Transcript().user("Hello"), reminder=True)
        nudge = await call.response(2)
    assert "no language model" in answer.text and answer.complete
    assert nudge.text == "Are you still there?"


async def test_ready_and_metrics(llm, start_server):
    server = start_server()
    async with PlatformCall.connect(server.url("call_m")) as call:
        await call.response(0)
        await call.send("garbage")
        await call.request(1, Transcript().user("Hi"))
        await call.response(1)
    async with httpx.AsyncClient() as http:
        ready = await http.get(server.http("/readyz"))
        metrics = (await http.get(server.http("/metrics"))).text
    assert ready.status_code == 200 and ready.json()["ready"] is True
    assert 'dialplan_connections_total{kind="new"} 1.0' in metrics
    assert "dialplan_frames_rejected_total 1.0" in metrics
    assert 'dialplan_responses_total{outcome="complete"} 1.0' in metrics


async def test_out_of_order_request_is_not_answered(llm, start_server):
    server = start_server()
    async with PlatformCall.connect(server.url("call_order")) as call:
        await call.response(0)
        await call.request(5, Transcript().user("Hi"))
        await call.response(5)
        await call.request(4, Transcript().user("Hi"))
        await call.ping(1)
        await call.expect("ping_pong")
        await asyncio.sleep(0.1)
    assert not call.sent("response", response_id=4)


async def test_calls_do_not_disturb_each_other(llm: LLMTestServer, start_server):
    server = start_server()
    many_calls = 20

    async def one(i: int) -> str:
        async with PlatformCall.connect(server.url(f"call_many_{i}")) as call:
            await call.response(0)
            if i % 2:
                await call.send("{broken")
            await call.request(1, Transcript().user(f"caller {i}"))
            return (await call.response(1)).text

    answers = await asyncio.gather(*(one(i) for i in range(many_calls)))
    assert answers == ["Okay."] * many_calls
    users = sorted(r["messages"][-1]["content"] for r in llm.requests)
    assert users == sorted(f"caller {i}" for i in range(many_calls))


async def test_compression_is_declined_unless_enabled(llm, start_server):
    plain = start_server()
    async with PlatformCall.connect(plain.url("call_zip"), compression="deflate") as call:
        assert (await call.response(0)).complete
        assert call.ws.protocol.extensions == []
    zipped = start_server(compression=True)
    async with PlatformCall.connect(zipped.url("call_zip2"), compression="deflate") as call:
        assert (await call.response(0)).complete
        assert [e.name for e in call.ws.protocol.extensions] == ["permessage-deflate"]


async def test_frames_go_straight_to_the_connection_and_arrive_whole(llm, start_server):
    # Under hypercorn (checked on every upgrade of it) text frames skip its per-frame layers;
    # the client checks each frame's header. Sizes in bytes of the answer's text (the frame
    # holds a little JSON more) around the lengths' limits; 70,000 needs the 8-byte length.
    sizes = (5, 100, 125, 65500, 70000)
    texts = ["x" * (size - 2) + "é" for size in sizes]  # "é" is two bytes
    llm.script(*(Reply(tokens=(text,)) for text in texts))
    server = start_server()
    async with PlatformCall.connect(server.url("call_frames")) as call:
        greeting = await call.response(0)
        assert server.runtime.store.get("call_frames").owner.socket._frames is not None
        transcript = Transcript().agent(greeting.text)
        for response_id, text in enumerate(texts, start=1):
            transcript = transcript.user(f"line {response_id}")
            await call.request(response_id, transcript)
            answer = await call.response(response_id)
            assert answer.text == text
            transcript = transcript.agent(answer.text)
    assert call.close_code in (None, 1000)


async def test_compressed_frames_keep_the_asgi_path(llm, start_server):
    server = start_server(compression=True)
    async with PlatformCall.connect(server.url("call_zipped"), compression="deflate") as call:
        greeting = await call.response(0)
        assert server.runtime.store.get("call_zipped").owner.socket._frames is None
        await call.request(1, Transcript().agent(greeting.text).user("hello"))
        assert (await call.response(1)).text == "Okay."


async def test_refused_connections_are_counted_by_status_and_reason(llm, start_server):
    server = start_server(secret="s3cr3t-path-segment")
    for url in (
        server.url("call_x", "wrong"),  # 403: the secret
        server.url("call_x", "s3cr3t-path-segment", "a", "b"),  # 404: no such path
    ):
        with pytest.raises(InvalidStatus):
            async with PlatformCall.connect(url):
                pass
    async with httpx.AsyncClient() as http:
        metrics = (await http.get(server.http("/metrics"))).text
        ready = (await http.get(server.http("/readyz"))).json()
    assert 'dialplan_connections_refused_total{reason="secret",status="403"} 1.0' in metrics
    assert 'dialplan_connections_refused_total{reason="path",status="404"} 1.0' in metrics
    assert ready["store"] == {"kind": "memory", "state": "ok"}


def test_hypercorn_is_set_for_calls():
    from engine.server import hypercorn_config
    from engine.settings import Settings

    config = hypercorn_config(Settings(max_frame_bytes=128 * 1024 * 1024))
    assert config.websocket_max_message_size == 128 * 1024 * 1024  # transcripts grow all call
    assert config.backlog >= 1024  # a burst of calls queues instead of being refused
    assert config.keep_alive_timeout > 60  # above the proxy's idle connections
    assert config.websocket_ping_interval is None and config.read_timeout is None


async def status_of(port: int, path: str, head: bytes, body: bytes = b"") -> int:
    """The status a raw HTTP/1.1 POST gets (``head``: its own headers), read as it comes."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        start = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
        form = b"Content-Type: application/x-www-form-urlencoded\r\n"
        writer.write(start + form + head + b"\r\n")
        with contextlib.suppress(ConnectionError):  # the server may answer and close early
            writer.write(body)
            await writer.drain()
        line = await asyncio.wait_for(reader.readline(), 5)
    finally:
        writer.close()
    return int(line.split()[1])


POSTS = ["/webhook", "/webhook/inbound", "/console/signin", "/console/signout", "/console/api/try"]


@pytest.mark.parametrize("path", POSTS)
async def test_a_post_body_over_a_mebibyte_is_refused_before_it_is_read(
    no_llm, console_server, path
):
    # Unsigned webhook bodies up to 16 MiB (Quart's default) were read whole before the
    # signature check; every POST route is capped at 1 MiB now.
    port = console_server(platform_key="key_test").settings.port
    # 16 MiB announced, not one byte of it sent: answered at once.
    assert await status_of(port, path, b"Content-Length: 16777216\r\n") == 413
    # Sent in chunks with no length announced: refused once past the cap.
    chunk = b"x" * 65536
    chunked = (b"%x\r\n" % len(chunk) + chunk + b"\r\n") * 17 + b"0\r\n\r\n"
    assert await status_of(port, path, b"Transfer-Encoding: chunked\r\n", chunked) == 413
    small = b"x" * 1024
    assert await status_of(port, path, b"Content-Length: 1024\r\n", small) != 413


async def test_a_peer_that_pings_and_never_reads_is_dropped_with_little_kept(
    llm, start_server, monkeypatch
):
    # Its echoes were queued without bound (160 MiB, then 340, in a minute from one socket).
    monkeypatch.setattr(writer_module, "SEND_STALL", 1.0)
    server = start_server()
    queued: list[int] = []
    sessions = server.runtime.calls.sessions
    ping = orjson.dumps({"interaction_type": "ping_pong", "timestamp": 1764031800123}).decode()
    # A client that stops reading once 4 frames wait (its socket buffer fills, then ours).
    async with connect(server.url("call_deaf"), max_queue=4) as ws:
        started = asyncio.get_running_loop().time()
        with pytest.raises(ConnectionClosed):
            for sent in range(5_000_000):  # bounded: dropped long before
                # A send blocks while the server is not reading; the drop must come within the
                # 30 s asserted below (on a busy machine a single wait has passed 5 s).
                await asyncio.wait_for(ws.send(ping), 25)
                if sent % 1000 == 0:
                    queued.extend(session.writer.queued for session in list(sessions))
                    await asyncio.sleep(0)
        elapsed = asyncio.get_running_loop().time() - started
    assert elapsed < 30
    assert max(queued) <= URGENT_KEPT + 2  # the greeting, config and the newest echoes
    for _ in range(100):  # bounded: the session ends once the connection is gone
        if not sessions:
            break
        await asyncio.sleep(0.05)
    assert not sessions
