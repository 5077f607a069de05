"""Live traffic on a flow's diagram: how many calls went each way, and where they ended badly.

A :class:`Traffic` is what the funnel of a flow version counts
(:mod:`engine.insights.funnel`), in the diagram's terms: the calls that entered each state,
those that ended badly there, and the calls that moved between two states. Drawn, an arrow is
thicker where more calls passed (and says how many), and a state is redder the larger the
share of its calls that ended badly there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Traffic:
    """Calls through a flow's states and moves."""

    calls: int
    entered: Mapping[str, int] = field(default_factory=dict)
    dropped: Mapping[str, int] = field(default_factory=dict)
    """Calls that ended badly in each state (abandoned, gave up, failed, cancelled)."""
    ended: Mapping[str, int] = field(default_factory=dict)
    """Calls that ended in each state, however they ended."""
    moves: Mapping[tuple[str, str], int] = field(default_factory=dict)
    anywhere: Mapping[tuple[str, str], int] = field(default_factory=dict)
    """Of ``moves``, those made through a global intent or a repair (the "any state" arrows)."""

    def key(self) -> tuple[object, ...]:
        """A hashable summary (drawings are kept by what they show)."""
        return (
            self.calls,
            tuple(sorted(self.entered.items())),
            tuple(sorted(self.dropped.items())),
            tuple(sorted(self.ended.items())),
            tuple(sorted(self.moves.items())),
            tuple(sorted(self.anywhere.items())),
        )

    @property
    def busiest(self) -> int:
        """The most calls through one move (what the thickest arrow stands for)."""
        return max([*self.moves.values(), *self.ended.values(), 1])
