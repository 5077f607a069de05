"""The scripted LLM test server, driven by the real openai client over real HTTP."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator

import aiohttp
import openai
import pytest
from openai.types.chat import ChatCompletionMessageParam, ChatCompletionToolParam

from engine.testing.llm_server import LLMStats, LLMTestServer, Reply, ToolCall

MESSAGES: list[ChatCompletionMessageParam] = [{"role": "user", "content": "hi there"}]


@pytest.fixture
async def srv() -> AsyncIterator[LLMTestServer]:
    server = LLMTestServer()
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def client(srv: LLMTestServer) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=srv.base_url, api_key="test", max_retries=0) as c:
        yield c


async def stream_text(client: openai.AsyncOpenAI) -> list[str]:
    stream = await client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    pieces = []
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    return pieces


async def test_streams_text_in_word_pieces(srv: LLMTestServer, client: openai.AsyncOpenAI) -> None:
    srv.script(Reply(text="Hello there, friend."))
    assert await stream_text(client) == ["Hello", " there,", " friend."]
    assert srv.stats.completed == 1


async def test_streams_explicit_tokens_then_default(
    srv: LLMTestServer, client: openai.AsyncOpenAI
) -> None:
    srv.script(Reply(tokens=("He", "llo", "!")))
    assert await stream_text(client) == ["He", "llo", "!"]
    assert await stream_text(client) == ["Okay."]


async def test_chunks_are_openai_shaped(srv: LLMTestServer, client: openai.AsyncOpenAI) -> None:
    srv.script(Reply(text="A b"))
    stream = await client.chat.completions.create(
        model="my-model",
        messages=MESSAGES,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert all(c.object == "chat.completion.chunk" and c.model == "my-model" for c in chunks)
    assert chunks[-2].choices[0].finish_reason == "stop"
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 2


async def test_tool_calls_assemble(srv: LLMTestServer, client: openai.AsyncOpenAI) -> None:
    srv.script(
        Reply(
            text="Let me check.",
            tool_calls=(
                ToolCall("lookup_order", {"order_id": "A-1234", "verbose": True}),
                ToolCall("transfer", '{"to": "sales"}', id="call_custom"),
            ),
        )
    )
    stream = await client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    calls: dict[int, dict[str, str]] = {}
    text, finish, argument_deltas = "", None, 0
    async for chunk in stream:
        choice = chunk.choices[0]
        text += choice.delta.content or ""
        finish = choice.finish_reason or finish
        for delta in choice.delta.tool_calls or ():
            call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
            call["id"] += delta.id or ""
            if delta.function is not None:
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
                argument_deltas += bool(delta.function.arguments)
    assert text == "Let me check."
    assert finish == "tool_calls"
    assert calls[0]["name"] == "lookup_order" and calls[0]["id"].startswith("call_")
    assert json.loads(calls[0]["arguments"]) == {"order_id": "A-1234", "verbose": True}
    assert calls[1] == {"id": "call_custom", "name": "transfer", "arguments": '{"to": "sales"}'}
    assert argument_deltas >= 4  # each call's arguments arrive in 2+ pieces


async def test_non_stream_completion(srv: LLMTestServer, client: openai.AsyncOpenAI) -> None:
    srv.script(Reply(text="Sure thing."), Reply(tool_calls=(ToolCall("hang_up", {}),)))
    done = await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert done.choices[0].message.content == "Sure thing."
    assert done.choices[0].finish_reason == "stop"
    tool = await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    message = tool.choices[0].message
    assert message.content is None and message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function" and call.function.name == "hang_up"
    assert call.function.arguments == "{}"
    assert srv.stats.completed == 2


async def test_scripted_error_statuses(srv: LLMTestServer, client: openai.AsyncOpenAI) -> None:
    srv.script(Reply(status=500), Reply(status=429))
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    with pytest.raises(openai.RateLimitError) as caught:
        await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert caught.value.response.headers["retry-after"] == "0"
    assert caught.value.code == "rate_limit_exceeded"
    assert srv.stats == LLMStats(requests=2, errors=2)


async def test_disconnect_mid_stream_breaks_client(
    srv: LLMTestServer, client: openai.AsyncOpenAI
) -> None:
    srv.script(Reply(text="one two three four", disconnect_after=2))
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):  # wraps httpx2.RemoteProtocolError
        stream = await client.chat.completions.create(
            model="gpt-test", messages=MESSAGES, stream=True
        )
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "one two"
    assert srv.stats.completed == 0 and srv.stats.closed_early == 0
    # The server keeps serving after the abort.
    assert await stream_text(client) == ["Okay."]


async def test_closing_stream_early_is_counted(
    srv: LLMTestServer, client: openai.AsyncOpenAI
) -> None:
    srv.script(Reply(text="a b c d e f", token_delay=0.05))
    stream = await client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    await stream.__anext__()
    await stream.close()
    assert await srv.wait_for(lambda s: s.closed_early == 1, timeout=1.0)
    assert srv.stats.completed == 0


async def test_cancelling_while_waiting_for_first_token_is_counted(
    srv: LLMTestServer, client: openai.AsyncOpenAI
) -> None:
    srv.script(Reply(text="slow", first_token_delay=10.0))

    async def consume() -> list[str]:
        return await stream_text(client)

    task = asyncio.create_task(consume())
    assert await srv.wait_for(lambda s: s.requests == 1, timeout=1.0)
    await asyncio.sleep(0.02)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    # Within a second of a 10 s first-token delay: noticed while the server was sleeping.
    assert await srv.wait_for(lambda s: s.closed_early == 1, timeout=1.0)


async def test_first_token_delay(srv: LLMTestServer, client: openai.AsyncOpenAI) -> None:
    srv.script(Reply(text="late", first_token_delay=0.2))
    started = time.monotonic()
    stream = await client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    headers_at = time.monotonic() - started
    await stream.__anext__()
    first_at = time.monotonic() - started
    await stream.close()
    assert first_at >= 0.2
    assert first_at - headers_at > 0.1  # headers go out at once, before the first token


async def test_records_requests(srv: LLMTestServer, client: openai.AsyncOpenAI) -> None:
    tools: list[ChatCompletionToolParam] = [
        {"type": "function", "function": {"name": "hang_up", "parameters": {}}}
    ]
    await client.chat.completions.create(
        model="gpt-rec", messages=MESSAGES, tools=tools, stream=True
    )
    assert len(srv.requests) == 1
    body = srv.requests[0]
    assert body["model"] == "gpt-rec" and body["messages"] == MESSAGES
    assert body["tools"] == tools and body["stream"] is True
    srv.reset()
    assert srv.requests == [] and srv.stats == LLMStats()


async def test_azure_deployment_path(srv: LLMTestServer) -> None:
    endpoint = srv.base_url.removesuffix("/v1")
    async with openai.AsyncAzureOpenAI(
        azure_endpoint=endpoint,
        api_key="test",
        api_version="2024-06-01",
        azure_deployment="dep",
        max_retries=0,
    ) as azure:
        srv.script(Reply(text="From Azure."))
        stream = await azure.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "From Azure."
    assert srv.requests[0]["model"] == "gpt-4o"


async def test_aiohttp_transport(srv: LLMTestServer) -> None:
    srv.script(Reply(text="Over aiohttp."), Reply(text="a b c", disconnect_after=1))
    async with openai.AsyncOpenAI(
        base_url=srv.base_url,
        api_key="test",
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(),
    ) as client:
        assert await stream_text(client) == ["Over", " aiohttp."]
        with pytest.raises(openai.APIConnectionError):  # wraps httpx2.ReadError
            await stream_text(client)
    assert srv.stats.completed == 1


async def test_models_listing(srv: LLMTestServer, client: openai.AsyncOpenAI) -> None:
    models = await client.models.list()
    assert [m.id for m in models.data] == ["gpt-test"]


async def test_stats_endpoint(srv: LLMTestServer, client: openai.AsyncOpenAI) -> None:
    srv.script(Reply(text="a b c d", token_delay=0.05), Reply(status=500))
    stream = await client.chat.completions.create(model="gpt-test", messages=MESSAGES, stream=True)
    await stream.__anext__()
    await stream.close()
    assert await srv.wait_for(lambda s: s.closed_early == 1, timeout=1.0)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert await stream_text(client) == ["Okay."]
    url = srv.base_url.removesuffix("/v1") + "/stats"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        assert response.content_type == "application/json"
        stats = await response.json()
    assert stats == {"requests": 3, "completed": 1, "closed_early": 1, "errors": 1}


async def test_server_in_thread_used_from_test_loop() -> None:
    with LLMTestServer(default=Reply(text="Threaded hello.")) as server:
        async with openai.AsyncOpenAI(
            base_url=server.base_url, api_key="test", max_retries=0
        ) as client:
            assert await stream_text(client) == ["Threaded", " hello."]
            server.script(Reply(text="x y z", token_delay=0.05))
            stream = await client.chat.completions.create(
                model="gpt-test", messages=MESSAGES, stream=True
            )
            await stream.__anext__()
            await stream.close()
            assert await server.wait_for(lambda s: s.closed_early == 1, timeout=1.0)
        assert server.stats.completed == 1
    assert not await server.wait_for(lambda s: s.requests > 2, timeout=0.02)


async def test_a_standalone_server_counts_requests_but_keeps_none() -> None:
    # Under a benchmark's load, kept request bodies made the server pause for its collector.
    server = LLMTestServer(keep_requests=False)
    await server.start()
    try:
        async with openai.AsyncOpenAI(base_url=server.base_url, api_key="t", max_retries=0) as c:
            assert await stream_text(c) == ["Okay."]
            assert await stream_text(c) == ["Okay."]
    finally:
        await server.stop()
    assert server.stats.requests == 2 and server.stats.completed == 2
    assert server.requests == [] and server.paths == [] and server.headers == []


async def raw_stream(srv: LLMTestServer, reply: Reply) -> list[bytes]:
    """The ``data:`` lines of a streamed answer, as sent."""
    srv.script(reply)
    body = {"model": "gpt-test", "messages": MESSAGES, "stream": True}
    url = f"{srv.base_url}/chat/completions"
    async with aiohttp.ClientSession() as http, http.post(url, json=body) as response:
        text = await response.read()
    return [line for line in text.split(b"\n") if line.startswith(b"data:")]


async def test_answers_that_say_nothing_as_local_model_servers_do(srv: LLMTestServer) -> None:
    # llama.cpp's server ends a request another one pre-empted with no finish reason, and
    # answers streamed requests with `tool_choice: auto` with neither text nor a tool call.
    preempted = await raw_stream(srv, Reply.preempted())
    assert preempted[-1] == b"data: [DONE]"
    chunks = [json.loads(line[5:]) for line in preempted[:-1]]
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)
    assert not any(c["choices"][0]["delta"].get("content") for c in chunks)
    empty = await raw_stream(srv, Reply.empty())
    chunks = [json.loads(line[5:]) for line in empty[:-1]]
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    assert not any(c["choices"][0]["delta"].get("content") for c in chunks)
    assert not any(c["choices"][0]["delta"].get("tool_calls") for c in chunks)
