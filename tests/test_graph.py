"""`dialplan graph`: what the diagrams say, that they stay current, and the command's errors."""

from __future__ import annotations

import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.diagram import (
    GraphError,
    GraphvizMissing,
    dot,
    mermaid,
    render,
    source_digest,
)
from engine.diagram import graphviz as dot_module
from engine.diagram import model as graph_module
from engine.diagram.coverage import Coverage
from engine.flow import CompiledFlow, FlowRunner
from engine.flow.machine import TransitionError
from engine.flow.spec import Flow
from engine.project import Project
from engine.settings import Settings
from tests.helpers import EXAMPLE

ROOT = EXAMPLE  # not flows/: editing an example flow must not move these tests
FLOWS = ROOT / "flows"
needs_dot = pytest.mark.needs("dot")


def open_flow(name_or_path: str | Path, prompts_dir: Path = ROOT / "prompts") -> CompiledFlow:
    settings = Settings(flows_dir=FLOWS, prompts_dir=prompts_dir)
    return Project.from_settings(settings).open_flow(name_or_path)


def load(name: str):  # type: ignore[no-untyped-def]
    return open_flow(name)


@pytest.fixture(scope="module")
def clinic():  # type: ignore[no-untyped-def]
    return load("clinic_intake")


@pytest.fixture(scope="module")
def booking():  # type: ignore[no-untyped-def]
    return load("booking")


def test_mermaid_labels_every_kind_of_edge(clinic, booking):
    text = mermaid(clinic)
    assert text.startswith("---\ntitle: clinic_intake\n---\nstateDiagram-v2\n")
    for line in [
        "[*] --> ask_name",  # the start
        "ask_name --> ask_dob",  # a plain way out: no label
        "ask_name --> front_desk: gives up",
        "confirm --> done: intent confirm (or yes)",
        "confirm --> which_fix: intent correct (or no)",
        "which_fix --> ask_name: intent fix_name",
        "done --> [*]: hangs up",
        "front_desk --> [*]: transfers",
        'state "any state" as any_state',
        "any_state --> front_desk: intent human",
        "any_state --> any_state: intent repeat (stays)",
        "any_state --> repeat_help: intent help (returns)",
        "repeat_help --> any_state: returns",
    ]:
        assert f"  {line}\n" in text, line
    booking_text = mermaid(booking)
    assert "  check --> ask_name: when slots.available\n" in booking_text
    assert "  check --> other_day: when not slots.alternatives\n" in booking_text
    assert "  book --> ask_time: when not slots.booked\n" in booking_text


def test_dot_marks_give_ups_dashed_and_endings_double(clinic):
    text = dot(clinic)
    assert text.startswith('digraph "clinic_intake" {\n')
    assert '"ask_name" -> "front_desk" [label="gives up", style="dashed"]' in text
    assert '"confirm" -> "done" [label="intent confirm (or yes)"]' in text
    assert '"ask_name" -> "ask_dob"\n' in text
    assert '"done" [label="done\\nhangs up", peripheries="2", fillcolor="#eceff1"]' in text
    assert (
        '"front_desk" [label="front_desk\\ntransfers", peripheries="2", fillcolor="#eceff1"]'
        in text
    )
    assert '"any state" -> "repeat_help" [label="intent help (returns)"]' in text
    assert (
        '"repeat_help" -> "any state" [label="returns", style="dotted", arrowhead="onormal"]'
        in (text)
    )
    assert '"any state" -> "[end]" [label="cancel (built in)", arrowhead="none"' in text
    assert '"[start]" -> "ask_name"' in text


def test_at_highlights_one_state(clinic):
    text = mermaid(clinic, at="confirm")
    assert "  classDef at fill:#ffe082" in text
    assert "  class confirm at\n" in text
    assert "class ask_name at" not in text
    assert "classDef at" not in mermaid(clinic)
    drawn = dot(clinic, at="confirm")
    assert '"confirm" [style="rounded,filled,bold", fillcolor="#ffe082"' in drawn
    assert drawn.count("#ffe082") == 1


def test_unknown_at_state_is_a_clear_error(clinic):
    with pytest.raises(GraphError, match=r"no state 'confrm' \(did you mean 'confirm'\?"):
        mermaid(clinic, at="confrm")


