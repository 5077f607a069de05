"""Versions side by side and where callers drop, from real recorded calls."""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner

from engine.cli import main
from engine.insights.compare import compare
from engine.insights.funnel import depths, funnel, traffic_of
from engine.insights.stats import Difference, Proportion, wilson
from engine.records import CallRecord
from tests.helpers import project as open_project
from tests.recorded import CLINIC_CALLS, Caller, copy_example, server_settings


def test_wilson_and_newcombe_match_the_published_examples():
    # Newcombe (1998), "Interval estimation for the difference between independent proportions".
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    assert wilson(0, 10) == (0.0, pytest.approx(0.2775, abs=1e-4))
    difference = Difference(Proportion(56, 70), Proportion(48, 80))
    assert [round(x, 4) for x in difference.interval] == [0.0524, 0.3339]
    assert difference.verdict == "higher"
    assert Difference(Proportion(5, 10), Proportion(4, 10)).verdict == "no clear difference"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    found = copy_example(tmp_path / "project")
    monkeypatch.setenv("DIALPLAN_FLOWS_DIR", str(found / "flows"))
    monkeypatch.setenv("DIALPLAN_PROMPTS_DIR", str(found / "prompts"))
    return found


@pytest.fixture
def recorded(root, start_server, call_log, no_llm) -> list[CallRecord]:  # type: ignore[no-untyped-def]
    server = start_server(**server_settings(root))
    return list(asyncio.run(Caller(server, call_log).calls("clinic_", CLINIC_CALLS)).values())


def cli(*args: str) -> str:
    result = CliRunner().invoke(main, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_funnel_adds_up_to_the_calls_in_the_log(recorded, root):
    flow = open_project(root).open_flow("clinic_intake")
    found = funnel("clinic_intake", recorded, order=depths(flow))
    assert found.calls == len(recorded) == 6
    assert sum(state.ended_total for state in found.states.values()) == found.calls
    for state in found.states.values():
        assert state.entered == state.left + state.ended_total, state.state
    states = found.states
    assert list(states)[:4] == ["ask_name", "ask_dob", "ask_reason", "confirm"]  # the flow's order
    assert states["ask_name"].entered == 6
    assert dict(states["front_desk"].ended) == {"transferred": 1, "gave_up": 1}
    assert dict(states["done"].ended) == {"completed": 3}
    assert dict(states["ask_reason"].ended) == {"abandoned": 1}  # the caller who hung up
    assert states["which_fix"].back == 1  # back to the date of birth
    assert states["ask_name"].reasks == 2 and states["ask_name"].give_ups == 1
    assert states["ask_dob"].silences == 1
    assert [(c.slot, c.calls) for c in found.corrected] == [("date_of_birth", 1)]
    traffic = traffic_of(found)
    assert traffic.moves[("ask_name", "ask_dob")] == 4
    assert traffic.dropped["front_desk"] == 1 and traffic.dropped["ask_reason"] == 1


def test_calls_funnel_as_a_table_and_as_json(recorded):
    text = cli("calls", "funnel", "clinic_intake")
    assert "clinic_intake" in text and ": 6 call(s)" in text
    header, first = text.splitlines()[1:3]
    assert header.split()[:6] == ["state", "entered", "left", "fwd", "back", "ended"]
    assert first.split()[:2] == ["ask_name", "6"]
    assert "slots corrected most: date_of_birth in 1 call(s)" in text
    (data,) = orjson.loads(cli("calls", "funnel", "clinic_intake", "--json"))
    assert data["calls"] == 6
    assert sum(state["ended"] for state in data["states"]) == 6


def test_versions_side_by_side_with_honest_intervals(recorded, root, start_server, call_log):
    # A second version of the flow serves three more calls, one of them worse off.
    path = root / "flows" / "clinic_intake.yaml"
    path.write_text(path.read_text().replace("retries: 2\n", "retries: 1\n", 1))
    server = start_server(**server_settings(root))
    more = {name: CLINIC_CALLS[name] for name in ("plain", "mumble", "quiet")}
    newer = asyncio.run(Caller(server, call_log).calls("v2_", more))
    versions = {r.flow_version for r in recorded} | {r.flow_version for r in newer.values()}
    assert len(versions) == 2
    result = compare("clinic_intake", [*recorded, *newer.values()])
    old, new = result.versions
    assert result.baseline == old.version and (old.calls, new.calls) == (6, 3)
    assert old.outcomes["completed"].hits == 3 and new.outcomes["completed"].hits == 1
    assert old.median_turns is not None and old.median_seconds is not None
    difference = result.differences(new)["completed"]
    assert difference.verdict == "no clear difference"  # 1 of 3 against 3 of 6 is noise
    text = cli("calls", "compare", "clinic_intake")
    assert f"baseline {old.version}" in text
    assert "completed" in text and "50% (19-81)" in text
    assert f"{new.version} against {old.version}:" in text
    assert "no clear difference" in text
    data = orjson.loads(cli("calls", "compare", "clinic_intake", "--json"))
    assert [v["calls"] for v in data["versions"]] == [6, 3]
    assert data["versions"][1]["against_baseline"]["completed"]["verdict"] == "no clear difference"
