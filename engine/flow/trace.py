"""What a flow call did, kept for the call log: each turn's trace and the actions it ran.

The conversation reports as it goes (what the parsers or the model understood, which way out
was taken and why, the model's requests); :meth:`TurnTracer.finish` turns that into an
immutable :class:`~engine.agent.TurnTrace` with the values of sensitive slots masked, so a
trace never holds one.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Literal

import orjson

from engine.agent import MASK, ActionRun, CallSummary, Finding, Move, TurnTrace
from engine.llm import Meter
from engine.protocol import ToolCallInvocation, ToolCallResult

from . import decide
from .compile import CompiledFlow
from .memory import CallMemory
from .spec import Transition


class TurnTracer:
    """Collects one turn's trace while the conversation runs it."""

    def __init__(self, state: str, sensitive: frozenset[str]) -> None:
        self.state_before = state
        self.sensitive = sensitive
        self.plan = ""
        self.understood: list[Finding] = []
        self.moves: list[Move] = []
        self.refused: list[str] = []
        self.gave_up = False
        self.caught_up = 0
        """Caller answers a resumed call took first, lost with the process that answered."""
        self.meter = Meter()
        self._why: str | None = None

    def planned(self, plan: decide.Plan, understood: decide.Understanding) -> None:
        """The turn's plan, and what our parsers understood for it."""
        self.plan = re.sub(r"(?<!^)(?=[A-Z])", "_", type(plan).__name__).lower()  # not_understood
        self.slots(understood.values, "parser")
        self.refuse(understood.errors)
        if isinstance(plan, decide.TakeGlobal):
            self.intent(plan.intent, "parser")
        elif isinstance(plan, decide.Move) and plan.transition.intent:
            self.intent(plan.transition.intent, "parser")
        elif isinstance(plan, decide.Correct):
            self.why("correction")

    def slots(self, values: Mapping[str, Any], by: Literal["parser", "model"]) -> None:
        """Slot values understood (and stored) this turn."""
        for name, value in values.items():
            shown = MASK if name in self.sensitive else value
            self.understood.append(Finding("slot", name, shown, by))

    def intent(self, name: str, by: Literal["parser", "model"]) -> None:
        """An intent recognised this turn."""
        self.understood.append(Finding("intent", name, None, by))

    def refuse(self, errors: Iterable[str]) -> None:
        """Values refused this turn, by the reasons spoken for them."""
        self.refused.extend(errors)

    def why(self, how: str) -> None:
        """Why the next state is entered (``"gave up"``, ``"global intent human"``...)."""
        self._why = how

    def leave(self, transition: Transition) -> None:
        """A way out is taken: its guard or intent is why the next state is entered."""
        if transition.when:
            self._why = f"when {transition.when}"
        elif transition.intent:
            self._why = f"intent {transition.intent}"
        else:
            self._why = "slots filled"

    def enter(self, source: str, target: str) -> None:
        """A state is entered."""
        self.moves.append(Move(source, target, self._why or "entered"))
        self._why = None

    def finish(self, state: str) -> TurnTrace:
        """The turn's trace, the call now being in ``state``."""
        return TurnTrace(
            state_before=self.state_before,
            state_after=state,
            plan=self.plan,
            understood=tuple(self.understood),
            moves=tuple(self.moves),
            refused=tuple(self.refused),
            gave_up=self.gave_up,
            model=self.meter.use(),
            caught_up=self.caught_up,
        )


class ActionLog:
    """The actions a call ran, from the bookkeeping events its states yield, by tool call id.

    Each action runs once per call and arguments, but a superseded turn yields its events
    again when it is asked anew: the id (state, action, and how far along the path) keeps
    one entry per run.
    """

    def __init__(self) -> None:
        self._runs: dict[str, ActionRun] = {}

    def saw(self, part: object, state: str) -> None:
        """Note an action's invocation or result as it goes by."""
        if isinstance(part, ToolCallInvocation):
            previous = self._runs.get(part.tool_call_id)
            if previous is None:
                self._runs[part.tool_call_id] = ActionRun(part.name, state, _json(part.arguments))
        elif isinstance(part, ToolCallResult):
            run = self._runs.get(part.tool_call_id)
            if run is not None:
                self._runs[part.tool_call_id] = ActionRun(
                    run.name, run.state, run.arguments, _json(part.content), part.successful
                )

    def runs(self) -> tuple[ActionRun, ...]:
        """Every action run, in the order they started."""
        return tuple(self._runs.values())

    def by_id(self) -> dict[str, ActionRun]:
        """Every action run by its tool call id, in the order they started."""
        return dict(self._runs)

    def restore(self, runs: Iterable[tuple[str, ActionRun]]) -> None:
        """Take over the log of a call that started on another process."""
        self._runs.update(runs)


def summarize(
    flow: CompiledFlow | None, memory: CallMemory, actions: ActionLog, *, gave_up: bool
) -> CallSummary:
    """A flow call so far, for the call log (slot values in clear; their sensitivity named)."""
    sensitive = frozenset(n for n, s in flow.slots.items() if s.sensitive) if flow else frozenset()
    return CallSummary(
        flow=flow.name if flow else None,
        flow_version=flow.version if flow else None,
        state=memory.state or None,
        slots=dict(memory.slots),
        sensitive=sensitive,
        path=tuple(memory.path),
        actions=actions.runs(),
        gave_up=gave_up,
        cancelled=memory.cancelled,
    )


def _json(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
