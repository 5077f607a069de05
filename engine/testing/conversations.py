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
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from engine.agent import CallInfo
from engine.diagram import Coverage
from engine.errors import AuthoringError, AuthoringErrors, Location
from engine.flow import AgentReply, CompiledFlow, FlowRunner, StubbedCall, stub_runners
from engine.flow.decide import caller_words
from engine.flow.extraction import EXTRACT_TOOL
from engine.flow.intents import first_match
from engine.flow.parse import FLOW_SUFFIXES
from engine.project import Project
from engine.protocol import ToolCallInvocation

from .call_record import CallRecord, Line
from .conversation_spec import (
    ConversationTurn,
    Expect,
    LoadedConversations,
    ScriptedReply,
    stubs_of,
)
from .expectations import Observed, check, check_against_flow, observe_end, observe_turn
from .llm_server import LLMTestServer, Reply, ToolCall

# Any request the test did not script is answered with this status, so an unscripted model
# call fails fast instead of the scripted server inventing an answer ("Okay.").
UNSCRIPTED_STATUS = 500


class ConversationFailure(AssertionError):
    """A conversation test did not go as scripted; the message tells the whole story."""


# -- the session: flows, the model server, coverage ---------------------------------------


class ConversationSession:
    """What one run of conversation tests shares: compiled flows, the model server, coverage.

    Close it when the run is over (it may own a test server thread).
    """

    def __init__(self, project: Project, root: Path, *, live_actions: bool = False) -> None:
        self.project = project
        self.root = root
        self.live_actions = live_actions  # run actions for real instead of stubbing them
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
        # Live: every action runs for real, whatever is declared.
        stubs = {} if self.live_actions else stubs_of({**loaded.spec.actions, **test.actions})
        called: list[StubbedCall] = []
        actions = stub_runners(stubs, called, live=self.live_actions)
        runner = FlowRunner(flow, model, call=call_info, today=lambda: today, actions=actions)
        call = CallRecord(test, runner, actions=called)
        try:
            await _Script(self, loaded, index, call).play()
        finally:
            runner.close()
            if model is not None:
                await model.aclose()
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
        self,
        session: ConversationSession,
        loaded: LoadedConversations,
        index: int,
        call: CallRecord,
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
        self.call.turn_starts()
        greeting = self.runner.start()
        if greeting.text:
            # The greeting belongs to turn 1 when the test checks it, so a failure marks it.
            self.call.agent_said(1 if expect_greeting else 0, greeting, 0)
        if expect_greeting is not None:
            self._check(1, observe_turn(self.call, greeting, 0), expect_greeting)
        for number, turn in enumerate(turns, start=1):
            if turn.kind != "agent":
                await self._turn(number, turn)
        if self.test.expect is not None:
            self._check(None, observe_end(self.call), self.test.expect)

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
        call.turn_starts()
        if turn.caller is not None:
            call.lines.append(Line(number, "caller", turn.caller))
            reply = await self.runner.say(turn.caller)
        else:
            call.lines.append(Line(number, "caller", ""))
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
            self._check(number, observe_turn(call, reply, asked), turn.expect)

    def _note_global_intent(self, turn: ConversationTurn, reply: AgentReply, before: str) -> None:
        # The runtime checks global intents first on every caller turn, with this same matcher;
        # the model may also pick one with its intent_ tool. Coverage needs to know which.
        flow = self.runner.flow
        if turn.caller is None or reply.error is not None:
            return
        transcript = self.runner.transcript
        if transcript and transcript[-1].role == "agent":
            transcript = transcript[:-1]  # the answer to this turn
        said = caller_words(tuple(transcript))
        matched = first_match(flow.global_intents, said) if said else None
        if matched is None:
            local = {t.intent for t in flow.spec.states[before].next if t.intent}
            for event in reply.events:
                if not isinstance(event, ToolCallInvocation):
                    continue
                name = (
                    event.name.removeprefix("intent_") if event.name.startswith("intent_") else ""
                )
                if event.name == EXTRACT_TOOL:
                    name = str(_arguments(event.arguments).get("intent") or "")
                if name and name not in local:
                    matched = name
        if matched is not None:
            self.call.intents.append(matched)

    def _check(self, number: int | None, observed: Observed, expect: Expect) -> None:
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


def _arguments(text: str) -> dict[str, Any]:
    try:
        found = orjson.loads(text or "{}")
    except orjson.JSONDecodeError:
        return {}
    return found if isinstance(found, dict) else {}


def _reply(scripted: ScriptedReply) -> Reply:
    calls = tuple(ToolCall(c.name, dict(c.arguments)) for c in scripted.tool_calls)
    return Reply(text=scripted.text, tool_calls=calls)
