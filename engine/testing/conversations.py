"""Run conversation tests: scripted calls through a flow, checked turn by turn.

Each test of a conversation file (:mod:`engine.testing.conversation_spec`) becomes one call of
a :class:`~engine.flow.runner.FlowRunner`, so it goes through exactly the conversation code
the server runs. Tests that script the model get the real ``openai`` client talking to an
:class:`~engine.testing.llm_server.LLMTestServer` on 127.0.0.1; the others run without a model
at all, like a server with none configured.

A failing test raises :class:`ConversationFailure`, whose message holds the whole transcript so
far, the states entered, the slots, and every expectation that did not hold.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import orjson

from engine.agent import CallInfo
from engine.diagram import Coverage
from engine.errors import AuthoringError, AuthoringErrors, Location
from engine.flow import AgentReply, CompiledFlow, FlowRunner
from engine.flow.intents import first_match
from engine.flow.parse import FLOW_SUFFIXES
from engine.project import Project
from engine.protocol import ToolCallInvocation

from .conversation_spec import (
    ConversationTest,
    ConversationTurn,
    Expect,
    FinalExpect,
    LoadedConversations,
    ScriptedReply,
)
from .llm_server import LLMTestServer, Reply, ToolCall

# Any request the test did not script is answered with this status, so an unscripted model
# call fails fast instead of the scripted server inventing an answer ("Okay.").
UNSCRIPTED_STATUS = 500
_CLOCK = re.compile(r"^(\d{1,2}):([0-5]\d)(?::([0-5]\d))?$")


class ConversationFailure(AssertionError):
    """A conversation test did not go as scripted; the message tells the whole story."""


# -- what happened on a call --------------------------------------------------------------


@dataclass
class _Line:
    turn: int
    speaker: str  # "caller" or "agent"
    text: str
    notes: tuple[str, ...] = ()


@dataclass
class _Call:
    """The record of one test call, for checks and failure messages."""

    test: ConversationTest
    runner: FlowRunner
    lines: list[_Line] = field(default_factory=list)
    ended_on: int | None = None  # turn on which the agent hung up or transferred
    ended_how: str = ""
    transfer: str | None = None
    hung_up: bool = False
    model_requests: int = 0
    intents: list[str] = field(default_factory=list)  # global intents taken (coverage)

    def agent_said(self, number: int, reply: AgentReply, asked: int) -> None:
        notes = []
        if reply.ended:
            notes.append("hangs up")
        if reply.transfer is not None:
            notes.append(f"transfers to {reply.transfer}")
        if asked:
            notes.append("model asked" if asked == 1 else f"model asked {asked} times")
        if reply.error is not None:
            notes.append(f"failed: {reply.error}")  # the server would speak its fallback
        self.lines.append(_Line(number, "agent", reply.text, tuple(notes)))
        if reply.ended or reply.transfer is not None:
            self.ended_on = number
            self.ended_how = "hung up" if reply.ended else f"transferred to {reply.transfer}"
            self.hung_up = self.hung_up or reply.ended
            self.transfer = reply.transfer or self.transfer

    def story(self, failing: int | None) -> str:
        """The transcript, states and slots, the failing turn's lines marked with ``>``."""
        out = ["transcript:"]
        for line in self.lines:
            mark = ">" if line.turn == failing else " "
            text = line.text.strip() or (
                "(silence)" if line.speaker == "caller" else "(says nothing)"
            )
            notes = f"   [{', '.join(line.notes)}]" if line.notes else ""
            out.append(f"  {mark} {line.speaker + ':':7} {text}{notes}")
        out.append("path:  " + " -> ".join(self.runner.states))
        out.append("slots: " + _show(self.runner.slots))
        return "\n".join(out)


