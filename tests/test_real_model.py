"""The real model path, end to end, against a real local model server (opt-in: `make test-model`).

Every other test talks to the package's own stand-in (:mod:`engine.testing.llm_server`). These
talk to a real OpenAI-compatible server, llama.cpp's (``llama-cpp-python[server]``) with
SmolLM2-135M-Instruct, which ``make test-model`` starts (``tests/model_server.py``) and names in
``DIALPLAN_TEST_MODEL_URL``; without that variable every test here is skipped. They run a real
``dialplan serve`` on the example flows in ``flows/`` (and the single-prompt agent) with that
model, and drive calls over a real WebSocket with the platform's frames.

They judge protocol and shape, never the model's wisdom: a 135M model's words differ from run to
run, so what is asserted is what a caller and an operator rely on. An answer streams in pieces
and is closed with ``content_complete`` under its own ``response_id``; the call goes on after
it; a value the model proposes is stored only where the caller said it; a model that fails or
misses its deadline gives the configured fallback line, never dead air.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from engine.llm import TextDelta, ToolCallRequest, make_client, make_model
from engine.records import CallRecord, Database
from engine.settings import Settings
from engine.testing.platform import Dialog, PlatformCall, Response, Transcript
from engine.testing.server import free_port
from tests.helpers import REPO, bare_environment, support_project
from tests.model_server import stop

URL = os.environ.get("DIALPLAN_TEST_MODEL_URL", "")
LOG = os.environ.get("DIALPLAN_TEST_MODEL_LOG", "")
"""The model server's log, where ``tests/model_server.py`` started it: what it did is read there."""

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(
        not URL,
        reason="opt-in: a real model server (`make test-model` starts one and sets "
        "DIALPLAN_TEST_MODEL_URL)",
    ),
]

# What a CPU model needs (the README's "Checking against a real model"): room for a busy
# machine to read the prompt before the first token, and short answers (a forced function's
# arguments come out at a few tokens a second under llama.cpp's grammar).
MODEL_SETTINGS = {
    "DIALPLAN_MODEL": "smollm2",
    "DIALPLAN_FIRST_TOKEN_TIMEOUT": "20",
    "DIALPLAN_TURN_TIMEOUT": "60",
    "DIALPLAN_MAX_TOKENS": "40",
    "DIALPLAN_CALL_GRACE": "0.5",  # a call whose socket closed is over, and recorded, soon
    "DIALPLAN_FALLBACK_LINE": "Sorry, the line broke up for a moment. Could you say that again?",
}
FALLBACK = MODEL_SETTINGS["DIALPLAN_FALLBACK_LINE"]
WAIT = 90.0  # seconds one answer may take on a shared two-core machine
START = 30.0  # seconds `dialplan serve` may take to answer /healthz


@dataclass
class Served:
    """A ``dialplan serve`` process using the real model, and its call log."""

    port: int
    database: str

    def url(self, call_id: str) -> str:
        return f"ws://127.0.0.1:{self.port}/llm-websocket/{call_id}"

    def record(self, call_id: str) -> CallRecord:
        """The call's record, once the server has written it (bounded: 200 x 50 ms)."""
        log = Database(self.database)
        try:
            for _ in range(200):
                found = log.call(call_id)
                if found is not None:
                    return found
                time.sleep(0.05)
        finally:
            log.close()
        raise AssertionError(f"no record of {call_id}")


@pytest.fixture
def dialplan(call_log: str, tmp_path: Path) -> Iterator[Callable[..., Served]]:
    """``dialplan(**env)``: ``dialplan serve`` of ``flows/`` and ``prompts/`` with the real model.

    It runs in a folder of its own (no ``.env`` of the checkout is read), with the test's call
    log, and is stopped by its PID at the end of the test.
    """
    started: list[subprocess.Popen[bytes]] = []

    def start(flows: Path = REPO / "flows", prompts: Path = REPO / "prompts", **env: str) -> Served:
        port = free_port()
        environment = bare_environment()
        for name in ("DIALPLAN_DATABASE_URL", "DIALPLAN_TODAY"):  # the test's: conftest.py
            environment[name] = os.environ[name]
        environment.update({"OPENAI_BASE_URL": URL, **MODEL_SETTINGS, **env})
        log = tmp_path / f"serve-{len(started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [
                    sys.executable, "-m", "engine.cli", "serve", "--port", str(port),
                    "--flows-dir", str(flows), "--prompts-dir", str(prompts),
                ],
                cwd=tmp_path, env=environment, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        started.append(process)
        healthy(port, process, log)
        return Served(port, call_log)

    yield start
    for process in started:
        stop(process)


def healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START
    while time.monotonic() < deadline:  # bounded in time
        if process.poll() is not None:
            raise AssertionError(f"dialplan serve exited:\n{log.read_text()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"dialplan serve did not answer within {START:g}s:\n{log.read_text()}")


@dataclass
class Measured:
    """What the tests measured, printed at the end of the run."""

    times: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def time(self, name: str, ms: float | None) -> None:
        if ms is not None:
            self.times.setdefault(name, []).append(ms)


@pytest.fixture(scope="module")
def measured(notes: list[str]) -> Iterator[Measured]:
    """What this module's tests measure, reported at the end of the run (``conftest.py``)."""
    numbers = Measured()
    yield numbers
    for name, values in numbers.times.items():
        ordered = sorted(values)
        notes.append(
            f"{name}: median {ordered[(len(ordered) - 1) // 2]:.0f} ms, "
            f"max {ordered[-1]:.0f} ms (n={len(ordered)})"
        )
    notes.extend(numbers.notes)


def spoken(response: Response) -> str:
    """What the caller hears of a whole, closed response (fails on one left open or empty)."""
    assert response.complete, f"response {response.response_id} was not closed"
    assert all(c["response_id"] == response.response_id for c in response.chunks)
    assert response.text.strip(), f"response {response.response_id} said nothing (dead air)"
    return response.text


def pieces(response: Response) -> list[str]:
    return [chunk["content"] for chunk in response.chunks if chunk["content"]]


# -- the single-prompt agent: the model speaks every turn -----------------------------------------


async def test_an_answer_streams_in_pieces_and_is_closed_under_its_id(dialplan, measured):
    server = dialplan(DIALPLAN_AGENT="prompt")
    async with PlatformCall.connect(server.url("model_prompt")) as call:
        dialog = Dialog(call)
        greeting = await dialog.start()
        assert greeting.text == "Hi, thanks for calling. How can I help you today?"
        sent = time.perf_counter()
        first = await dialog.say("Hi! Can you tell me a little about what you can do?", WAIT)
        said = spoken(first)
        assert said != FALLBACK, "the model did not answer in time"
        measured.time(
            "prompt agent, request to first words on the socket", 1000 * (first.first_at - sent)
        )
        if len(said.split()) >= 3:  # streamed as the model writes, not held to the end
            assert len(pieces(first)) >= 2, said
        second = await dialog.say("Okay. Could you say that again, more briefly?", WAIT)
        assert spoken(second) != FALLBACK  # the call goes on after the model's answer
        assert {frame["response_id"] for frame in call.sent("response")} == {0, 1, 2}
    answered = [turn for turn in server.record("model_prompt").turns if turn.kind == "response"]
    assert [turn.outcome for turn in answered] == ["complete", "complete"]
    for turn in answered:
        assert turn.model is not None and turn.model["requests"] == 1
        measured.time(
            "prompt agent, the model's first token (call log)", turn.model["first_token_ms"]
        )
        measured.time("prompt agent, the whole answer (call log)", turn.model["total_ms"])


async def test_a_newer_request_cancels_the_answer_under_way(dialplan):
    # Room for a long answer, so that the first is still being written when the caller barges in.
    server = dialplan(DIALPLAN_AGENT="prompt", DIALPLAN_MAX_TOKENS="150")
    dropped = disconnects()
    async with PlatformCall.connect(server.url("model_barge_in")) as call:
        greeting = await call.response(0)
        transcript = Transcript().agent(greeting.text).user("Tell me a long story about a cat.")
        await call.request(1, transcript)
        await call.expect("response", WAIT, where=lambda f: f["response_id"] == 1)
        transcript.user("Sorry, stop. Are you open today?")  # the caller barges in
        await call.request(2, transcript)
        answer = await call.response(2, WAIT)
        assert spoken(answer) != FALLBACK, "the newer request did not get the model"
        late = [at for at, f in call.frames if f.get("response_id") == 1 and at > answer.first_at]
        assert not late, "the superseded answer went on after the newer one began"
        assert not call.sent("response", response_id=1, content_complete=True)
    turns = {turn.response_id: turn for turn in server.record("model_barge_in").turns}
    assert turns[1].outcome == "superseded"
    assert turns[2].outcome == "complete"
    if dropped is not None:  # the model server stopped writing the superseded answer
        assert (disconnects() or 0) > dropped, "the superseded request was not closed upstream"


def disconnects() -> int | None:
    """Requests llama.cpp's server saw its client close before the end (``None``: no log)."""
    if not LOG:
        return None
    return Path(LOG).read_text(errors="replace").count("Disconnected from client")


async def test_two_calls_at_once_each_get_a_whole_answer(dialplan, measured):
    server = dialplan(DIALPLAN_AGENT="prompt")

    async def one(call_id: str) -> str:
        async with PlatformCall.connect(server.url(call_id)) as call:
            dialog = Dialog(call)
            await dialog.start()
            return spoken(await dialog.say("Hello, what can you help me with today?", WAIT))

    calls = ("model_both_a", "model_both_b")
    said = await asyncio.gather(*(one(call_id) for call_id in calls))
    # Served one after the other (`--interrupt_requests False`, as tests/model_server.py starts
    # it): both hear the model. (With the server's default, the second request cuts the first
    # answer off, which is asked once more, and one of the two may hear the fallback line.)
    assert FALLBACK not in said, said
    for call_id, line in zip(calls, said, strict=True):
        turn = server.record(call_id).turns[1]
        use = turn.model or {}
        heard = "the fallback line" if line == FALLBACK else "the model"
        measured.notes.append(
            f"two calls at once: {call_id} heard {heard} ({use.get('total_ms')} ms; {turn.error})"
        )


async def test_a_model_that_misses_its_deadline_gives_the_fallback_line(dialplan):
    server = dialplan(DIALPLAN_AGENT="prompt", DIALPLAN_FIRST_TOKEN_TIMEOUT="0.01")
    async with PlatformCall.connect(server.url("model_late")) as call:
        dialog = Dialog(call)
        await dialog.start()
        assert spoken(await dialog.say("Hi, are you open on Sundays?", WAIT)) == FALLBACK
        assert spoken(await dialog.say("I said, are you open on Sundays?", WAIT)) == FALLBACK
    turn = server.record("model_late").turns[1]
    assert turn.outcome == "fallback"
    assert turn.error == "no answer from the model within 0.01s"


async def test_a_request_the_model_server_cannot_take_gives_the_fallback_line(dialplan, measured):
    server = dialplan(DIALPLAN_AGENT="prompt")
    async with PlatformCall.connect(server.url("model_too_long")) as call:
        dialog = Dialog(call)
        await dialog.start()
        # Longer than the model's context: llama.cpp's server starts a streamed answer, then
        # drops the connection (a plain request gets HTTP 400).
        assert spoken(await dialog.say("blah " * 12_000, WAIT)) == FALLBACK
        assert spoken(await dialog.say("Sorry about that. Hello?", WAIT))  # the call goes on
    turn = server.record("model_too_long").turns[1]
    assert turn.outcome == "fallback"
    assert turn.error is not None and turn.error.startswith("the model request failed")
    measured.notes.append(f"a request longer than the context: {turn.error}")


# -- flows: the model reads an answer our parsers cannot settle -----------------------------------


async def test_the_model_reads_an_answer_but_stores_nothing_the_caller_never_said(
    dialplan, measured
):
    server = dialplan(DIALPLAN_FLOW="clinic_intake")
    async with PlatformCall.connect(server.url("model_clinic")) as call:
        dialog = Dialog(call)
        await dialog.start()
        asked = await dialog.say("My name is Dana Scully", WAIT)
        assert spoken(asked) == "Thanks, Dana. What is your date of birth?"
        # Nothing our parsers can read: the model is asked (one forced function), and whatever
        # date it proposes, the caller never said one.
        again = await dialog.say("same as my twin sister, you have her on file already", WAIT)
        assert "date of birth" in spoken(again)
        assert again.text != FALLBACK
        reason = await dialog.say("March third nineteen eighty", WAIT)
        assert spoken(reason) == "And what is the reason for your visit?"
    record = server.record("model_clinic")
    read = record.turns[2]
    assert read.model is not None and read.model["requests"] == 1, "the model was not asked"
    assert not [u for u in read.understood if u["kind"] == "slot"], read.understood
    assert record.slots["date_of_birth"] == "1980-03-03"
    assert record.path[:3] == ["ask_name", "ask_dob", "ask_reason"]
    measured.time("flow, the model reading one answer (call log)", read.model["total_ms"])


async def test_a_model_that_misses_its_deadline_leaves_the_flow_where_it_was(dialplan):
    server = dialplan(DIALPLAN_FLOW="clinic_intake", DIALPLAN_FIRST_TOKEN_TIMEOUT="0.01")
    async with PlatformCall.connect(server.url("model_clinic_late")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully", WAIT)
        late = await dialog.say("same as my twin sister, you have her on file already", WAIT)
        assert spoken(late) == FALLBACK
        # The caller says it again, so our parsers can read it: still the date of birth.
        reason = await dialog.say("March third nineteen eighty", WAIT)
        assert spoken(reason) == "And what is the reason for your visit?"
    record = server.record("model_clinic_late")
    assert record.turns[2].outcome == "fallback"
    assert record.turns[2].error == "no answer from the model within 0.01s"
    assert record.slots["date_of_birth"] == "1980-03-03"


async def test_a_date_the_model_reads_is_stored_only_as_the_caller_said_it(dialplan, measured):
    server = dialplan(DIALPLAN_FLOW="clinic_intake")
    async with PlatformCall.connect(server.url("model_dob")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("My name is Dana Scully", WAIT)
        # Year first: our parsers ask for the year again; the model may read it (a small one
        # often proposes another year, or none).
        answer = await dialog.say("oh, nineteen eighty, the third of march", WAIT)
        spoken(answer)
    record = server.record("model_dob")
    turn = record.turns[2]
    assert record.slots.get("date_of_birth") in (None, "1980-03-03"), record.slots
    if record.slots.get("date_of_birth") is None:
        assert "date of birth" in answer.text  # asked again, nothing guessed
    by_model = [u for u in turn.understood if u["kind"] == "slot" and u["by"] == "model"]
    measured.notes.append(
        "a year-first date of birth: "
        + ("read by our parsers" if turn.model is None else f"model stored {by_model or 'nothing'}")
        + (f", refused {turn.refused}" if turn.refused else "")
    )
    if turn.model is not None:
        measured.time("flow, the model reading one answer (call log)", turn.model["total_ms"])


async def test_a_prompt_state_speaks_and_its_values_come_from_the_caller(dialplan, tmp_path):
    flows = support_project(
        tmp_path,
        "You are Acme's support line. Answer in one sentence.",
        "Ask for an email address to send the fix to.",
        context=False,
    )
    server = dialplan(flows=flows, prompts=tmp_path / "prompts")
    async with PlatformCall.connect(server.url("model_support")) as call:
        dialog = Dialog(call)
        await dialog.start()
        # Nothing our parsers can place: the model speaks, offered set_product and set_email
        # unforced (no tool_choice). llama.cpp's server answers in words and calls none.
        first = await dialog.say("the thing with the blinking light is broken", WAIT)
        assert spoken(first) != FALLBACK
        named = await dialog.say("it's my wifi box", WAIT)  # our parsers: the router
        assert spoken(named) != FALLBACK  # ask_email: the model asks in its own words
        done = await dialog.say("it's dana at example dot com", WAIT)
        assert spoken(done) == "Thanks, we'll email dana at example dot com about your router."
        assert done.flag("end_call") is True
    record = server.record("model_support")
    offered = record.turns[1]
    assert offered.model is not None and offered.state_after == "triage"
    assert record.slots == {"product": "router", "email": "dana@example.com"}
    for turn in record.turns:
        assert all(u["by"] == "parser" for u in turn.understood if u["kind"] == "slot")


# -- the model's own stream, through the engine's client ------------------------------------------


@dataclass
class Timed:
    """The events of one answer, and when the first and the last came (ms from the request)."""

    events: list[Any]
    first_ms: float
    total_ms: float


@pytest.fixture
def model(monkeypatch: pytest.MonkeyPatch) -> Callable[..., Any]:
    """``await model(messages, tools, tool_choice=...)``: one answer, as :class:`Timed`."""
    monkeypatch.setenv("OPENAI_BASE_URL", URL)
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("AZURE_OPENAI_ENDPOINT", raising=False)
    settings = Settings(
        llm_provider="openai", model="smollm2", first_token_timeout=20, turn_timeout=60,
        max_tokens=40, log_level="WARNING",
    )  # fmt: skip

    async def answer(messages: list[dict[str, Any]], *args: Any, **kw: Any) -> Timed:
        client = make_client(settings)
        assert client is not None
        chat = make_model(settings, client)
        events, first = [], 0.0
        started = time.perf_counter()
        try:
            async for event in chat.stream(messages, *args, **kw):
                first = first or time.perf_counter() - started
                events.append(event)
        finally:
            await chat.aclose()
            await client.close()
        return Timed(events, 1000 * first, 1000 * (time.perf_counter() - started))

    return answer


PARTY = {
    "type": "function",
    "function": {
        "name": "record_answer",
        "description": "Record what the caller's last words give for each field.",
        "parameters": {
            "type": "object",
            "properties": {"party_size": {"type": "integer", "minimum": 1, "maximum": 10}},
            "required": [],
        },
    },
}
BOOKING = [
    {"role": "system", "content": "Record the caller's answer with record_answer."},
    {"role": "assistant", "content": "How many people will be joining?"},
    {"role": "user", "content": "A table for four please"},
]


async def test_text_streams_as_many_pieces(model, measured):
    answer = await model([{"role": "user", "content": "Count from one to ten in words."}])
    texts = [event.text for event in answer.events if isinstance(event, TextDelta)]
    assert len(texts) >= 2, texts
    assert "".join(texts).strip()
    measured.time("a short prompt, the first token", answer.first_ms)
    measured.time(f"a short prompt, {len(texts)} pieces of text", answer.total_ms)


async def test_a_forced_function_comes_back_whole_with_json_arguments(model, measured):
    choice = {"type": "function", "function": {"name": "record_answer"}}
    answer = await model(BOOKING, [PARTY], tool_choice=choice)
    calls = [event for event in answer.events if isinstance(event, ToolCallRequest)]
    assert [call.name for call in calls] == ["record_answer"]
    assert isinstance(orjson.loads(calls[0].arguments), dict), calls[0].arguments
    assert not [e for e in answer.events if isinstance(e, TextDelta) and e.text.strip()]
    measured.time("a forced function call, whole", answer.total_ms)
    measured.notes.append(f"a forced function call's arguments: {calls[0].arguments}")


async def test_functions_offered_unforced_are_answered_in_words(model):
    # What a prompt state sends (its set_ tools, no tool_choice): with the model's own chat
    # template, llama.cpp's server writes text and never calls a function.
    events = (await model(BOOKING[1:], [PARTY])).events
    assert "".join(e.text for e in events if isinstance(e, TextDelta)).strip()
    assert not [event for event in events if isinstance(event, ToolCallRequest)]
