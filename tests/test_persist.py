"""A flow call carried to another process: same place, same slots, actions not run again."""

from __future__ import annotations

import dataclasses
import os
import time
from pathlib import Path

import orjson
import pytest
from structlog.testing import capture_logs

from engine.agent import CallInfo, Speech, Turn
from engine.flow import FlowAgent, Plugin, persist
from engine.flow.conversation import untaken
from engine.flow.memory import CallMemory
from engine.flow.persist import SnapshotError
from engine.protocol import CallControl, ToolCallResult, Utterance
from tests.helpers import project, write_project

BOOKED: list[str] = []
plugin = Plugin()


@plugin.action("test.book")
def book(name: str) -> dict[str, object]:
    BOOKED.append(name)
    return {"reference": f"R{1000 + len(BOOKED)}"}


FLOW = """\
flow: desk
plugins: [tests.test_persist]
begin: Hi. What is your name?
slots:
  name: {type: name}
  reason: {type: text}
  reference: {type: text, source: action}
states:
  ask_name:
    say: What is your name?
    collect: [name]
    retries: 1
    on_give_up: desk
    next: [{to: ask_reason}]
  ask_reason:
    say: Thanks, {{ slots.name.split()[0] }}. What is it about?
    collect: [reason]
    next: [{to: booked}]
  booked:
    actions:
      - call: test.book
        args: {name: "{{ slots.name }}"}
        store: {reference: result.reference}
    say: Booked under {{ slots.reference | default('your name') }}. Goodbye!
    end_call: true
  desk:
    say: Let me put you through.
    transfer: "+14155550100"
"""


class Host:
    """One process's view of a project: its own registry and agent (what another host has)."""

    def __init__(self, root: Path) -> None:
        self.project = project(root, plugins=("tests.test_persist",))
        self.project.load()
        self.agent = FlowAgent(self.project.registry, None, "desk")


async def turn(conversation, transcript: list[Utterance], call: CallInfo, response_id: int):
    words, control, events = [], CallControl(), []
    async for part in conversation.respond(Turn(response_id, tuple(transcript), call)):
        if isinstance(part, Speech):
            words.append(part.text)
        elif isinstance(part, CallControl):
            control = control | part
        else:
            events.append(part)
    return "".join(words), control, events


def carried(snapshot: dict) -> dict:
    """A snapshot as another process gets it: through JSON, nothing shared."""
    return orjson.loads(orjson.dumps(snapshot))


@pytest.fixture
def root(tmp_path):
    BOOKED.clear()
    return write_project(tmp_path, {"desk": FLOW})


async def test_a_call_goes_on_in_another_process_where_it_was(root):
    call = CallInfo("call_move", flow="desk")
    first = Host(root).agent.start(call)
    transcript = [Utterance("agent", first.greeting(call).text), Utterance("user", "Dana Scully")]
    said, _, _ = await turn(first, transcript, call, 1)
    assert said == "Thanks, Dana. What is it about?"

    second = Host(root).agent.resume(call, carried(first.snapshot()))
    transcript += [Utterance("agent", said), Utterance("user", "a sore throat")]
    said, control, _ = await turn(second, transcript, call, 2)
    assert said == "Booked under R1001. Goodbye!" and control.end_call
    summary = second.summary()
    assert summary.slots == {"name": "Dana Scully", "reason": "a sore throat", "reference": "R1001"}
    assert summary.path == ("ask_name", "ask_reason", "booked")
    assert [run.name for run in summary.actions] == ["test.book"]


async def test_a_resumed_call_takes_the_answers_its_saved_state_lost_first(root):
    # The process that took the name was killed before its save: the snapshot is from before
    # that turn, but the platform heard the answer and went on to the next question.
    call = CallInfo("call_lost_turn", flow="desk")
    first = Host(root).agent.start(call)
    transcript = [Utterance("agent", first.greeting(call).text)]
    before = carried(first.snapshot())
    transcript.append(Utterance("user", "Dana Scully"))
    said, _, _ = await turn(first, transcript, call, 1)
    transcript += [Utterance("agent", said), Utterance("user", "a sore throat")]

    second = Host(root).agent.resume(call, before)
    said, control, _ = await turn(second, transcript, call, 2)
    assert said == "Booked under R1001. Goodbye!" and control.end_call  # nothing asked twice
    summary = second.summary()
    assert summary.slots == {"name": "Dana Scully", "reason": "a sore throat", "reference": "R1001"}
    assert summary.path == ("ask_name", "ask_reason", "booked")
    trace = second.turn_trace()
    assert trace is not None and trace.caught_up == 1
    assert [f.name for f in trace.understood if f.kind == "slot"] == ["name", "reason"]
    assert second.snapshot()["memory"]["heard"] == len(transcript)


