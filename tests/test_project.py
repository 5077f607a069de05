"""Opening a project: plugins, flows, the default flow, and what keeps it from starting."""

from __future__ import annotations

import httpx

from engine.flow import FlowAgent
from engine.settings import Settings
from tests.helpers import project, write_project

ONE = """\
flow: {name}
states:
  hello:
    say: Hello from {name}.
    end_call: true
"""


def test_settings_name_no_plugins_and_no_flow_by_default(monkeypatch):
    for name in ("DIALPLAN_PLUGINS", "DIALPLAN_FLOW"):
        monkeypatch.delenv(name, raising=False)
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    assert settings.plugins == () and settings.flow is None


def test_the_only_flow_is_the_default(tmp_path):
    write_project(tmp_path, {"callback": ONE.format(name="callback")})
    the_project = project(tmp_path)
    assert the_project.setup_errors() == []
    assert the_project.default_flow() == "callback"


def test_several_flows_need_a_default_named(tmp_path):
    write_project(tmp_path, {n: ONE.format(name=n) for n in ("sales", "support")})
    assert project(tmp_path).setup_errors() == [
        "2 flows (sales, support) and no default for calls that name none: set DIALPLAN_FLOW "
        "(or --flow) to one of them"
    ]
    assert project(tmp_path, flow="support").setup_errors() == []
    assert project(tmp_path, flow="billing").setup_errors() == [
        "the default flow 'billing' is not a flow here (sales, support)"
    ]


def test_a_duplicate_flow_name_is_reported_as_a_broken_flow(tmp_path):
    write_project(tmp_path, {"a": ONE.format(name="same"), "b": ONE.format(name="same")})
    the_project = project(tmp_path)
    errors = the_project.load()
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'flows' / 'b.yaml'}:1: flow 'same' is also defined in "
        f"{tmp_path / 'flows' / 'a.yaml'} (flow names must differ: calls choose flows by name)"
    ]
    agent = the_project.agent(None)
    assert isinstance(agent, FlowAgent)
    assert agent.problems() == []  # flow `same` takes calls
    assert [(e["flow"], e["state"]) for e in agent.report()] == [("b", "broken"), ("same", "ok")]


async def test_readyz_shows_the_duplicate(no_llm, start_server, tmp_path):
    write_project(tmp_path, {"a": ONE.format(name="same"), "b": ONE.format(name="same")})
    server = start_server(
        agent="flow", flows_dir=tmp_path / "flows", prompts_dir=tmp_path / "prompts"
    )
    async with httpx.AsyncClient() as http:
        ready = await http.get(server.http("/readyz"))
    assert ready.status_code == 200
    (broken,) = [flow for flow in ready.json()["flows"] if flow["state"] == "broken"]
    assert broken["file"] == str(tmp_path / "flows" / "b.yaml")
    assert broken["errors"][0]["message"] == (
        f"flow 'same' is also defined in {tmp_path / 'flows' / 'a.yaml'}"
    )


def test_open_flow_by_name_or_path(tmp_path):
    write_project(tmp_path, {"callback": ONE.format(name="callback")})
    the_project = project(tmp_path)
    assert the_project.open_flow("callback").name == "callback"
    assert the_project.open_flow(tmp_path / "flows" / "callback.yaml").name == "callback"
