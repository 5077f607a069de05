"""Which states and transitions of a flow some conversation went through.

Conversation tests record what each test call visited; ``dialplan test --coverage`` reports
what nothing visited, as a table and on the flow's diagram.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

COVERAGE_FILE = Path(".dialplan-coverage.json")


@dataclass
class Coverage:
    """Visited states and moves (``(from, to)``) of one flow."""

    states: set[str] = field(default_factory=set)
    edges: set[tuple[str, str]] = field(default_factory=set)

    def add(self, states: list[str], edges: list[tuple[str, str]]) -> None:
        """Record one call's path."""
        self.states.update(states)
        self.edges.update(edges)


def save(coverage: dict[str, Coverage], path: Path = COVERAGE_FILE) -> None:
    """Write coverage by flow name as JSON (merged with what the file already holds)."""
    merged = load(path)
    for name, visited in coverage.items():
        merged.setdefault(name, Coverage()).add(sorted(visited.states), sorted(visited.edges))
    data = {
        name: {"states": sorted(c.states), "edges": sorted([a, b] for a, b in c.edges)}
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
        name: Coverage(set(entry["states"]), {(a, b) for a, b in entry["edges"]})
        for name, entry in data.items()
    }
