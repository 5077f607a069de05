"""Where callers drop: a flow version's states, how many calls entered, left and ended in each.

For each state, counted once per call: the calls that **entered** it, the calls that **left**
it (moved on to another state after their last visit: **forward**, deeper into the flow, or
**back**, to a state nearer its start: a correction, a repair), and the calls that **ended**
there, by outcome. For every state ``entered = left + ended``, and the calls ended over all
states add up to the calls counted. Then, per state, the turns it asked again (an answer not
understood or refused), the silences it reminded, and the give-ups; and the slots callers
corrected most (a value understood again, different from the one before).

"Nearer its start" is the flow's own order: how many ``next`` moves a state is from the start
state (states only a give-up or a global intent reaches come after all the others).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Any

from engine.agent import MASK
from engine.diagram import Traffic
from engine.flow import CompiledFlow
from engine.records import CallRecord

DROPS = ("abandoned", "gave_up", "error", "cancelled")
"""Endings where the caller did not get what they called for (the red of the chart)."""

REASKS = ("not_understood", "rejected")
"""Turn plans that ask the same question again."""


@dataclass
class StateFunnel:
    """One state's counts (see the module docstring)."""

    state: str
    entered: int = 0
    forward: int = 0
    back: int = 0
    ended: Counter[str] = field(default_factory=Counter)
    reasks: int = 0
    silences: int = 0
    give_ups: int = 0

    @property
    def left(self) -> int:
        """Calls that moved on from the state after their last visit."""
        return self.forward + self.back

    @property
    def ended_total(self) -> int:
        """Calls that ended in the state."""
        return sum(self.ended.values())

    @property
    def dropped(self) -> int:
        """Calls that ended badly in the state (:data:`DROPS`)."""
        return sum(self.ended[outcome] for outcome in DROPS)

    def as_json(self) -> dict[str, Any]:
        """The state's counts for tools."""
        return {
            "state": self.state,
            "entered": self.entered,
            "left": self.left,
            "left_forward": self.forward,
            "left_back": self.back,
            "ended": self.ended_total,
            "ended_by": dict(self.ended),
            "dropped": self.dropped,
            "reasks": self.reasks,
            "silences": self.silences,
            "give_ups": self.give_ups,
        }


@dataclass(frozen=True)
class Correction:
    """A slot callers corrected: in how many calls, how many times in all."""

    slot: str
    calls: int
    times: int


@dataclass
class Funnel:
    """A flow version's funnel (``version`` ``None``: every version of the flow together)."""

    flow: str
    version: str | None
    calls: int = 0
    states: dict[str, StateFunnel] = field(default_factory=dict)
    moves: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Calls that moved from one state to another, at least once."""
    anywhere: Counter[tuple[str, str]] = field(default_factory=Counter)
    """Of those, the calls that made the move through a global intent or a repair."""
    corrected: list[Correction] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The funnel for tools (``dialplan calls funnel --json``)."""
        return {
            "flow": self.flow,
            "version": self.version,
            "calls": self.calls,
            "states": [state.as_json() for state in self.states.values()],
            "moves": [
                {"source": a, "target": b, "calls": n} for (a, b), n in sorted(self.moves.items())
            ],
            "corrected": [
                {"slot": c.slot, "calls": c.calls, "times": c.times} for c in self.corrected
            ],
        }


def depths(flow: CompiledFlow) -> dict[str, int]:
    """How many ``next`` moves each state is from the start (unreached states come last)."""
    spec = flow.spec
    found = {spec.start_state: 0}
    queue = deque([spec.start_state])
    while queue:
        name = queue.popleft()
        for transition in spec.states[name].next:
            if transition.to in spec.states and transition.to not in found:
                found[transition.to] = found[name] + 1
                queue.append(transition.to)
    last = max(found.values(), default=0) + 1
    return {name: found.get(name, last) for name in spec.states}


