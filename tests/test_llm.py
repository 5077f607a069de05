"""The model client: raw streaming through the real openai client, deadlines, retries."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import orjson
import pytest

from engine.errors import LLMError, LLMNoAnswer, LLMTimeout
from engine.llm import Meter, OpenAIChatModel, TextDelta, ToolCallRequest, Usage, make_client
from engine.llm import stream as stream_module
from engine.llm.stream import sse_events
from engine.llm.upstream import endpoint_of, open_direct
from engine.settings import Settings
from engine.testing.llm_server import LLMTestServer, Reply, ToolCall

MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]


OPEN: list[OpenAIChatModel] = []


@pytest.fixture
async def client(llm: LLMTestServer):
    client = openai.AsyncOpenAI(
        base_url=llm.base_url,
        api_key="k",
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(),
    )
    yield client
    while OPEN:
        await OPEN.pop().aclose()
    await client.close()


def model(client: openai.AsyncOpenAI, **kw) -> OpenAIChatModel:  # type: ignore[no-untyped-def]
    made = OpenAIChatModel(client, model="test-model", **kw)
    OPEN.append(made)
    return made


async def collect(stream):  # type: ignore[no-untyped-def]
    """The answer's text and tool calls (token counts left out)."""
    return [event async for event in stream if not isinstance(event, Usage)]


def text_of(events) -> str:  # type: ignore[no-untyped-def]
    return "".join(event.text for event in events if isinstance(event, TextDelta))


async def test_streams_text_pieces_then_the_token_counts(llm, client):
    llm.script(Reply(text="Hello there, caller.", token_delay=0.05))
    stream = model(client, temperature=0.2, max_tokens=50).stream(MESSAGES)
    events = [event async for event in stream]
    assert events[:3] == [TextDelta("Hello"), TextDelta(" there,"), TextDelta(" caller.")]
    assert events[3:] == [Usage(prompt_tokens=3, completion_tokens=3)]
    body = llm.requests[0]
    assert body["model"] == "test-model" and body["stream"] is True
    assert body["temperature"] == 0.2 and body["max_tokens"] == 50
    assert body["messages"] == MESSAGES
    assert body["stream_options"] == {"include_usage": True}


async def test_pieces_that_arrive_together_are_one_delta_and_later_ones_stay_apart():
    def event(text: str, finish: str | None = None) -> bytes:
        choice = {"delta": {"content": text}, "finish_reason": finish}
        return b"data: " + orjson.dumps({"choices": [choice]}) + b"\n\n"

    async def reads():  # type: ignore[no-untyped-def]
        yield event("Sure") + event(",") + event(" I")[:9]  # a read may end mid-line
        yield event(" I")[9:] + event("'ll")
        yield event(" book", "stop") + b"data: [DONE]\n\n" + event("never")

    events = [event async for event in sse_events(reads())]
    assert events == [TextDelta("Sure,"), TextDelta(" I'll"), TextDelta(" book")]


async def test_token_counts_can_be_left_unasked(llm, client):
    llm.script(Reply(text="Fine."))
    events = [event async for event in model(client, usage=False).stream(MESSAGES)]
    assert events == [TextDelta("Fine.")]
    assert "stream_options" not in llm.requests[0]  # for servers that refuse the option


async def test_a_meter_counts_requests_tokens_and_keeps_counts_out_of_the_answer(llm, client):
    llm.script(Reply(text="One two."), Reply(text="Three."))
    meter = Meter()
    first = [event async for event in meter.wrap(model(client).stream(MESSAGES))]
    second = [event async for event in meter.wrap(model(client).stream(MESSAGES))]
    assert all(isinstance(event, TextDelta) for event in first + second)
    assert text_of(first) == "One two." and second == [TextDelta("Three.")]
    use = meter.use()
    assert use is not None and use.requests == 2
    assert (use.prompt_tokens, use.completion_tokens) == (6, 3)
    assert use.first_token_ms is not None and use.total_ms >= use.first_token_ms
    assert Meter().use() is None  # no request, no model use