def test_coverage_greys_out_what_no_call_visited(clinic):
    # A real call through the runner: the happy path, nothing else.
    runner = FlowRunner(clinic, today=lambda: date(2025, 1, 15))
    runner.start()
    import asyncio

    async def happy() -> None:
        for line in ["My name is Dana Scully", "February 23rd 1964", "a sore throat", "yes"]:
            await runner.say(line)

    asyncio.run(happy())
    runner.close()
    coverage = Coverage()
    coverage.add(runner.states, runner.edges)

    text = mermaid(clinic, coverage=coverage)
    assert "  class which_fix,front_desk,repeat_help unvisited\n" in text
    assert "  ask_name --> ask_dob\n" in text  # taken: drawn as usual
    assert "  confirm --> done: intent confirm (or yes)\n" in text
    assert "  done --> [*]: hangs up\n" in text
    assert "  ask_name --> front_desk: gives up, not taken\n" in text
    assert "  which_fix --> ask_name: intent fix_name, not taken\n" in text
    assert "  any_state --> front_desk: intent human, not taken\n" in text

    drawn = dot(clinic, coverage=coverage)
    assert '"which_fix" [style="rounded,filled,dashed", fillcolor="#f5f5f5"' in drawn
    assert '"ask_name" -> "ask_dob"\n' in drawn
    assert '"ask_name" -> "front_desk" [label="gives up", style="dashed", color="#b0bec5"' in drawn
    assert '\n  "ask_dob"\n' in drawn  # visited states keep the plain style


def test_coverage_of_a_detour_marks_the_edges_it_took(clinic):
    coverage = Coverage(
        states={"ask_name", "ask_dob", "ask_reason", "repeat_help"},
        edges={("ask_name", "ask_dob"), ("ask_dob", "repeat_help"), ("repeat_help", "ask_dob")},
    )
    if hasattr(coverage, "intents"):  # coverage files that record global intents
        coverage.intents.add("help")
    text = mermaid(clinic, coverage=coverage)
    assert "  any_state --> repeat_help: intent help (returns)\n" in text
    assert "  repeat_help --> any_state: returns\n" in text
    assert "  ask_dob --> ask_reason, not taken\n" not in text
    assert "  ask_dob --> ask_reason: not taken\n" in text


def test_every_drawn_edge_is_a_move_the_runtime_machine_allows(clinic, booking):
    for flow in (clinic, booking):
        allowed = {
            tuple(event.split("__to__"))
            for event in flow.machine._machine.events  # the machine the calls run on
        }
        drawing = graph_module.diagram(flow)
        states = list(flow.spec.states)
        for edge in drawing.edges:
            if edge.kind in ("start", "end", "stay"):
                continue
            sources = states if edge.source == graph_module.ANYWHERE else [edge.source]
            targets = states if edge.target == graph_module.ANYWHERE else [edge.target]
            for source in sources:
                for target in targets:
                    if source != target:
                        assert (source, target) in allowed, (flow.name, edge)


def test_a_call_moves_only_along_declared_edges_and_leaves_nothing_in_the_machine(booking):
    machine = booking.machine
    call, other = machine.add("call_one"), machine.add("call_two")
    assert call.state == other.state == booking.spec.start_state == "ask_party"
    machine.move(call, "ask_date")
    assert (call.state, other.state) == ("ask_date", "ask_party")  # one call's move alone
    with pytest.raises(TransitionError):
        machine.move(other, "confirm")  # not a way out of ask_party
    with pytest.raises(TransitionError):
        machine.move(other, "no_such_state")
    assert other.state == "ask_party"
    machine.restore(call, "ask_party")
    assert call.state == "ask_party"
    machine.remove(call)
    machine.remove(other)
    assert machine._machine.models == []  # the shared machine holds no call


def test_output_is_stable_and_independent_of_where_the_flow_lives(clinic, tmp_path):
    copy = tmp_path / "elsewhere" / "clinic_intake.yaml"
    copy.parent.mkdir()
    shutil.copy(FLOWS / "clinic_intake.yaml", copy)
    moved = open_flow(copy, prompts_dir=ROOT / "prompts")
    assert mermaid(moved) == mermaid(clinic) == mermaid(load("clinic_intake"))
    assert dot(moved) == dot(clinic)


