"""What an agent can make the platform do: action flags, bookkeeping events, interrupts."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from engine.agent import CallInfo, Greeting, Part, Speech, Turn
from engine.llm import ChatModel
from engine.protocol import (
    CallControl,
    Metadata,
    RawTranscript,
    ToolCallInvocation,
    ToolCallResult,
    UpdateAgent,
)
from engine.server import create_app
from engine.settings import Settings
from engine.testing.platform import PlatformCall, Transcript


class ScriptedConversation:
    """Answers each caller line from a table of canned parts."""

    wants_call_details = False

    def __init__(self, script: dict[str, list[Part]]) -> None:
        self.script = script

    def greeting(self, call: CallInfo) -> Greeting:
        return Greeting("Hello.", CallControl(no_interruption_allowed=True))

    def observe(self, transcript: RawTranscript, turntaking: str | None) -> None:
        pass

    def close(self) -> None:
        pass

    async def respond(self, turn: Turn) -> AsyncIterator[Part]:
        for part in self.script[turn.transcript[-1].content]:
            if part == "pause":
                await asyncio.sleep(5)
            else:
                yield part


class ScriptedAgent:
    def __init__(self, script: dict[str, list[Part]]) -> None:
        self.script = script

    def start(self, call: CallInfo) -> ScriptedConversation:
        return ScriptedConversation(self.script)

    def accepts(self, call: CallInfo) -> str | None:
        return None

    def problems(self) -> list[str]:
        return []


SCRIPT: dict[str, list[Part]] = {
    "transfer me": [
        CallControl(transfer_number="+14155550123", no_interruption_allowed=True),
        Speech("Transferring you now."),
    ],
    "bye": [Speech("Thanks for calling, "), CallControl(end_call=True), Speech("goodbye!")],
    "press": [CallControl(digit_to_press="1#"), Speech("Pressing one.")],
    "look it up": [
        Speech("Let me check. "),
        ToolCallInvocation("tc_1", "lookup_order", '{"order_id":"A-1009"}'),
        ToolCallResult("tc_1", '{"status":"shipped"}', successful=True),
        UpdateAgent({"responsiveness": 3, "reminder_trigger_ms": 4000, "reminder_max_count": -2}),
        Metadata({"ui_state": "show_order"}),
        Speech("It shipped yesterday."),
    ],
    "crash": [Speech("Hmm, "), ValueError("bug")],  # type: ignore[list-item]
    "wait": ["pause"],  # type: ignore[list-item]
}


class CrashingConversation(ScriptedConversation):
    async def respond(self, turn: Turn) -> AsyncIterator[Part]:
        if turn.transcript[-1].content == "crash early":
            raise RuntimeError("bug before speaking")
        async for part in super().respond(turn):
            if isinstance(part, Exception):
                raise part
            yield part


class CrashingAgent(ScriptedAgent):
    def start(self, call: CallInfo) -> CrashingConversation:
        return CrashingConversation(self.script)


def scripted_app(settings: Settings):  # type: ignore[no-untyped-def]
    def build(settings: Settings, model: ChatModel | None) -> CrashingAgent:
        return CrashingAgent(SCRIPT)

    return create_app(settings, build_agent=build)


async def ask(call: PlatformCall, response_id: int, line: str):  # type: ignore[no-untyped-def]
    await call.request(response_id, Transcript().user(line))
    return await call.response(response_id)


async def test_greeting_carries_its_actions(no_llm, start_server):
    server = start_server(scripted_app)
    async with PlatformCall.connect(server.url("call_g")) as call:
        greeting = await call.response(0)
    assert greeting.chunks[0]["no_interruption_allowed"] is True


async def test_action_flags_ride_on_a_chunk_with_content(no_llm, start_server):
    server = start_server(scripted_app)
    async with PlatformCall.connect(server.url("call_a")) as call:
        await call.response(0)
        transfer = await ask(call, 1, "transfer me")
        bye = await ask(call, 2, "bye")
        press = await ask(call, 3, "press")
    first = transfer.chunks[0]
    assert first["content"] == "Transferring you now."
    assert first["transfer_number"] == "+14155550123"
    assert first["no_interruption_allowed"] is True
    assert "end_call" not in first
    assert bye.text == "Thanks for calling, goodbye!"
    carrying = [c for c in bye.chunks if c.get("end_call")]
    assert carrying and any(c["content"] for c in carrying)
    assert "end_call" not in bye.chunks[0] or bye.chunks[0]["content"] == bye.text
    assert press.flag("digit_to_press") == "1#"


async def test_bookkeeping_events_are_sent_in_order(no_llm, start_server):
    server = start_server(scripted_app)
    async with PlatformCall.connect(server.url("call_t")) as call:
        await call.response(0)
        answer = await ask(call, 1, "look it up")
        await asyncio.sleep(0.05)
    kinds = [f["response_type"] for _, f in call.frames]
    assert kinds.index("tool_call_invocation") < kinds.index("tool_call_result")
    invocation = call.sent("tool_call_invocation")[0]
    assert invocation == {
        "response_type": "tool_call_invocation",
        "tool_call_id": "tc_1",
        "name": "lookup_order",
        "arguments": '{"order_id":"A-1009"}',
    }
    assert call.sent("tool_call_result")[0]["successful"] is True
    update = call.sent("update_agent")[0]["agent_config"]
    assert update == {"responsiveness": 1.0, "reminder_trigger_ms": 4000, "reminder_max_count": 0}
    assert call.sent("metadata")[0]["metadata"] == {"ui_state": "show_order"}
    assert answer.text == "Let me check. It shipped yesterday."


async def test_update_agent_is_sent_again_after_a_reconnect(no_llm, start_server):
    server = start_server(scripted_app)
    async with PlatformCall.connect(server.url("call_u")) as call:
        await call.response(0)
        await ask(call, 1, "look it up")
        call.drop()
    async with PlatformCall.connect(server.url("call_u")) as again:
        await again.response(0)
        update = await again.expect("update_agent")
    assert update["agent_config"]["reminder_trigger_ms"] == 4000


async def test_a_crashing_conversation_still_closes_the_response(no_llm, start_server):
    server = start_server(scripted_app, fallback_line="Sorry about that.")
    async with PlatformCall.connect(server.url("call_c")) as call:
        await call.response(0)
        late = await ask(call, 1, "crash")
        early = await ask(call, 2, "crash early")
        fine = await ask(call, 3, "bye")
    assert late.text == "Hmm, " and late.complete
    assert early.text == "Sorry about that." and early.complete
    assert fine.text == "Thanks for calling, goodbye!"


async def test_interrupt_and_hang_up_through_the_session(no_llm, start_server):
    server = start_server(scripted_app)
    async with PlatformCall.connect(server.url("call_i")) as call:
        await call.response(0)
        await call.request(1, Transcript().user("wait"))
        await asyncio.sleep(0.05)
        session = server.runtime.store.get("call_i").owner
        ids = [
            server.run_coroutine(_interrupt(session, text))
            for text in ("Sorry to cut in.", "Again.")
        ]
        first = await call.expect("agent_interrupt")
        second = await call.expect("agent_interrupt")
        server.run_coroutine(session.hang_up())
        await asyncio.wait_for(call.closed.wait(), 3)
    assert ids == [1, 2]
    assert first == {
        "response_type": "agent_interrupt",
        "interrupt_id": 1,
        "content": "Sorry to cut in.",
        "content_complete": True,
        "no_interruption_allowed": True,
    }
    assert second["interrupt_id"] == 2
    assert call.close_code == 1000
    assert not call.sent("response", response_id=1)  # the interrupted response was dropped


async def _interrupt(session, text: str) -> int:  # type: ignore[no-untyped-def]
    return session.interrupt(text)