async def test_tool_calls_are_assembled(llm, client):
    llm.script(
        Reply(
            text="One moment.",
            tool_calls=(ToolCall("set_slot", {"name": "full_name", "value": "Dana Scully"}, "c1"),),
        )
    )
    tools = [{"type": "function", "function": {"name": "set_slot", "parameters": {}}}]
    events = await collect(model(client).stream(MESSAGES, tools))
    assert text_of(events[:-1]) == "One moment."
    call = events[-1]
    assert isinstance(call, ToolCallRequest)
    assert (call.id, call.name) == ("c1", "set_slot")
    assert call.arguments == '{"name":"full_name","value":"Dana Scully"}'
    assert llm.requests[0]["tools"] == tools


async def test_retries_within_the_first_token_deadline(llm, client):
    llm.script(Reply(status=500), Reply(text="Fine."))
    events = await collect(model(client, retries=1).stream(MESSAGES))
    assert events == [TextDelta("Fine.")]
    assert llm.stats.requests == 2


async def test_errors_without_retries_left(llm, client):
    llm.script(Reply(status=429), Reply(status=429))
    with pytest.raises(LLMError, match="HTTP 429"):
        await collect(model(client, retries=1).stream(MESSAGES))
    llm.script(Reply(status=400))
    with pytest.raises(LLMError, match="HTTP 400"):
        await collect(model(client, retries=3).stream(MESSAGES))
    assert llm.stats.requests == 3  # a 400 is not retried


async def test_first_token_deadline_closes_upstream(llm, client):
    llm.script(Reply(text="Late.", first_token_delay=5))
    with pytest.raises(LLMTimeout):
        await collect(model(client, first_token_timeout=0.2).stream(MESSAGES))
    assert await llm.wait_for(lambda s: s.closed_early == 1, timeout=2)


async def test_turn_deadline_stops_a_dragging_answer(llm, client):
    llm.script(Reply(text="a b c d e f g h", token_delay=0.2))
    received = []
    with pytest.raises(LLMTimeout):
        async for event in model(client, turn_timeout=0.5).stream(MESSAGES):
            received.append(event)
    assert 1 <= len(received) < 8
    assert await llm.wait_for(lambda s: s.closed_early == 1, timeout=2)


async def test_a_stalled_stream_times_out(llm, client):
    llm.script(Reply(tokens=("Hello", " there"), token_delay=5))
    received = []
    started = asyncio.get_running_loop().time()
    with pytest.raises(LLMTimeout):
        async for event in model(client, turn_timeout=0.5).stream(MESSAGES):
            received.append(event)
    assert received == [TextDelta("Hello")]
    assert asyncio.get_running_loop().time() - started < 3


async def test_broken_stream_is_an_llm_error(llm, client):
    llm.script(Reply(text="one two three four", disconnect_after=2))
    received = []
    with pytest.raises(LLMError):
        async for event in model(client).stream(MESSAGES):
            received.append(event)
    assert text_of(received) == "one two"


async def test_cancelling_the_consumer_closes_upstream_at_once(llm, client):
    llm.script(Reply(text=" ".join(["word"] * 50), token_delay=0.05))

    async def consume() -> None:
        async for _ in model(client).stream(MESSAGES):
            pass

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await llm.wait_for(lambda s: s.closed_early == 1, timeout=1)


WORDS = " ".join(f"w{i}" for i in range(24))


@pytest.mark.parametrize("path", ["direct", "client's own"])
async def test_the_rest_of_a_direct_answer_gathers_once_its_first_words_are_out(llm, client, path):
    async def key() -> str:
        return "k"

    own = openai.AsyncOpenAI(base_url=llm.base_url, api_key=key, max_retries=0)
    chat = model(client if path == "direct" else own, gather=0.08)
    llm.script(Reply(text=WORDS, token_delay=0.01))
    try:
        deltas = [e async for e in chat.stream(MESSAGES) if isinstance(e, TextDelta)]
    finally:
        await own.close()
    assert "".join(d.text for d in deltas) == WORDS
    assert WORDS.startswith(deltas[0].text) and len(deltas[0].text) < 10  # never waits
    if path == "direct":  # 24 tokens 10 ms apart: a read every 80 ms takes several at a time
        assert 2 <= len(deltas) <= 8
    else:  # the client's stream hands over a packet at a time: nothing is held back for it
        assert len(deltas) >= 16