def test_awkward_names_and_guards_stay_valid_mermaid():
    flow = Flow.model_validate(
        {
            "flow": "odd",
            "slots": {"t": {"type": "text"}},
            "states": {
                "state": {
                    "say": "hi",
                    "collect": ["t"],
                    "next": [{"to": "end", "when": "slots.t[:2] == 'ab'; 1"}],
                },
                "end": {"say": "bye", "end_call": True},
                "any_state": {"say": "?", "next": [{"to": "end"}]},
            },
            "global": [{"intent": "x", "to": "any_state"}],
        }
    )
    text = mermaid(flow)
    # Keywords get their own ids, the "any state" node does not take a state's id, and the
    # guard's ':' and ';' (which end a Mermaid label) are replaced by look-alikes.
    assert '  state "state" as s_state\n' in text
    assert '  state "end" as s_end\n' in text
    assert '  state "any state" as any_state_\n' in text
    assert "  s_state --> s_end: when slots.t[\u22362] == 'ab'\uff1b 1\n" in text
    assert "  any_state_ --> any_state: intent x\n" in text
    body = text.split("stateDiagram-v2\n", 1)[1]
    for line in body.splitlines():
        if "-->" in line and ": " in line:
            assert ":" not in line.split(": ", 1)[1], line


def quoted_guard_flow() -> Flow:
    return Flow.model_validate(
        {
            "flow": "quotes",
            "slots": {"t": {"type": "text"}},
            "states": {
                "ask": {
                    "say": "hi",
                    "collect": ["t"],
                    "next": [{"to": "bye", "when": 'slots.t == "a\\"'}],
                },
                "bye": {"say": "bye", "end_call": True},
            },
        }
    )


def test_quotes_and_backslashes_in_guards_stay_valid_dot():
    text = dot(quoted_guard_flow())
    assert '"ask" -> "bye" [label="when slots.t == \\"a\\\\\\""]' in text


@needs_dot
def test_quotes_and_backslashes_in_guards_are_drawn():
    assert ET.fromstring(render(quoted_guard_flow(), "svg")).tag.endswith("svg")


def test_a_final_keypad_state_ends_the_flow_and_one_with_a_way_on_does_not():
    flow = Flow.model_validate(
        {
            "flow": "menu",
            "states": {
                "ask": {"say": "Billing?", "next": [{"to": "keys"}]},
                "keys": {"say": "One moment.", "press_digit": "1", "next": [{"to": "menu"}]},
                "menu": {"say": "Billing.", "press_digit": "2"},
            },
        }
    )
    text = mermaid(flow)
    assert "  menu --> [*]: presses 2\n" in text
    assert "keys --> [*]" not in text
    assert '"menu" [label="menu\\npresses 2", peripheries="2", fillcolor="#eceff1"]' in dot(flow)


@needs_dot
def test_render_svg_and_png(clinic):
    svg = render(clinic, "svg", at="confirm")
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    assert source_digest(svg.decode()) == source_digest(dot(clinic, at="confirm"))
    assert render(clinic, "png").startswith(b"\x89PNG\r\n\x1a\n")
    assert render(clinic, "dot") == dot(clinic).encode()


def test_missing_graphviz_says_how_to_install(clinic, monkeypatch):
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: None)
    with pytest.raises(GraphvizMissing, match="apt-get install graphviz"):
        render(clinic, "svg")
    assert render(clinic, "dot").startswith(b"digraph")  # DOT needs no Graphviz


# -- the command ------------------------------------------------------------------------------