def test_the_answers_a_call_has_not_taken_end_where_an_agent_line_follows():
    lines = [("agent", "Hi."), ("user", "Dana"), ("user", "Scully"), ("agent", "Thanks."),
             ("user", " "), ("agent", "Still there?"), ("user", "a cough"), ("agent", "OK."),
             ("user", "yes")]  # fmt: skip
    transcript = tuple(Utterance(role, text) for role, text in lines)
    assert untaken(transcript, 1) == [3, 7]  # a silence is no answer; "yes" is the request's
    assert untaken(transcript, 4) == [7]
    assert untaken(transcript, 8) == [] and untaken(transcript, 99) == []


async def test_a_snapshot_from_before_the_call_kept_what_it_heard_takes_nothing_again(root):
    call = CallInfo("call_old_snapshot", flow="desk")
    first = Host(root).agent.start(call)
    transcript = [Utterance("agent", first.greeting(call).text), Utterance("user", "Dana Scully")]
    said, _, _ = await turn(first, transcript, call, 1)
    snapshot = carried(first.snapshot())
    del snapshot["memory"]["heard"]  # written by a process of the version before
    second = Host(root).agent.resume(call, snapshot)
    transcript += [Utterance("agent", said), Utterance("user", "a sore throat")]
    said, _, _ = await turn(second, transcript, call, 2)
    assert said == "Booked under R1001. Goodbye!"
    assert second.turn_trace().caught_up == 0  # type: ignore[union-attr]


def test_every_field_of_a_call_memory_is_carried():
    memory = CallMemory(
        state="ask_reason", slots={"name": "Dana Scully"}, retries=1, silences=2,
        visits={"ask_name": 1, "ask_reason": 3}, returns=["ask_name"],
        path=["ask_name", "ask_reason"], entered_at=4, started=True,
        pending={"time": "19:00"}, fixing=True, held=True, cancelled=True, stopping=True,
        heard=7,
    )  # fmt: skip
    assert {f.name for f in dataclasses.fields(CallMemory)} == set(dataclasses.asdict(memory))
    assert all(v for v in dataclasses.asdict(memory).values())  # no field left at its default
    assert memory.as_dict() == dataclasses.asdict(memory)
    snapshot = {"format": persist.FORMAT, "flow": "desk", "version": "v", "done": {},
                "actions": [], "memory": memory.as_dict()}  # fmt: skip
    assert persist.read(carried(snapshot)).memory == memory
    # A snapshot is a copy: the call going on cannot change what was saved.
    saved = memory.as_dict()
    memory.slots["name"] = "Fox Mulder"
    memory.path.append("confirm")
    memory.pending["time"] = "20:00"
    assert saved["slots"] == {"name": "Dana Scully"} and saved["path"][-1] == "ask_reason"
    assert saved["pending"] == {"time": "19:00"}


async def test_an_action_done_before_a_move_is_not_run_again(root):
    call = CallInfo("call_once", flow="desk")
    first = Host(root).agent.start(call)
    transcript = [Utterance("user", "Dana Scully")]
    await turn(first, transcript, call, 1)
    transcript.append(Utterance("user", "a check-up"))
    # The booking runs, then the process dies before the turn is over: the snapshot taken
    # right after the action holds its result but not the half-done turn.
    parts = first.respond(Turn(2, tuple(transcript), call))
    async for part in parts:
        if isinstance(part, ToolCallResult):
            snapshot = carried(first.snapshot())
            break
    await parts.aclose()
    assert BOOKED == ["Dana Scully"]
    assert snapshot["memory"]["state"] == "ask_reason"  # the turn itself is not in it

    second = Host(root).agent.resume(call, snapshot)
    said, _, _ = await turn(second, transcript, call, 2)  # the platform asks again
    assert said == "Booked under R1001. Goodbye!"
    assert BOOKED == ["Dana Scully"]  # booked once, on the first host