async def test_with_no_gathering_each_token_is_its_own_piece(llm, client):
    llm.script(Reply(text=WORDS, token_delay=0.01))
    deltas = [e async for e in model(client).stream(MESSAGES) if isinstance(e, TextDelta)]
    assert "".join(d.text for d in deltas) == WORDS
    assert len(deltas) >= 16


async def test_an_answer_superseded_while_it_gathers_drops_its_connection(llm, client):
    llm.script(Reply(text=WORDS, token_delay=0.01), Reply(text="Next answer."))
    chat = model(client, gather=5.0)
    stream = chat.stream(MESSAGES)
    first = await anext(stream)
    consumer = asyncio.create_task(anext(stream))  # now gathering
    await asyncio.sleep(0.1)
    consumer.cancel()
    with pytest.raises(asyncio.CancelledError):
        await consumer
    await stream.aclose()
    assert first == TextDelta("w0")
    assert await llm.wait_for(lambda s: s.closed_early == 1, timeout=2)
    assert text_of(await collect(chat.stream(MESSAGES))) == "Next answer."


async def test_a_socket_the_http_client_holds_back_itself_stays_held(llm, client):
    # aiohttp pauses a connection whose buffer is full; gathering must not resume it.
    llm.script(Reply(text=WORDS, token_delay=0.01))
    chat = model(client, gather=0.05)
    endpoint = await endpoint_of(client, "test-model")
    session = aiohttp.ClientSession()
    try:
        upstream = await open_direct(session, endpoint, chat._body(MESSAGES, None))
        connection = upstream._response.connection
        assert connection is not None and connection.transport is not None
        transport = connection.transport
        await upstream.gather(0.05)
        assert transport.is_reading()  # ours to pause, ours to resume
        transport.pause_reading()
        await upstream.gather(0.05)
        assert not transport.is_reading()
        transport.resume_reading()
        await upstream.close()
    finally:
        await session.close()


async def test_azure_client_works_unchanged(llm, monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", llm.base_url.removesuffix("/v1"))
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", "azure-key")
    monkeypatch.setenv("OPENAI_API_VERSION", "2024-06-01")
    client = make_client(Settings(model="my-deployment"))
    assert isinstance(client, openai.AsyncAzureOpenAI)
    llm.script(Reply(text="From Azure."))
    model_ = OpenAIChatModel(client, model="my-deployment")
    try:
        events = await collect(model_.stream(MESSAGES))
    finally:
        await model_.aclose()
        await client.close()
    assert text_of(events) == "From Azure."
    assert llm.paths[-1] == (
        "/openai/deployments/my-deployment/chat/completions?api-version=2024-06-01"
    )
    assert llm.headers[-1]["api-key"] == "azure-key"


async def test_client_selection_from_standard_variables(monkeypatch):
    for name in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert make_client(Settings()) is None
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:1/v1")
    local = make_client(Settings())  # local servers need no key
    assert isinstance(local, openai.AsyncOpenAI) and local.max_retries == 0
    await local.close()
    assert make_client(Settings(llm_provider="none")) is None


async def test_a_compressed_stream_is_decoded():
    # A proxy in front of the model may gzip the event stream; the body is then decoded by the
    # client before we split it into events.
    from aiohttp import web

    from engine.testing.server import free_port

    async def chat(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        response.enable_compression(web.ContentCoding.gzip)
        await response.prepare(request)
        for piece, finish in (("Zipped", None), (" answer.", "stop")):
            chunk = {
                "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": finish}]
            }
            await response.write(b"data: " + orjson.dumps(chunk) + b"\n\n")
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    client = openai.AsyncOpenAI(
        base_url=f"http://127.0.0.1:{port}/v1",
        api_key="k",
        max_retries=0,
        http_client=openai.DefaultAioHttpClient(),
    )
    zipped = OpenAIChatModel(client, model="test-model")
    try:
        events = await collect(zipped.stream(MESSAGES))
    finally:
        await zipped.aclose()
        await client.close()
        await runner.cleanup()
    assert text_of(events) == "Zipped answer."


