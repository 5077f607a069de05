"""Traces of calls: a span per turn, the model request and actions under it (OpenTelemetry).

Recorded with the SDK's in-memory exporter (the dev tools have the SDK; nothing is installed
at run time). Without the otel extra, the server runs as before: a `dialplan serve` that
cannot import opentelemetry at all takes calls, with or without an endpoint set.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from engine import tracing
from engine.testing.platform import Dialog, PlatformCall
from engine.testing.server import free_port
from tests.helpers import EXAMPLE, finish, serve, wait_healthy


@pytest.fixture
def spans() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.use(provider)
    try:
        yield exporter
    finally:
        tracing.use(None)
        provider.shutdown()


async def test_each_turn_is_a_span_and_an_action_a_child_of_it(start_server, spans, no_llm):
    server = start_server(
        agent="flow", flows_dir=EXAMPLE / "flows", prompts_dir=EXAMPLE / "prompts", flow="booking"
    )
    async with PlatformCall.connect(server.url("call_traced")) as call:
        dialog = Dialog(call)
        await dialog.start()
        for line in ("A table for four please", "tomorrow", "eight pm"):
            await dialog.say(line)
    finished = spans.get_finished_spans()
    turns = [s for s in finished if s.name == "dialplan.turn"]
    assert len(turns) == 3
    first = dict(turns[0].attributes or {})
    assert first["dialplan.call_id"] == "call_traced" and first["dialplan.response_id"] == 1
    assert (first["dialplan.state.before"], first["dialplan.state.after"]) == (
        "ask_party",
        "ask_date",
    )
    assert first["dialplan.turn.understood"] == ("slot party_size by parser",)
    assert first["dialplan.turn.model_used"] is False
    assert first["dialplan.turn.outcome"] == "complete"
    assert first["dialplan.turn.first_speech_ms"] >= 0
    (action,) = [s for s in finished if s.name == "execute_tool booking.check_availability"]
    assert action.parent is not None and action.parent.span_id == turns[2].context.span_id
    assert action.attributes is not None
    assert action.attributes["gen_ai.operation.name"] == "execute_tool"
    assert action.attributes["gen_ai.tool.name"] == "booking.check_availability"
    # What the caller said is personal data: no span holds it.
    said = ("A table for four", "tomorrow", "eight pm", "four please")
    for span in finished:
        for value in (span.attributes or {}).values():
            assert not any(words in str(value) for words in said), (span.name, value)


async def test_a_model_request_is_a_child_span_named_by_the_genai_conventions(
    start_server, spans, llm
):
    server = start_server(agent="prompt", model="test-model", temperature=0.2, max_tokens=50)
    async with PlatformCall.connect(server.url("call_model")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("What time do you open?")
    finished = spans.get_finished_spans()
    (turn,) = [s for s in finished if s.name == "dialplan.turn"]
    (chat,) = [s for s in finished if s.name == "chat test-model"]
    assert chat.parent is not None and chat.parent.span_id == turn.context.span_id
    attributes = dict(chat.attributes or {})
    assert attributes["gen_ai.operation.name"] == "chat"
    assert attributes["gen_ai.request.model"] == "test-model"
    assert attributes["gen_ai.request.temperature"] == 0.2
    assert attributes["gen_ai.request.max_tokens"] == 50
    assert attributes["gen_ai.usage.input_tokens"] > 0
    assert attributes["gen_ai.usage.output_tokens"] > 0
    assert chat.kind.name == "CLIENT"
    assert dict(turn.attributes or {})["dialplan.turn.model_used"] is True


def test_nothing_is_traced_and_nothing_imported_without_an_endpoint():
    assert tracing.from_environment({}) is False
    assert not tracing.enabled()
    with tracing.span("dialplan.turn") as span:
        span.set_attribute("x", 1)  # a no-op
    tracing.start("chat m").end()


@pytest.mark.parametrize("endpoint", [None, "http://127.0.0.1:4318"])
async def test_the_server_runs_without_the_otel_extra(tmp_path: Path, endpoint):
    # A folder first on the path whose `opentelemetry` cannot be imported: the extra is absent.
    blocker = tmp_path / "blocker" / "opentelemetry"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('the otel extra is not installed')\n")
    port = free_port()
    environment = {"PYTHONPATH": str(blocker.parent), "DIALPLAN_LOG_LEVEL": "INFO"}
    if endpoint:
        environment["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
    process = serve("--port", str(port), "--flow", "clinic_intake", env=environment)
    try:
        wait_healthy(port, process)
        async with PlatformCall.connect(f"ws://127.0.0.1:{port}/llm-websocket/call_plain") as call:
            dialog = Dialog(call)
            await dialog.start()
            answer = await dialog.say("My name is Dana Scully")
            assert answer.text
    finally:
        process.send_signal(signal.SIGTERM)
        output = finish(process, 30)
    assert ("tracing.unavailable" in output) == bool(endpoint)
    assert "Traceback" not in output