async def test_a_host_without_the_version_goes_on_with_the_newest(root):
    call = CallInfo("call_version", flow="desk")
    old = Host(root)
    first = old.agent.start(call)
    await turn(first, [Utterance("user", "Dana Scully")], call, 1)
    snapshot = carried(first.snapshot())
    edit(root, "Booked under", "Your booking is")

    with capture_logs() as logs:
        second = Host(root).agent.resume(call, snapshot)
    missing = [entry for entry in logs if entry["event"] == "flow.version_missing"]
    assert missing and missing[0]["version"] == snapshot["version"]
    assert missing[0]["using"] != snapshot["version"]
    assert second.state == "ask_reason"
    transcript = [Utterance("user", "Dana Scully"), Utterance("user", "a check-up")]
    said, _, _ = await turn(second, transcript, call, 2)
    assert said == "Your booking is R1001. Goodbye!"  # from the same state, the new version
    assert second.summary().flow_version != snapshot["version"]


async def test_a_state_the_newest_version_lacks_ends_in_the_flow_give_up(root):
    call = CallInfo("call_gone", flow="desk")
    first = Host(root).agent.start(call)
    await turn(first, [Utterance("user", "Dana Scully")], call, 1)
    snapshot = carried(first.snapshot())
    edit(root, "ask_reason", "ask_topic")

    second = Host(root).agent.resume(call, snapshot)
    said, control, _ = await turn(second, [Utterance("user", "a check-up")], call, 2)
    assert said == "Let me put you through."
    assert control.transfer_number == "+14155550100"
    assert second.summary().gave_up
    assert second.summary().slots == {"name": "Dana Scully"}  # nothing collected is dropped


async def test_a_superseded_give_up_turn_gives_up_again_on_the_next(root):
    call = CallInfo("call_again", flow="desk")
    first = Host(root).agent.start(call)
    await turn(first, [Utterance("user", "Dana Scully")], call, 1)
    snapshot = carried(first.snapshot())
    edit(root, "ask_reason", "ask_topic")

    second = Host(root).agent.resume(call, snapshot)
    parts = second.respond(Turn(2, (Utterance("user", "a check-up"),), call))
    await anext(parts)  # the caller talks over it: the platform asks again
    await parts.aclose()
    said, control, _ = await turn(second, [Utterance("user", "a check-up, please")], call, 3)
    assert said == "Let me put you through." and control.transfer_number


async def test_without_a_give_up_or_a_flow_the_call_is_ended_politely(root):
    call = CallInfo("call_orphan", flow="desk")
    first = Host(root).agent.start(call)
    await turn(first, [Utterance("user", "Dana Scully")], call, 1)
    snapshot = carried(first.snapshot())
    edit(root, "ask_reason", "ask_topic")
    edit(root, "    on_give_up: desk\n", "")

    second = Host(root).agent.resume(call, snapshot)
    said, control, _ = await turn(second, [Utterance("user", "a check-up")], call, 2)
    assert control.end_call and "can't get any further" in said

    (root / "flows" / "desk.yaml").unlink()
    third = Host(root).agent.resume(call, snapshot)
    assert third.greeting(call).text == ""
    said, control, _ = await turn(third, [Utterance("user", "hello?")], call, 2)
    assert control.end_call and "can't get any further" in said


async def test_a_reloaded_flow_keeps_the_old_version_for_the_calls_on_it(root):
    host = Host(root)
    call = CallInfo("call_live", flow="desk")
    live = host.agent.start(call)
    await turn(live, [Utterance("user", "Dana Scully")], call, 1)
    old_version = live.summary().flow_version
    edit(root, "What is it about?", "What brings you in?")
    assert host.project.registry.get("desk").version != old_version
    assert host.project.registry.version("desk", old_version) is live.flow


def test_a_damaged_snapshot_is_refused(root):
    agent = Host(root).agent
    with pytest.raises(SnapshotError, match="format"):
        agent.resume(CallInfo("c"), {"format": 99})
    with pytest.raises(SnapshotError, match="damaged"):
        agent.resume(CallInfo("c"), {"format": 1, "flow": "desk", "memory": []})


def test_an_empty_snapshot_starts_afresh(root):
    conversation = Host(root).agent.resume(CallInfo("c", flow="desk"), {})
    assert conversation.state == "ask_name"


def edit(root: Path, old: str, new: str) -> None:
    path = root / "flows" / "desk.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    later = time.time() + 2  # a new mtime even on coarse clocks
    os.utime(path, (later, later))