async def test_requests_are_what_the_openai_client_itself_sends(llm, client):
    """The frozen request (URL, headers, body) equals the client's own, field for field."""
    tools = [{"type": "function", "function": {"name": "set_name", "parameters": {}}}]
    llm.script(Reply(text="Ours."), Reply(text="Theirs."))
    await collect(model(client, temperature=0.3, max_tokens=40).stream(MESSAGES, tools))
    stream = await client.chat.completions.create(
        model="test-model",
        messages=MESSAGES,  # type: ignore[arg-type]
        stream=True,
        temperature=0.3,
        max_tokens=40,
        tools=tools,  # type: ignore[arg-type]
        stream_options={"include_usage": True},  # ours asks for token counts too
    )
    async for _ in stream:
        pass
    ours, theirs = llm.requests
    assert ours == theirs  # the same JSON body
    assert llm.paths[0] == llm.paths[1] == "/v1/chat/completions"
    transport = {"host", "content-length", "connection", "accept-encoding"}

    def application(headers: dict[str, str]) -> dict[str, str]:
        return {k: v for k, v in headers.items() if k not in transport}

    assert application(llm.headers[0]) == application(llm.headers[1])
    assert llm.headers[0]["authorization"] == "Bearer k"


async def test_refreshing_credentials_go_through_the_clients_own_path(llm):
    keys = iter(["first-key", "second-key"])

    async def key() -> str:
        return next(keys)

    client = openai.AsyncOpenAI(base_url=llm.base_url, api_key=key, max_retries=0)
    refreshing = OpenAIChatModel(client, model="test-model")
    llm.script(Reply(text="One."), Reply(text="Two."))
    try:
        await collect(refreshing.stream(MESSAGES))
        await collect(refreshing.stream(MESSAGES))
    finally:
        await refreshing.aclose()
        await client.close()
    assert [h["authorization"] for h in llm.headers] == ["Bearer first-key", "Bearer second-key"]


async def test_the_clients_own_path_streams_piece_by_piece_as_the_direct_one(llm, client):
    async def key() -> str:
        return "k"

    refreshing_client = openai.AsyncOpenAI(base_url=llm.base_url, api_key=key, max_retries=0)
    refreshing = OpenAIChatModel(refreshing_client, model="test-model")
    direct = model(client)
    answers = []
    try:
        for chat in (refreshing, direct):
            llm.script(Reply(text="Hello there, caller.", token_delay=0.05))
            answers.append([event async for event in chat.stream(MESSAGES)])
    finally:
        await refreshing.aclose()
        await refreshing_client.close()
    assert (
        answers[0]
        == answers[1]
        == [
            TextDelta("Hello"),
            TextDelta(" there,"),
            TextDelta(" caller."),
            Usage(prompt_tokens=3, completion_tokens=3),
        ]
    )


async def test_an_answer_read_whole_at_once_is_one_delta_then_its_tool_call_once(llm, client):
    # An instant model: text, tool call, counts and [DONE] may all come in the first read.
    arguments = {"name": "full_name", "value": "Dana Scully"}
    llm.script(Reply(text="One moment.", tool_calls=(ToolCall("set_slot", arguments, "c1"),)))
    tools = [{"type": "function", "function": {"name": "set_slot", "parameters": {}}}]
    events = [event async for event in model(client).stream(MESSAGES, tools)]
    calls = [event for event in events if isinstance(event, ToolCallRequest)]
    assert text_of(events) == "One moment."
    assert [(call.id, orjson.loads(call.arguments)) for call in calls] == [("c1", arguments)]
    assert isinstance(events[-1], Usage)


async def test_a_client_whose_private_request_builder_changed_still_answers(llm, client):
    """The fast path reaches into the openai client's private parts; a release that moves them
    costs speed, never the call: every answer goes through the client's public path instead."""
    import openai._models

    llm.script(Reply(text="Still here."), Reply(text="And again."))
    with pytest.MonkeyPatch.context() as patch:
        patch.delattr(openai._models, "FinalRequestOptions")
        answering = model(client)
        first = await collect(answering.stream(MESSAGES))
        second = await collect(answering.stream(MESSAGES))
    assert text_of(first) == "Still here." and text_of(second) == "And again."
    assert llm.headers[0]["authorization"] == "Bearer k"
    assert [body["messages"] for body in llm.requests] == [MESSAGES, MESSAGES]


