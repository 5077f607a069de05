"""`dialplan prompt` and the chat's /prompt: the very request a call sends to the model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import date
from pathlib import Path

import openai
import pytest

from engine.agent import CallInfo
from engine.cli import chat as chat_module
from engine.flow import FlowRunner
from engine.flow.preview import preview
from engine.llm import OpenAIChatModel
from engine.testing.llm_server import LLMTestServer, Reply
from tests.helpers import bare_environment, project, write_project

FLOW = """\
flow: shop
persona: shop/persona.j2
begin: Hi, this is the shop. How many tables?
slots:
  party_size: {type: number, min: 1, max: 10, description: how many people}
  request: {type: text, description: what the caller wants}
states:
  ask_party:
    say: How many tables?
    collect: [party_size]
    next: [{to: help}]
  help:
    prompt: shop/help.j2
    reask: What can I do for you?
    collect: [request]
    next: [{to: done}]
  done:
    say: Bye.
    end_call: true
global:
  - {intent: human, description: the caller asks for a person, examples: [a person], to: done}
"""
PROMPTS = {
    "shop/persona.j2": "You answer the phone for {{ call.metadata.company }}.\n",
    "shop/help.j2": "Help with a table for {{ slots.party_size }}, {{ "
    "call.retell_llm_dynamic_variables.first_name | default('caller') }}.\n",
}
TODAY = date(2026, 11, 25)
METADATA = {"metadata": {"company": "Luigi's"}}


@pytest.fixture(scope="module")
def server() -> Iterator[LLMTestServer]:
    with LLMTestServer(default=Reply(text="Sure.")) as running:
        yield running


@pytest.fixture
async def model(server: LLMTestServer) -> AsyncIterator[OpenAIChatModel]:
    server.reset()
    client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
    chat_model = OpenAIChatModel(client, model="test", first_token_timeout=10, turn_timeout=30)
    yield chat_model
    await chat_model.aclose()
    await client.close()


def sent(request: dict[str, object]) -> dict[str, object]:
    """What the engine decides in a request (the rest is the client's: model, stream)."""
    return {key: request[key] for key in ("messages", "tools", "tool_choice") if key in request}


async def test_the_preview_is_what_a_call_sends(tmp_path, model, server):
    write_project(tmp_path, {"shop": FLOW}, PROMPTS)
    flow = project(tmp_path).open_flow("shop")
    call = CallInfo("call_p", flow="shop", details=METADATA)
    runner = FlowRunner(flow, model, call=call, today=lambda: TODAY)
    runner.start()
    await runner.say("uh")  # the parsers hear no number: the model reads the answer
    await runner.say("four")
    await runner.say("hmm, well")  # a prompt state: the model speaks, with its tools
    reading, entering, speaking = server.requests
    assert "tools" not in entering  # on entering a prompt state: no tools

    def expected(state: str, said: str, slots: dict[str, object]) -> dict[str, object]:
        return preview(flow, state, slots, call, TODAY, said).request.body()

    read = expected("ask_party", "uh", {})
    # The transcript of the call begins with the greeting; the preview's with the state's line.
    assert sent(reading)["messages"][0] == read["messages"][0]  # type: ignore[index]
    assert sent(reading)["messages"][-1] == read["messages"][-1]  # type: ignore[index]
    assert sent(reading)["tools"] == read["tools"]
    assert sent(reading)["tool_choice"] == read["tool_choice"]
    spoke = expected("help", "hmm, well", {"party_size": 4})
    assert sent(speaking)["messages"][0] == spoke["messages"][0]  # type: ignore[index]
    assert sent(speaking)["tools"] == spoke["tools"]
    assert "tool_choice" not in spoke


def dialplan(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "dialplan"), *args],
        cwd=root,
        env={**bare_environment(), "DIALPLAN_DATABASE_URL": os.environ["DIALPLAN_DATABASE_URL"]},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_prompt_shows_the_extraction_of_a_fixed_line_state(tmp_path):
    write_project(tmp_path, {"shop": FLOW}, PROMPTS)
    shown = dialplan(tmp_path, "prompt", "shop", "ask_party", "--today", "2026-11-25")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0] == (
        "flow shop, state ask_party: the model reads the caller's answer (the flow speaks its "
        "own line)"
    )
    assert lines[1] == "system:"
    assert (
        "The agent's question was: 'How many tables?'. Today is Wednesday, 2026-11-25."
        in (lines[2])
    )
    assert lines[3:7] == ["assistant:", "  How many tables?", "user:", "  (what the caller says)"]
    assert "  record_answer: Record what the caller's last words give" in shown.stdout
    assert '"party_size": {' in shown.stdout and '"enum": [' in shown.stdout
    assert "tool_choice: record_answer (the model must call it)" in lines
    assert lines[-1].startswith("about ") and lines[-1].endswith(
        " tokens (the request's JSON, 4 characters a token)"
    )