def _show(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()


# -- the session: flows, the model server, coverage ---------------------------------------


class ConversationSession:
    """What one run of conversation tests shares: compiled flows, the model server, coverage.

    Close it when the run is over (it may own a test server thread).
    """

    def __init__(self, project: Project, root: Path) -> None:
        self.project = project
        self.root = root
        self.coverage: dict[str, Coverage] = {}
        self.flows: dict[str, CompiledFlow] = {}  # flows some test ran, by name (for reports)
        self._by_file: dict[Path, CompiledFlow] = {}
        self._server: LLMTestServer | None = None

    # flows

    def flow_for(self, loaded: LoadedConversations) -> CompiledFlow:
        """The flow a conversation file tests (loaded and checked once per run)."""
        cached = self._by_file.get(loaded.path)
        if cached is not None:
            return cached
        name = loaded.spec.flow
        if name.endswith(FLOW_SUFFIXES) or "/" in name:
            flow = self._flow_file(loaded, name)
        else:
            flow = self._flow_named(loaded, name)
        self._by_file[loaded.path] = flow
        self.flows[flow.name] = flow
        return flow

    def _flow_file(self, loaded: LoadedConversations, name: str) -> CompiledFlow:
        # Relative to the conversation file first, then to the project root.
        candidates = [loaded.path.parent / name, self.root / name]
        path = next((p for p in candidates if p.is_file()), None)
        if path is None:
            raise AuthoringErrors(
                [
                    AuthoringError(
                        f"no flow file {name!r}", loaded.where("flow"), _looked(candidates)
                    )
                ]
            )
        return self.project.open_flow(path)

    def _flow_named(self, loaded: LoadedConversations, name: str) -> CompiledFlow:
        names = self.project.flow_names()
        flow = self.project.registry.get(name)
        if flow is not None:
            return flow
        for path, errors in self.project.registry.broken().items():
            if path.stem == name:
                raise AuthoringErrors(errors)
        known = ", ".join(names) or "none loaded"
        raise AuthoringErrors(
            [
                AuthoringError(
                    f"no flow named {name!r} in {self.project.flows_dir}",
                    loaded.where("flow"),
                    f"flows there: {known}",
                )
            ]
        )

    # the model

    def model_server(self) -> LLMTestServer:
        """The scripted model server, started on first use (one per session)."""
        if self._server is None:
            server = LLMTestServer(default=Reply(status=UNSCRIPTED_STATUS))
            server.start_in_thread()
            self._server = server
        return self._server

    def close(self) -> None:
        """Stop the model server, if one was started."""
        server, self._server = self._server, None
        if server is not None:
            server.stop_thread()

    # running

    def run(self, loaded: LoadedConversations, index: int) -> None:
        """Run test ``index`` of a file; raise :class:`ConversationFailure` if it fails."""
        flow = self.flow_for(loaded)
        errors = check_against_flow(loaded, flow, index)
        if errors:
            raise AuthoringErrors(errors)
        asyncio.run(self.run_async(loaded, index, flow))

    async def run_async(self, loaded: LoadedConversations, index: int, flow: CompiledFlow) -> None:
        """Run one test on the running event loop (see :meth:`run`)."""
        test = loaded.spec.tests[index]
        today = test.today or loaded.spec.today or date.today()
        details = {**loaded.spec.call, **(test.call or {})}
        call_info = CallInfo(f"test_{index + 1}", flow=flow.name, details=details)
        client = model = None
        if test.uses_model:
            import openai  # only tests that script the model need the client

            from engine.llm import OpenAIChatModel

            server = self.model_server()
            client = openai.AsyncOpenAI(base_url=server.base_url, api_key="test", max_retries=0)
            # Generous deadlines: a busy test machine must not turn into a fallback line.
            model = OpenAIChatModel(
                client, model="test", first_token_timeout=10, turn_timeout=30, retries=0
            )
        runner = FlowRunner(flow, model, call=call_info, today=lambda: today)
        call = _Call(test, runner)
        try:
            await _Script(self, loaded, index, call).play()
        finally:
            runner.close()
            if client is not None:
                await client.close()
            self.coverage.setdefault(flow.name, Coverage()).add(
                runner.states, runner.edges, call.intents
            )


def _looked(paths: Sequence[Path]) -> str:
    return "looked for " + " and ".join(str(p) for p in paths)


class _Script:
    """Plays one test's turns against its call and checks each expectation."""

    def __init__(
        self, session: ConversationSession, loaded: LoadedConversations, index: int, call: _Call
    ) -> None:
        self.session = session
        self.loaded = loaded
        self.index = index
        self.call = call
        self.test = call.test
        self.runner = call.runner

    async def play(self) -> None:
        turns = self.test.turns
        expect_greeting = turns[0].agent
        greeting = self.runner.start()
        if greeting.text:
            # The greeting belongs to turn 1 when the test checks it, so a failure marks it.
            self.call.agent_said(1 if expect_greeting else 0, greeting, 0)
        if expect_greeting is not None:
            self._check(1, _observe_turn(self.call, greeting, 0), expect_greeting)
        for number, turn in enumerate(turns, start=1):
            if turn.kind != "agent":
                await self._turn(number, turn)
        if self.test.expect is not None:
            self._check(None, _observe_end(self.call), self.test.expect)

    async def _turn(self, number: int, turn: ConversationTurn) -> None:
        call = self.call
        if call.ended_on is not None:
            self._fail(
                number,
                [
                    f"the call is already over: the agent {call.ended_how} on turn "
                    f"{call.ended_on}, so nothing can be said after it"
                ],
            )
        server = self.session.model_server() if self.test.uses_model else None
        if server is not None:
            server.reset()  # this turn's replies only, and its own request count
            server.script(*(_reply(r) for r in turn.model))
        before = self.runner.state
        if turn.caller is not None:
            call.lines.append(_Line(number, "caller", turn.caller))
            reply = await self.runner.say(turn.caller)
        else:
            call.lines.append(_Line(number, "caller", ""))
            reply = await self.runner.silence()
        asked = server.stats.requests if server is not None else 0
        call.model_requests += asked
        call.agent_said(number, reply, asked)
        self._note_global_intent(turn, reply, before)
        scripted = len(turn.model)
        if asked > scripted:
            said = (
                "no reply"
                if not scripted
                else f"only {scripted} repl{'y' if scripted == 1 else 'ies'}"
            )
            self._fail(
                number,
                [
                    f"the model was asked on turn {number} but the test scripts {said}"
                    + (f" (asked {asked} times)" if asked > 1 else "")
                    + ": add `model:` replies to this turn, or see why our parsers did not "
                    "settle it",
                ],
            )
        if asked < scripted:
            self._fail(
                number,
                [
                    f"turn {number} scripts {scripted} model repl{'y' if scripted == 1 else 'ies'}"
                    f" but the model was asked {asked} time{'' if asked == 1 else 's'}: our "
                    "parsers settled the turn",
                ],
            )
        if reply.error is not None:
            self._fail(number, [f"the agent failed: {reply.error}"])
        if turn.expect is not None:
            self._check(number, _observe_turn(call, reply, asked), turn.expect)

    def _note_global_intent(self, turn: ConversationTurn, reply: AgentReply, before: str) -> None:
        # The runtime checks global intents first on every caller turn, with this same matcher;
        # the model may also pick one with its intent_ tool. Coverage needs to know which.
        flow = self.runner.flow
        if turn.caller is None or reply.error is not None:
            return
        said = _caller_words(self.runner)
        matched = first_match(flow.global_intents, said) if said else None
        if matched is None:
            local = {t.intent for t in flow.spec.states[before].next if t.intent}
            for event in reply.events:
                if isinstance(event, ToolCallInvocation) and event.name.startswith("intent_"):
                    name = event.name.removeprefix("intent_")
                    if name not in local:
                        matched = name
        if matched is not None:
            self.call.intents.append(matched)

    def _check(self, number: int | None, observed: _Observed, expect: Expect) -> None:
        problems = check(expect, observed)
        if problems:
            self._fail(number, problems)

    def _fail(self, number: int | None, problems: list[str]) -> None:
        path: tuple[Any, ...] = ("tests", self.index)
        path = (*path, "expect") if number is None else (*path, "turns", number - 1)
        where = Location(str(self.loaded.path), self.loaded.line(*path))
        # The first line is what pytest's short summary shows: make it the first problem.
        when = "by the end" if number is None else f"turn {number}"
        body = "\n".join(f"{when}: {problem}" for problem in problems)
        place = f"  at {where}, in conversation {self.test.name!r}"
        raise ConversationFailure(f"{body}\n{place}\n\n{self.call.story(number)}")


def _reply(scripted: ScriptedReply) -> Reply:
    calls = tuple(ToolCall(c.name, dict(c.arguments)) for c in scripted.tool_calls)
    return Reply(text=scripted.text, tool_calls=calls)


def _caller_words(runner: FlowRunner) -> str:
    """What the caller said since the agent last spoke (what the runtime reads in a turn)."""
    words: list[str] = []
    transcript = runner.transcript
    end = len(transcript)
    if end and transcript[-1].role == "agent":
        end -= 1  # the answer to this turn
    for utterance in reversed(transcript[:end]):
        if utterance.role == "agent":
            break
        words.append(utterance.content.strip())
    return " ".join(reversed([w for w in words if w]))


# -- expectations -------------------------------------------------------------------------


@dataclass(frozen=True)
class _Observed:
    """What the checks look at: one turn's reply, or the whole call at the end."""

    text: str
    state: str
    slots: Mapping[str, Any]
    ended: bool
    transfer: str | None
    model_requests: int
    path: tuple[str, ...]
    scope: str  # "on this turn" or "during the call"


def _observe_turn(call: _Call, reply: AgentReply, asked: int) -> _Observed:
    runner = call.runner
    return _Observed(
        reply.text,
        runner.state,
        runner.slots,
        reply.ended,
        reply.transfer,
        asked,
        tuple(runner.states),
        "on this turn",
    )


def _observe_end(call: _Call) -> _Observed:
    runner = call.runner
    spoken = " ".join(line.text for line in call.lines if line.speaker == "agent")
    return _Observed(
        spoken,
        runner.state,
        runner.slots,
        call.hung_up,
        call.transfer,
        call.model_requests,
        tuple(runner.states),
        "during the call",
    )


def _texts(value: str | list[str] | None) -> list[str]:
    if value is None:
        return []
    return [value] if isinstance(value, str) else value


def check(expect: Expect, seen: _Observed) -> list[str]:
    """Every expectation of ``expect`` that ``seen`` does not meet, as readable lines."""
    problems: list[str] = []
    said = f"it said: {seen.text!r}" if seen.text else "it said nothing"
    if expect.state is not None and seen.state != expect.state:
        problems.append(f"state: expected {expect.state!r}, but the call is in {seen.state!r}")
    missing = [p for p in _texts(expect.says) if p.casefold() not in seen.text.casefold()]
    if missing:
        phrases = " and ".join(map(repr, missing))
        problems.append(f"says: expected the agent to say {phrases} {seen.scope}, but {said}")
    if expect.says_regex is not None and not re.search(expect.says_regex, seen.text, re.I):
        problems.append(f"says_regex: /{expect.says_regex}/ does not match; {said}")
    for phrase in _texts(expect.not_says):
        if phrase.casefold() in seen.text.casefold():
            problems.append(f"not_says: the agent said {phrase!r} {seen.scope}: {seen.text!r}")
    for name, wanted in (expect.slots or {}).items():
        actual = seen.slots.get(name)
        if wanted is None:  # `slot: null` means "not filled" (a value that was cleared)
            if actual is not None:
                problems.append(f"slots.{name}: expected it not filled, got {_show(actual)}")
        elif actual is None:
            problems.append(f"slots.{name}: expected {_show(wanted)}, but it is not filled")
        elif not same_value(wanted, seen.slots[name]):
            got = _show(seen.slots[name])
            problems.append(f"slots.{name}: expected {_show(wanted)}, got {got}")
    if expect.ended is not None and seen.ended != expect.ended:
        if expect.ended:
            problems.append(f"ended: expected the agent to hang up {seen.scope}, but it did not")
        else:
            problems.append(f"ended: expected the call to go on, but the agent hung up; {said}")
    problems.extend(_transfer_problems(expect.transferred, seen))
    if expect.model_called is not None and (seen.model_requests > 0) != expect.model_called:
        if expect.model_called:
            problems.append(
                f"model_called: expected the model to be asked {seen.scope}, but our parsers "
                "settled it without the model"
            )
        else:
            problems.append(
                f"model_called: expected no model call {seen.scope}, but the model was asked "
                f"{seen.model_requests} time(s)"
            )
    wanted_path = expect.path if isinstance(expect, FinalExpect) else None
    if wanted_path is not None and list(seen.path) != wanted_path:
        expected, got = " -> ".join(wanted_path), " -> ".join(seen.path)
        problems.append(f"path: expected {expected}, got {got}")
    return problems


def _transfer_problems(wanted: bool | int | str | None, seen: _Observed) -> list[str]:
    if wanted is None:
        return []
    got = seen.transfer
    if wanted is False:
        return [] if got is None else [f"transferred: expected no transfer, but it went to {got}"]
    if got is None:
        target = "" if wanted is True else f" to {wanted}"
        return [f"transferred: expected a transfer{target} {seen.scope}, but there was none"]
    if wanted is True or _digits(wanted) == _digits(got):
        return []
    return [f"transferred: expected a transfer to {wanted}, but it went to {got}"]


def _digits(number: object) -> str:
    # YAML reads an unquoted +14155550100 as a number; compare the digits only.
    return re.sub(r"\D", "", str(number))


def same_value(wanted: Any, actual: Any) -> bool:
    """Whether a slot holds the value a test file wrote, read as YAML reads it.

    YAML turns an unquoted ``1980-03-03`` into a date (slots hold ISO text) and an unquoted
    ``18:30`` into the base-60 number 1110 (slots hold ``"18:30"``); both compare as written.
    """
    if wanted == actual:
        return True
    if isinstance(wanted, (date, datetime, time)):
        return bool(wanted.isoformat() == actual)
    if isinstance(wanted, int) and not isinstance(wanted, bool) and isinstance(actual, str):
        clock = _CLOCK.match(actual)
        if clock:
            hours, minutes, seconds = (int(part or 0) for part in clock.groups())
            return wanted in (hours * 60 + minutes, (hours * 60 + minutes) * 60 + seconds)
    if isinstance(wanted, Mapping) and isinstance(actual, Mapping):
        return wanted.keys() == actual.keys() and all(
            same_value(wanted[k], actual[k]) for k in wanted
        )
    if isinstance(wanted, list) and isinstance(actual, (list, tuple)):
        return len(wanted) == len(actual) and all(map(same_value, wanted, actual))
    return False


# -- checks of a file against its flow ----------------------------------------------------


def check_against_flow(
    loaded: LoadedConversations, flow: CompiledFlow, index: int
) -> list[AuthoringError]:
    """Names in test ``index`` that the flow does not have: states, slots, model tools."""
    spec = flow.spec
    states, slots = set(spec.states), set(spec.slots)
    intents = {g.intent for g in spec.global_intents}
    intents |= {t.intent for s in spec.states.values() for t in s.next if t.intent}
    tools = {f"set_{s}" for s in slots} | {f"intent_{i}" for i in intents}
    errors: list[AuthoringError] = []

    def unknown(kind: str, name: str, known: set[str], *path: Any) -> None:
        close = _close(name, known)
        hint = (
            f"did you mean {close!r}?" if close else f"{flow.name} has: {', '.join(sorted(known))}"
        )
        errors.append(
            AuthoringError(
                f"{kind} {name!r} is not in flow {flow.name!r}", loaded.where(*path), hint
            )
        )

    test = loaded.spec.tests[index]
    base = ("tests", index)
    expects: list[tuple[tuple[Any, ...], Expect]] = []
    for n, turn in enumerate(test.turns):
        for key in ("agent", "expect"):
            value = getattr(turn, key)
            if value is not None:
                expects.append(((*base, "turns", n, key), value))
        for r, reply in enumerate(turn.model):
            for c, tool in enumerate(reply.tool_calls):
                if tool.name not in tools:
                    at = (*base, "turns", n, "model", r, "tool_calls", c, "name")
                    unknown("model tool", tool.name, tools, *at)
    if test.expect is not None:
        expects.append(((*base, "expect"), test.expect))
        for p, name in enumerate(test.expect.path or ()):
            if name not in states:
                unknown("state", name, states, *base, "expect", "path", p)
    for at, expect in expects:
        if expect.state is not None and expect.state not in states:
            unknown("state", expect.state, states, *at, "state")
        for name in expect.slots or {}:
            if name not in slots:
                unknown("slot", name, slots, *at, "slots", name)
    return sorted(errors, key=lambda error: (error.location and error.location.line) or 0)


def _close(name: str, known: set[str]) -> str | None:
    found = difflib.get_close_matches(name, sorted(known), n=1)
    return found[0] if found else None