@pytest.mark.parametrize(
    "empty",
    [
        Reply(text=""),  # finished, but neither text nor a tool call (llama.cpp, `auto` tools)
        Reply(text="", finish=False),  # no finish reason: pre-empted by another request
    ],
    ids=["no answer", "no finish reason"],
)
async def test_a_stream_that_ends_without_an_answer_is_retried_once_then_an_error(
    llm, client, empty
):
    llm.script(empty, Reply(text="Here I am."))
    events = await collect(model(client, retries=1).stream(MESSAGES))
    assert text_of(events) == "Here I am." and all(isinstance(e, TextDelta) for e in events)
    assert llm.stats.requests == 2
    llm.reset()
    llm.script(empty, empty)
    with pytest.raises(LLMNoAnswer):
        await collect(model(client, retries=1).stream(MESSAGES))
    assert llm.stats.requests == 2


async def test_an_answer_cut_off_without_a_finish_reason_is_an_error_after_its_words(llm, client):
    llm.script(Reply(text="Your table is", finish=False))
    received = []
    with pytest.raises(LLMNoAnswer, match="finish reason"):
        async for event in model(client).stream(MESSAGES):
            received.append(event)
    assert text_of(received) == "Your table is"


async def test_a_forced_tool_call_begun_in_time_may_take_the_turn_to_finish(llm, client):
    # A local model starts the call within the first-token deadline, then streams its
    # arguments slowly: the first piece meets that deadline, the rest the turn's.
    arguments = {"date_of_birth": "1980-03-03", "full_name": "Dana Scully", "reason": "a cough"}
    llm.script(Reply(tool_calls=(ToolCall("record_answer", arguments, "c1"),), token_delay=0.1))
    tools = [{"type": "function", "function": {"name": "record_answer", "parameters": {}}}]
    forced = {"type": "function", "function": {"name": "record_answer"}}
    chat = model(client, first_token_timeout=0.3, turn_timeout=5)
    events = await collect(chat.stream(MESSAGES, tools, tool_choice=forced))
    assert [(e.name, orjson.loads(e.arguments)) for e in events] == [("record_answer", arguments)]
    # Begun too late is still too late.
    llm.script(Reply(tool_calls=(ToolCall("record_answer", arguments),), first_token_delay=1))
    with pytest.raises(LLMTimeout):
        await collect(chat.stream(MESSAGES, tools, tool_choice=forced))


@pytest.mark.parametrize(
    "chunk",
    [
        b'{"choices":[{"index":0,"delta":{"content":" w12"},"finish_reason":null}]}',
        b'{"choices":[{"delta":{"role":"assistant","content":""}}],"usage":null,"error":null}',
        b'{"choices":[{"delta":{},"finish_reason":"stop"}]}',
        b'{"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":2}}',
        b'{"choices":[{"delta":{"tool_calls":[{"index":0,"id":"c1","function":{"name":"f"}}]}}]}',
        b'{"choices":[{"delta":{"content":"a"}},{"delta":{"content":"b"},"finish_reason":"x"}]}',
        b'{"choices":null}',
        b'{"choices":[{"delta":null}]}',
        b'{"choices":[{"delta":{"content":7}}]}',
        b'{"choices":[{"delta":{"content":"x"}}],"error":false}',
    ],
)
def test_a_chunk_of_text_reads_the_same_by_its_fast_path(chunk, monkeypatch):
    # Chunks of text alone are read by a typed decoder; anything else the general way.
    lines = [b"data: " + chunk, b""]

    def read(fast: bool) -> tuple[object, ...]:
        if not fast:
            monkeypatch.setattr(stream_module, "_plain_text", lambda data: None)
        answer = stream_module._Answer()
        try:
            text: object = answer.text_of(lines)
        except Exception as exc:
            text = type(exc)
        return text, answer.finished, answer.usage, answer.calls

    assert read(fast=True) == read(fast=False)