def funnel(
    flow: str,
    records: Iterable[CallRecord],
    *,
    version: str | None = None,
    order: Mapping[str, int] | None = None,
) -> Funnel:
    """The funnel of ``flow``'s calls in ``records`` (of ``version``, or all).

    ``order``: each state's distance from the start (:func:`depths`); without it, the order
    states were first entered in.
    """
    result = Funnel(flow, version)
    seen_order: dict[str, int] = dict(order or {})
    corrections: Counter[str] = Counter()
    corrected_calls: Counter[str] = Counter()
    for record in records:
        if record.flow != flow or (version is not None and record.flow_version != version):
            continue
        path = record.path
        if not path:
            continue
        result.calls += 1
        for state in path:
            seen_order.setdefault(state, len(seen_order) + 1000)  # unknown states: last
        _count_path(result, path, record.outcome, seen_order)
        _count_turns(result, record)
        times = _corrections(record)
        corrections.update(times)
        corrected_calls.update(times.keys())
    result.states = dict(
        sorted(result.states.items(), key=lambda item: (seen_order.get(item[0], 10**6), item[0]))
    )
    result.corrected = [
        Correction(slot, corrected_calls[slot], times)
        for slot, times in sorted(
            corrections.items(), key=lambda kv: (-corrected_calls[kv[0]], kv[0])
        )
    ]
    return result


def _state(result: Funnel, name: str) -> StateFunnel:
    if name not in result.states:
        result.states[name] = StateFunnel(name)
    return result.states[name]


def _count_path(result: Funnel, path: list[str], outcome: str, order: Mapping[str, int]) -> None:
    last_visit = {state: index for index, state in enumerate(path)}
    final = path[-1]
    for state, index in last_visit.items():
        counts = _state(result, state)
        counts.entered += 1
        if state == final:
            counts.ended[outcome] += 1
            continue
        after = path[index + 1]
        if order.get(after, 0) > order.get(state, 0):
            counts.forward += 1
        else:
            counts.back += 1
    for move in set(pairwise(path)):
        if move[0] != move[1]:
            result.moves[move] += 1


ANYWHERE = ("global intent", "repair")
"""How a move through "any state" is traced (a global intent, a built-in repair)."""


def _count_turns(result: Funnel, record: CallRecord) -> None:
    anywhere: set[tuple[str, str]] = set()
    for turn in record.turns:
        for move in turn.moves:
            if str(move.get("how", "")).startswith(ANYWHERE):
                anywhere.add((str(move.get("source")), str(move.get("target"))))
        if turn.kind == "greeting" or turn.outcome not in ("complete", "fallback"):
            continue
        state = turn.state_before
        if not state:
            continue
        counts = _state(result, state)
        if turn.kind == "reminder":
            counts.silences += 1
        elif not turn.moves and (turn.plan in REASKS or turn.refused):
            counts.reasks += 1
        if turn.gave_up:
            counts.give_ups += 1
    result.anywhere.update(anywhere)


def _corrections(record: CallRecord) -> Counter[str]:
    """Slots a call understood again with another value than before, and how often."""
    last: dict[str, Any] = {}
    found: Counter[str] = Counter()
    for turn in record.turns:
        for item in turn.understood:
            if item.get("kind") != "slot" or item.get("value") == MASK:
                continue
            name, value = str(item.get("name")), item.get("value")
            if name in last and last[name] != value:
                found[name] += 1
            last[name] = value
    return found


def traffic_of(found: Funnel) -> Traffic:
    """The funnel in the diagram's terms, to draw it on the flow (:mod:`engine.diagram`)."""
    return Traffic(
        calls=found.calls,
        entered={name: state.entered for name, state in found.states.items()},
        dropped={name: state.dropped for name, state in found.states.items()},
        ended={name: state.ended_total for name, state in found.states.items()},
        moves=dict(found.moves),
        anywhere=dict(found.anywhere),
    )
