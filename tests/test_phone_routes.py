"""Inbound routing: the project's routing table, checked like a flow, and its Python hook."""

from __future__ import annotations

import asyncio
import os
import sys
import textwrap

import pytest

from engine.errors import AuthoringErrors
from engine.phone.routes import InboundCall, Route, Router, ask_hook, load_routes

FLOWS = ["booking", "clinic_intake"]

TABLE = """\
routes:
  - to: "+1 415 555 0100"
    flow: clinic_intake
    variables: {clinic_name: Elm Street Clinic, floor: 3, walk_in: true}
  - from: ["+1415*", "+1650555????"]
    flow: booking
    metadata: {campaign: bay}
  - flow: clinic_intake
    agent: agent_other
"""


def write(tmp_path, text: str):  # type: ignore[no-untyped-def]
    path = tmp_path / "routes.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def call(caller: str, dialled: str = "+14155550199") -> InboundCall:
    return InboundCall(from_number=caller, to_number=dialled)


def test_the_first_route_whose_patterns_match_answers(tmp_path):
    table = load_routes(write(tmp_path, TABLE), FLOWS)
    clinic = table.match(call("+12125550123", "+14155550100"))
    assert clinic == Route(
        flow="clinic_intake",
        variables={"clinic_name": "Elm Street Clinic", "floor": "3", "walk_in": "true"},
        source="routes.yaml:2",
    )
    bay = table.match(call("+14155550123"))
    assert bay is not None and (bay.flow, bay.source) == ("booking", "routes.yaml:5")
    assert table.match(call("+16505551234")).flow == "booking"  # type: ignore[union-attr]
    rest = table.match(call("+16505551234567"))  # ? is one digit: too many digits
    assert rest is not None and (rest.flow, rest.agent_id) == ("clinic_intake", "agent_other")


def test_the_answer_carries_the_flow_in_metadata_and_the_variables_as_dynamic_variables():
    route = Route(
        flow="booking",
        variables={"name": "Dana"},
        metadata={"campaign": "bay"},
        agent_id="agent_2",
        source="routes.yaml:5",
    )
    assert route.answer() == {
        "call_inbound": {
            "metadata": {
                "campaign": "bay",
                "flow": "booking",
                "dialplan": {"route": "routes.yaml:5"},
            },
            "dynamic_variables": {"name": "Dana"},
            "override_agent_id": "agent_2",
        }
    }
    assert Route().answer() == {"call_inbound": {}}


def test_every_mistake_of_the_file_is_reported_at_its_line(tmp_path):
    path = write(
        tmp_path,
        """\
        routes:
          - to: +14155550100
            flow: clinic_intake
          - from: "+1 415 CALL NOW"
            flow: booking
          - to: "+14155550101"
            flwo: booking
        """,
    )
    with pytest.raises(AuthoringErrors) as caught:
        load_routes(path, FLOWS)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:2: routes.0.to: 14155550100 is a number to YAML, not a pattern: quote it "
        '("+14155550100")',
        f"{path}:4: routes.1.from: '+1 415 CALL NOW' is not a number pattern (digits, a leading "
        "+, * for any digits, ? for one)",
        f"{path}:7: routes.2.flwo: unknown key (did you mean 'flow'?)",
    ]


def test_a_route_to_a_flow_the_project_does_not_have_is_an_error(tmp_path):
    path = write(tmp_path, "routes:\n  - to: '+14155550100'\n    flow: bookin\n  - to: '+1'\n")
    with pytest.raises(AuthoringErrors) as caught:
        load_routes(path, FLOWS)
    assert [str(e) for e in caught.value.errors] == [
        f"{path}:3: unknown flow 'bookin' (did you mean 'booking'?)",
        f"{path}:4: a route names a `flow` (or an `agent`)",
    ]


def test_yaml_errors_and_hooks_that_cannot_be_imported_point_at_their_line(tmp_path):
    path = write(tmp_path, "routes:\n  - flow: booking\n   to: x\n")
    with pytest.raises(AuthoringErrors) as caught:
        load_routes(path, FLOWS)
    assert str(caught.value.errors[0]).startswith(f"{path}:3:")
    path = write(tmp_path, "hook: no_such_module_here:route\nroutes: []\n")
    with pytest.raises(AuthoringErrors) as caught:
        load_routes(path, FLOWS)
    assert str(caught.value.errors[0]).startswith(
        f"{path}:1: cannot import hook module 'no_such_module_here': ModuleNotFoundError"
    )