def test_prompt_as_json_with_slots_and_variables(tmp_path):
    write_project(tmp_path, {"shop": FLOW}, PROMPTS)
    shown = dialplan(
        tmp_path,
        *("prompt", "shop", "help", "--json", "--slot", "party_size=four"),
        *("--var", "first_name=Dana", "--metadata", "company=Luigi's", "--said", "hmm"),
    )
    assert shown.returncode == 0, shown.stderr
    found = json.loads(shown.stdout)
    assert (found["flow"], found["state"], found["model"]) == ("shop", "help", "speaks")
    request = found["request"]
    system = request["messages"][0]["content"]
    assert system.startswith("You answer the phone for Luigi's.\n\nHelp with a table for 4, Dana.")
    assert 'Known so far: {"party_size":4}' in system
    assert request["messages"][-1] == {"role": "user", "content": "hmm"}
    names = [tool["function"]["name"] for tool in request["tools"]]
    assert names == ["set_request", "intent_human"]
    assert "tool_choice" not in request
    body = json.dumps(request, separators=(",", ":"))
    assert found["estimated_tokens"] == -(-len(body) // 4)


def test_prompt_errors_say_where(tmp_path):
    write_project(tmp_path, {"shop": FLOW}, PROMPTS)
    missing = dialplan(tmp_path, "prompt", "shop", "help", "--slot", "party_size=4")
    assert missing.returncode == 1
    persona = tmp_path / "prompts" / "shop" / "persona.j2"
    assert (
        f"Error: {Path('prompts') / 'shop' / 'persona.j2'}:1: cannot render:" in (missing.stderr)
        or f"Error: {persona}:1: cannot render:" in missing.stderr
    ), missing.stderr
    bad_slot = dialplan(tmp_path, "prompt", "shop", "help", "--slot", "party_size=eleven")
    assert bad_slot.returncode == 2 and "party_size=eleven:" in bad_slot.stderr
    no_state = dialplan(tmp_path, "prompt", "shop", "hepl")
    assert no_state.returncode == 1
    assert "shop has no state 'hepl' (did you mean 'help'?)" in no_state.stderr
    broken_flow = FLOW.replace("say: How many tables?", 'say: "{{ 1 | shout }}"')
    write_project(tmp_path, {"shop": broken_flow})
    broken = dialplan(tmp_path, "prompt", "shop", "ask_party")
    assert broken.returncode == 1
    assert f"{Path('flows') / 'shop.yaml'}:9: unknown filter 'shout'" in broken.stderr


def test_chat_prompt_shows_the_last_request_or_says_none_was_sent(tmp_path):
    write_project(tmp_path, {"shop": FLOW}, PROMPTS)
    flow = project(tmp_path).open_flow("shop")
    out: list[str] = []
    chat_module.run(flow, lines=["/prompt"], provider="none", echo=out.append)
    assert out[-2:] == [
        "no model: nothing is sent to one (dialplan prompt FLOW STATE shows what",
        "a state would send)",
    ]
    out = []
    chat_module.run(flow, lines=["/prompt", "uh", "/prompt"], provider="test", echo=out.append)
    first = out.index("/prompt")
    assert out[first + 1] == "no request was sent to the model yet (the flow's lines and parsers"
    last = out.index("the last request sent to the model:")
    assert out[last + 1] == "  system:"
    assert "  tool_choice: record_answer (the model must call it)" in out[last:]
