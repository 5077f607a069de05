"""`prompt` states: the model speaks, guided by the state's template, with the flow's tools."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from engine.testing.llm_server import LLMTestServer, Reply, ToolCall
from engine.testing.platform import Dialog, PlatformCall
from tests.helpers import support_project


@pytest.fixture
def support(start_server, tmp_path: Path):  # type: ignore[no-untyped-def]
    flows = support_project(
        tmp_path,
        "You are Acme's support line.",
        "Ask for an email address to send the {{ slots.product }} fix to.",
    )
    return start_server(
        agent="flow", flows_dir=flows, prompts_dir=tmp_path / "prompts", flow="support"
    )


async def test_model_speaks_prompt_states_with_tools(llm: LLMTestServer, support):
    llm.script(
        # triage, caller turn: the parsers cannot place "the thing with the blinking light".
        Reply(
            text="Ah, the router. ",
            tool_calls=(ToolCall("set_product", {"value": "router"}),),
        ),
        # ask_email, entered in the same response: the model asks in its own words.
        Reply(text="What email should I send the fix to?"),
    )
    async with PlatformCall.connect(support.url("support_1")) as call:
        dialog = Dialog(call)
        await dialog.start()
        first = await dialog.say("the thing with the blinking light is broken")
        done = await dialog.say("it's dana at example dot com")
    assert first.text == "Ah, the router. What email should I send the fix to?"
    assert done.text == "Thanks, we'll email dana at example dot com about your router."
    assert done.flag("end_call") is True
    triage, ask = llm.requests
    system = triage["messages"][0]["content"]
    assert system.startswith("You are Acme's support line.")
    assert "Find out which product" in system
    assert {t["function"]["name"] for t in triage["tools"]} == {"set_product", "set_email"}
    enum = triage["tools"][0]["function"]["parameters"]["properties"]["value"]
    assert set(enum["enum"]) == {"router", "phone"}
    # Entering a prompt state, the model only speaks (no tools), with the slots it knows.
    assert "tools" not in ask
    assert "send the router fix" in ask["messages"][0]["content"]
    assert '"product":"router"' in ask["messages"][0]["content"]
    # `context: state`: only what was said since entering the state.
    assert [m["role"] for m in ask["messages"]] == ["system"]


async def test_the_models_pieces_reach_the_caller_as_it_wrote_them(llm: LLMTestServer, support):
    # Real models split words and punctuation across pieces; only separate lines get a space.
    llm.script(
        Reply(
            tokens=("Ah", ",", " the", " rout", "er", "."),
            tool_calls=(ToolCall("set_product", {"value": "router"}),),
        ),
        Reply(tokens=("What", " e", "mail", " should", " I", " use", "?")),
    )
    async with PlatformCall.connect(support.url("support_pieces")) as call:
        dialog = Dialog(call)
        await dialog.start()
        first = await dialog.say("the thing with the blinking light is broken")
    assert first.text == "Ah, the router. What email should I use?"


async def test_prompt_state_without_a_model_is_degraded_not_down(no_llm, support):
    async with PlatformCall.connect(support.url("support_2")) as call:
        dialog = Dialog(call)
        await dialog.start()
        answer = await dialog.say("my modem is broken")  # a synonym our parsers know
    assert answer.text == "Sorry, I can't help with that on this line."
    assert answer.complete
    async with httpx.AsyncClient() as http:
        ready = await http.get(support.http("/readyz"))
    # Every call still works: the flow is degraded, the server ready.
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True and body["problems"] == []
    (support_flow,) = body["flows"]
    assert support_flow["flow"] == "support"
    assert support_flow["state"] == "degraded"
    assert support_flow["default"] is True
    assert support_flow["problems"] == [
        "states triage, ask_email have the model speak and no model is configured: they say "
        "their reask line"
    ]


async def test_the_model_sees_what_the_call_learned_in_the_same_state(llm: LLMTestServer, support):
    # The system prompt is made again only when what it shows changes: a value learned while
    # the call stays in its state must still reach the model's next prompt.
    llm.script(
        Reply(text="Which device is it?"),
        Reply(text="Thanks. And which device is it?"),
        Reply(text="Which device is giving you trouble?"),
    )
    async with PlatformCall.connect(support.url("support_learned")) as call:
        dialog = Dialog(call)
        await dialog.start()
        await dialog.say("it keeps dropping out")
        await dialog.say("my email is dana@example.com")
        await dialog.say("it keeps dropping out, as I said")
    asked, learned, again = (request["messages"][0]["content"] for request in llm.requests)
    assert "Known so far" not in asked
    assert '"email":"dana@example.com"' in learned
    assert '"email":"dana@example.com"' in again