@pytest.fixture
def cli(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.chdir(ROOT)
    for name in ("DIALPLAN_FLOWS_DIR", "DIALPLAN_PROMPTS_DIR", "DIALPLAN_PLUGINS"):
        monkeypatch.delenv(name, raising=False)

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return CliRunner().invoke(main, ["graph", *args], catch_exceptions=False)

    return invoke


def test_command_prints_mermaid_by_default(cli, clinic):
    result = cli("clinic_intake")
    assert result.exit_code == 0, result.output
    assert result.stdout == mermaid(clinic)


def test_command_writes_the_format_of_the_suffix(cli, clinic, tmp_path):
    assert cli("flows/clinic_intake.yaml", "-o", str(tmp_path / "c.dot")).exit_code == 0
    assert (tmp_path / "c.dot").read_text() == dot(clinic)
    assert cli("clinic_intake", "--format", "dot", "--at", "done").stdout == dot(clinic, at="done")


@needs_dot
def test_command_draws_svg(cli, tmp_path):
    assert cli("clinic_intake", "-o", str(tmp_path / "c.svg")).exit_code == 0
    assert ET.parse(tmp_path / "c.svg").getroot().tag.endswith("svg")


def test_command_reads_coverage(cli, clinic, tmp_path):
    from engine.diagram.coverage import save

    recorded = Coverage({"ask_name", "ask_dob"}, {("ask_name", "ask_dob")})
    save({"clinic_intake": recorded}, tmp_path / "cov.json")
    result = cli("clinic_intake", "--coverage", str(tmp_path / "cov.json"))
    assert result.exit_code == 0, result.output
    assert result.stdout == mermaid(clinic, coverage=recorded)
    assert "unvisited" in result.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["clinic_intake", "--at", "confrm"],
            "Error: flow 'clinic_intake' has no state 'confrm' (did you mean 'confirm'? states: "
            "ask_name, ask_dob, ask_reason, confirm, which_fix, done, front_desk, repeat_help)",
        ),
        (["clinc_intake"], "Error: no flow named 'clinc_intake' in flows (flows: booking, "),
        (["flows/nope.yaml"], "nope.yaml"),
        (
            ["clinic_intake", "--coverage", "missing.json"],
            "Error: no coverage file missing.json",
        ),
    ],
    ids=["unknown --at", "unknown flow", "missing file", "missing coverage"],
)
def test_command_errors(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1
    assert message in result.stderr


def test_command_without_graphviz(cli, monkeypatch):
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: None)
    result = cli("clinic_intake", "--format", "svg")
    assert result.exit_code == 1
    assert "apt-get install graphviz" in result.stderr


def test_command_runs_as_a_program():
    result = subprocess.run(
        [sys.executable, "-m", "engine.cli", "graph", "booking", "--at", "check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "  class check at\n" in result.stdout


def test_model_states_actions_and_endings_are_marked_apart():
    flow = Flow.model_validate(
        {
            "flow": "kinds",
            "states": {
                "ask": {"prompt": "ask.j2", "next": [{"to": "look"}]},
                "look": {
                    "actions": [{"webhook": {"url": "http://127.0.0.1:9/x"}}],
                    "next": [{"to": "both"}],
                },
                "both": {
                    "prompt": "both.j2",
                    "actions": [{"call": "x.y"}],
                    "next": [{"to": "bye"}, {"to": "desk"}],
                },
                "bye": {"say": "Bye.", "end_call": True},
                "desk": {"say": "One moment.", "transfer": "+14155550100"},
            },
        }
    )
    text = mermaid(flow)
    assert "  classDef model fill:#e3f2fd," in text
    assert "  classDef action fill:#ffffff,color:#263238,stroke:#2e7d32,stroke-width:3px\n" in text
    assert "  classDef model_action fill:#e3f2fd," in text
    assert "  classDef ending fill:#eceff1," in text
    for line in ("class ask model", "class look action", "class both model_action"):
        assert f"  {line}\n" in text
    assert "  class bye,desk ending\n" in text
    drawn = dot(flow)
    assert '"ask" [fillcolor="#e3f2fd", label="ask\\nthe model speaks"]' in drawn
    assert '"look" [color="#2e7d32", penwidth="2", label="look\\nruns actions"]' in drawn
    assert (
        '"both" [fillcolor="#e3f2fd", label="both\\nthe model speaks\\nruns actions", '
        'color="#2e7d32", penwidth="2"]'
    ) in drawn
    assert '"desk" [label="desk\\ntransfers", peripheries="2", fillcolor="#eceff1"]' in drawn