@pytest.fixture
def hook_module(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    (tmp_path / "routing_hook.py").write_text(
        textwrap.dedent(
            """\
            from engine.phone import Route

            async def route(call):
                if call.from_number == "+12125550123":
                    return Route(flow="booking", variables={"vip": "yes"}, source="crm")
                if call.from_number == "+12125550124":
                    return {"flow": "booking", "variables": {"tier": 2}}
                if call.from_number == "+12125550125":
                    raise RuntimeError("the CRM is down")
                return None
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    yield "routing_hook"
    sys.modules.pop("routing_hook", None)


async def test_the_hook_is_asked_first_and_the_table_answers_what_it_leaves(tmp_path, hook_module):
    write(tmp_path, f"hook: {hook_module}:route\n" + TABLE)
    router = Router(tmp_path / "routes.yaml", lambda: FLOWS)
    vip = await router.route(call("+12125550123"))
    assert (vip.flow, dict(vip.variables), vip.source) == ("booking", {"vip": "yes"}, "crm")
    tier = await router.route(call("+12125550124"))
    assert (tier.flow, dict(tier.variables), tier.source) == ("booking", {"tier": "2"}, "hook")
    failing = await router.route(call("+12125550125"))  # the hook fails: the table answers
    assert failing.source == "routes.yaml:9"
    assert (await router.route(call("+12125550199"))).agent_id == "agent_other"


async def test_a_slow_hook_does_not_keep_the_caller_ringing():
    async def slow(call: InboundCall) -> Route:
        await asyncio.sleep(10)
        return Route(flow="booking")

    assert await ask_hook(slow, call("+12125550123"), within=0.05) is None


async def test_an_edited_table_is_picked_up_and_a_broken_edit_keeps_the_last_good_one(tmp_path):
    path = write(tmp_path, "routes:\n  - flow: booking\n")
    router = Router(path, lambda: FLOWS)
    assert (await router.route(call("+12125550123"))).flow == "booking"
    path.write_text("routes:\n  - flow: clinic_intake\n")
    os.utime(path, (1, 1))  # a new modification time, however fast the edit came
    assert (await router.route(call("+12125550123"))).flow == "clinic_intake"
    path.write_text("routes:\n  - flow: nope\n")
    os.utime(path, (2, 2))
    assert (await router.route(call("+12125550123"))).flow == "clinic_intake"
    assert router.problems == [f"{path}:2: unknown flow 'nope' (flows: booking, clinic_intake)"]
    path.unlink()
    assert await router.route(call("+12125550123")) == Route()


def test_dialplan_validate_checks_the_routing_table_with_the_flows(tmp_path, monkeypatch):
    from click.testing import CliRunner

    from engine.cli import main
    from tests.helpers import EXAMPLE

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DIALPLAN_FLOWS_DIR", str(EXAMPLE / "flows"))
    monkeypatch.setenv("DIALPLAN_PROMPTS_DIR", str(EXAMPLE / "prompts"))
    (tmp_path / "routes.yaml").write_text("routes:\n  - to: '+14155550100'\n    flow: bookin\n")
    result = CliRunner().invoke(main, ["validate"])
    assert result.exit_code == 1
    assert "routes.yaml:3: unknown flow 'bookin' (did you mean 'booking'?)" in result.stdout
    assert "routing table routes.yaml: 1 error(s)" in result.stderr
    (tmp_path / "routes.yaml").write_text("routes:\n  - to: '+14155550100'\n    flow: booking\n")
    result = CliRunner().invoke(main, ["validate", "routes.yaml"])
    assert result.exit_code == 0 and "routing table routes.yaml: ok" in result.stderr
    result = CliRunner().invoke(main, ["validate", "--format", "json"])
    assert result.exit_code == 0 and '"path": "routes.yaml"' in result.stdout


def test_dialplan_serve_does_not_start_with_a_broken_routing_table(tmp_path):
    from engine.testing.server import free_port
    from tests.test_cli import finish, serve

    table = tmp_path / "routes.yaml"
    table.write_text("routes:\n  - from: '+1415*'\n    flow: nope\n")
    process = serve(
        "--port", str(free_port()), "--flow", "booking", env={"DIALPLAN_ROUTES_FILE": str(table)}
    )
    output = finish(process)
    assert process.returncode == 2  # a start that cannot work: one line per problem
    assert output.startswith(f"dialplan: {table}:3: unknown flow 'nope'")
    assert len(output.splitlines()) == 1
