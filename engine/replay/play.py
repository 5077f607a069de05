"""Playing a recorded call against a flow version, turn by turn, as the platform would.

Each recorded caller turn is given to an in-process :class:`~engine.flow.FlowRunner` (the
conversation code a phone call runs): the caller's words, or a silence for a reminder. The
call runs on the day it was made (or on ``DIALPLAN_TODAY``'s, as the server did), with the
call details it had, the model only if one is configured, and actions stubbed with their
recorded results (:mod:`engine.replay.actions`) unless they are to run for real. Play stops
where the new version ends the call; the recorded turns after that are not heard.

What a play leaves is a :class:`Run`, the same shape :func:`recorded_run` gives the recorded
call, so the two can be compared turn by turn (:mod:`engine.replay.verdict`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, Literal

from engine.agent import CallInfo, CallSummary
from engine.flow import CompiledFlow, FlowRunner, StubbedCall, stub_runners
from engine.llm import ChatModel
from engine.records import CallFacts, TurnRecord
from engine.records import outcome as outcome_of

from .actions import recorded_actions
from .script import CallScript, Step

_EPOCH = datetime.fromtimestamp(0, UTC)  # a replayed turn's time tells nothing


@dataclass(frozen=True)
class Exchange:
    """One caller turn of a run: the question it answered, and what the agent said then."""

    step: Step
    """The recorded turn whose words were given."""
    asked_in: str | None
    question: str
    said: str
    state_after: str | None
    error: str | None = None


@dataclass(frozen=True)
class Run:
    """A call from its greeting to its end: each exchange, then its path, slots and outcome."""

    version: str | None
    greeting: str
    exchanges: tuple[Exchange, ...]
    path: tuple[str, ...]
    slots: Mapping[str, Any]
    outcome: str
    unheard: int = 0
    """Recorded caller turns not played: the call had ended before them."""
    actions: tuple[StubbedCall, ...] = ()
    unrecorded: tuple[str, ...] = ()
    """Actions the recorded call never ran with those arguments (they answered ``{}``)."""
    model_requests: int = 0
    notes: tuple[str, ...] = field(default=())


def recorded_run(script: CallScript) -> Run:
    """What the recorded call did, as a :class:`Run`."""
    return Run(
        version=script.version,
        greeting=script.greeting,
        exchanges=tuple(
            Exchange(step, step.asked_in, step.question, step.said, step.state_after)
            for step in script.steps
        ),
        path=script.path,
        slots=script.slots,
        outcome=script.outcome,
    )


@dataclass(frozen=True)
class Player:
    """How calls are played: the model, actions, the day, the zone (the same for every call)."""

    model: ChatModel | None = None
    live_actions: bool = False
    today: date | None = None
    """A fixed "today" (``DIALPLAN_TODAY``); else each call's own day."""
    time_zone: str = "UTC"

    async def play(self, flow: CompiledFlow, script: CallScript) -> Run:
        """Play ``script`` against ``flow``."""
        calls: list[StubbedCall] = []
        unrecorded: list[str] = []
        actions = (
            stub_runners(calls=calls, live=True)
            if self.live_actions
            else recorded_actions(script.actions, calls, unrecorded)
        )
        fixed = self.today
        started = script.started_at
        runner = FlowRunner(
            flow,
            self.model,
            call=CallInfo(script.call_id, flow=flow.name, details=dict(script.details)),
            today=(lambda: fixed) if fixed is not None else None,
            actions=actions,
            time_zone=self.time_zone,
            clock=lambda: started,
        )
        try:
            return await _play(runner, script, calls, unrecorded)
        finally:
            runner.close()


async def _play(
    runner: FlowRunner,
    script: CallScript,
    calls: list[StubbedCall],
    unrecorded: list[str],
) -> Run:
    greeting = runner.start()
    ended_by: Literal["hang_up", "transfer"] | None = None
    if greeting.ended or greeting.transfer:
        ended_by = "hang_up" if greeting.ended else "transfer"
    question = greeting.text
    exchanges: list[Exchange] = []
    turns: list[TurnRecord] = []
    requests = 0
    for step in script.steps:
        if ended_by is not None:
            break
        asked_in = runner.state
        reply = await (runner.silence() if step.kind == "silence" else runner.say(step.words))
        exchanges.append(Exchange(step, asked_in, question, reply.text, runner.state, reply.error))
        turns.append(_turn(len(turns) + 1, step, reply.error))
        requests += _model_requests(runner)
        if reply.text:
            question = reply.text
        if reply.ended:
            ended_by = "hang_up"
        elif reply.transfer:
            ended_by = "transfer"
    summary: CallSummary = runner.conversation.summary()
    facts = CallFacts(
        call=runner.call,
        summary=summary,
        turns=tuple(turns),
        transcript=(),
        started_at=0.0,
        ended_at=0.0,
        ended_by=ended_by,
    )
    return Run(
        version=runner.flow.version,
        greeting=greeting.text,
        exchanges=tuple(exchanges),
        path=tuple(summary.path),
        slots=dict(summary.slots),
        outcome=outcome_of(facts),
        unheard=len(script.steps) - len(exchanges),
        actions=tuple(calls),
        unrecorded=tuple(unrecorded),
        model_requests=requests,
    )


def _turn(number: int, step: Step, error: str | None) -> TurnRecord:
    """The least of a turn's record that tells how a call ended (see ``records.outcome``)."""
    return TurnRecord(
        response_id=number,
        kind="reminder" if step.kind == "silence" else "response",
        started_at=_EPOCH,
        outcome="fallback" if error else "complete",
    )


def _model_requests(runner: FlowRunner) -> int:
    trace = runner.conversation.turn_trace()
    return trace.model.requests if trace is not None and trace.model is not None else 0
