"""Which states and transitions of a flow some conversation went through.

Conversation tests record what each test call visited; ``dialplan test --coverage`` reports
what nothing visited, as a table and on the flow's diagram.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from engine.flow.spec import Flow

COVERAGE_FILE = Path(".dialplan-coverage.json")

ANY_STATE = "*"
"""The source of a global intent's transition: the caller may voice it in any state."""


@dataclass
class Coverage:
    """Visited states, moves (``(from, to)``) and global intents of one flow."""

    states: set[str] = field(default_factory=set)
    edges: set[tuple[str, str]] = field(default_factory=set)
    intents: set[str] = field(default_factory=set)  # global intents that were taken

    def add(
        self, states: list[str], edges: list[tuple[str, str]], intents: list[str] | None = None
    ) -> None:
        """Record one call's path."""
        self.states.update(states)
        self.edges.update(edges)
        self.intents.update(intents or ())


@dataclass(frozen=True)
class FlowTransition:
    """A way between states the flow declares; ``source`` is :data:`ANY_STATE` for globals."""

    source: str
    target: str
    kind: str  # "next", "on_give_up" or "global" (target ANY_STATE: it stays where it is)
    intent: str | None = None  # the intent that takes it, if any
    when: str | None = None  # its guard, if any

    @property
    def how(self) -> str:
        """What takes this way, for reports: ``intent confirm``, ``when: slots.x``, ..."""
        if self.kind == "global":
            stays = " (stays)" if self.target == ANY_STATE else ""
            return f"global intent {self.intent}{stays}"
        if self.kind == "on_give_up":
            return "on_give_up"
        if self.intent:
            return f"intent {self.intent}"
        return f"when: {self.when}" if self.when else "next"


def transitions(flow: Flow) -> list[FlowTransition]:
    """Every transition the flow declares: ``next``, ``on_give_up`` and every global intent.

    A global intent that stays in place (``repeat``) is a transition too: a test can take it.

    Two ways between the same two states (two intents) are two transitions, and one recorded
    move covers both: a path records states, not the reason for each move.
    """
    found: list[FlowTransition] = []
    for name, state in flow.states.items():
        for way in state.next:
            found.append(FlowTransition(name, way.to, "next", way.intent, way.when))
        if give_up := flow.give_up_target(name):
            found.append(FlowTransition(name, give_up, "on_give_up"))
    for intent in flow.global_intents:
        # An intent that stays (``repeat``) moves nowhere, but it is a way a test can take.
        target = intent.to or ANY_STATE
        found.append(FlowTransition(ANY_STATE, target, "global", intent.intent))
    return found


def exercised(transition: FlowTransition, coverage: Coverage) -> bool:
    """Whether some recorded call took ``transition``."""
    if transition.kind == "global":
        return transition.intent in coverage.intents
    return (transition.source, transition.target) in coverage.edges


def save(coverage: dict[str, Coverage], path: Path = COVERAGE_FILE) -> None:
    """Write coverage by flow name as JSON (merged with what the file already holds)."""
    merged = load(path)
    for name, visited in coverage.items():
        merged.setdefault(name, Coverage()).add(
            sorted(visited.states), sorted(visited.edges), sorted(visited.intents)
        )
    data = {
        name: {
            "states": sorted(c.states),
            "edges": sorted([a, b] for a, b in c.edges),
            "intents": sorted(c.intents),
        }
        for name, c in merged.items()
    }
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def load(path: Path = COVERAGE_FILE) -> dict[str, Coverage]:
    """Coverage by flow name from ``path`` (empty when the file does not exist)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {
        name: Coverage(
            set(entry["states"]),
            {(a, b) for a, b in entry["edges"]},
            set(entry.get("intents", ())),  # files written before intents were recorded
        )
        for name, entry in data.items()
    }
