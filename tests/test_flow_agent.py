"""Readiness per flow: `ok`, `degraded` (takes calls, not as written) or `broken`."""

from __future__ import annotations

import httpx

from engine.flow import FlowAgent
from tests.helpers import project, write_project

ONE = """\
flow: {name}
states:
  hello:
    say: Hello from {name}.
    end_call: true
"""

PROMPTED = """\
flow: {name}
states:
  hello:
    prompt: ask.j2
    reask: Sorry, say again?
    next: [{{to: bye}}]
  bye:
    say: Bye.
    end_call: true
"""


def agent_of(root, **settings) -> FlowAgent:  # type: ignore[no-untyped-def]
    the_project = project(root, **settings)
    agent = the_project.agent(None)
    assert isinstance(agent, FlowAgent)
    return agent


def states(agent: FlowAgent) -> dict[str, str]:
    return {entry["flow"]: entry["state"] for entry in agent.report()}


def test_each_flow_has_its_state(tmp_path):
    write_project(
        tmp_path,
        {
            "fine": ONE.format(name="fine"),
            "needs_model": PROMPTED.format(name="needs_model"),
            "broken": ONE.format(name="broken").replace("Hello", "Hi {{ 1 | nope }}"),
        },
        {"ask.j2": "Ask how you can help."},
    )
    agent = agent_of(tmp_path, flow="fine")
    assert states(agent) == {"broken": "broken", "fine": "ok", "needs_model": "degraded"}
    assert agent.problems() == []  # the default flow takes calls
    broken = next(e for e in agent.report() if e["flow"] == "broken")
    assert broken["version"] is None
    assert broken["errors"][0]["message"] == "unknown filter 'nope'"
    assert broken["errors"][0]["line"] == 4


def test_a_broken_default_flow_or_no_flow_makes_the_server_unready(tmp_path):
    broken = ONE.format(name="main").replace("Hello", "Hi {{ 1 | nope }}")
    write_project(tmp_path, {"main": broken, "other": ONE.format(name="other")})
    assert agent_of(tmp_path, flow="main").problems() == ["the default flow 'main' is not loaded"]
    (tmp_path / "flows" / "other.yaml").unlink()
    assert agent_of(tmp_path).problems() == [f"no flows loaded from {tmp_path / 'flows'}"]


async def test_readyz_lists_the_flows_and_stays_ready_when_one_is_broken(
    no_llm, start_server, tmp_path
):
    write_project(
        tmp_path,
        {"main": ONE.format(name="main"), "other": ONE.format(name="other").replace("say:", "sy:")},
    )
    server = start_server(
        agent="flow", flows_dir=tmp_path / "flows", prompts_dir=tmp_path / "prompts", flow="main"
    )
    async with httpx.AsyncClient() as http:
        ready = await http.get(server.http("/readyz"))
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] is True
    assert [(f["flow"], f["state"], f["default"]) for f in body["flows"]] == [
        ("main", "ok", True),
        ("other", "broken", False),
    ]
    assert body["flows"][1]["errors"][0]["message"] == "states.hello.sy: unknown key"
