"""A call's memory of its flow: where it is, what it collected, how it got there.

Everything a turn may change lives in one :class:`CallMemory`, so a turn that is superseded
is undone by putting back a copy taken before it started: no field can be forgotten, because
the copy is of the whole. The memory is plain data (JSON-friendly values only), the part of a
call that can be saved and carried to another process.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields, replace
from typing import Any


@dataclass
class CallMemory:
    """What one call remembers of its flow between turns. Runtime state: mutable, per call."""

    state: str
    """The state the call is in."""
    slots: dict[str, Any] = field(default_factory=dict)
    """Values collected so far (or set by actions), by slot name."""
    retries: int = 0
    """Failed answers in the current state (compared with its ``retries``)."""
    silences: int = 0
    """Reminders in a row in the current state (compared with its ``reminders``)."""
    visits: dict[str, int] = field(default_factory=dict)
    """How often the call entered each state (compared with its ``visits``)."""
    returns: list[str] = field(default_factory=list)
    """States to come back to after a returning global intent, innermost last."""
    path: list[str] = field(default_factory=list)
    """Every state entered, in order (starting with the start state)."""
    entered_at: int = 0
    """Transcript length when the current state was entered (``context: state``)."""
    started: bool = False
    """Whether the start state's settings and actions have run (the greeting cannot)."""
    pending: dict[str, Any] = field(default_factory=dict)
    """A value heard but not for sure, read back and waiting for the caller's yes."""
    fixing: bool = False
    """A read-back was said to be wrong: the caller was asked which item to fix."""
    held: bool = False
    """The caller asked to hold on: the next silence is not held against them."""
    cancelled: bool = False
    """The caller gave up on the call ("never mind, bye")."""
    stopping: bool = False
    """The caller gave the thing up and was asked "Do you want me to stop here?"."""
    heard: int | None = 0
    """The transcript's length at the request the call's last finished turn answered: the
    caller's lines up to there are taken. ``None``: not known (a snapshot from before it was
    kept), and then nothing is taken again."""

    def copy(self) -> CallMemory:
        """A deep copy: restoring it undoes everything done since it was taken.

        Taken before every turn; the fields are copied by hand (``copy.deepcopy`` walks the
        dataclass generically and cost a flow turn about 3 % of its CPU).
        """
        return replace(
            self,
            slots=_copied(self.slots),
            visits=dict(self.visits),
            returns=list(self.returns),
            path=list(self.path),
            pending=_copied(self.pending),
        )

    def as_dict(self) -> dict[str, Any]:
        """The memory as plain data, every field deep-copied (what a snapshot holds).

        ``dataclasses.asdict`` gives the same, walking every value generically: twice the
        cost of a flow call's whole snapshot.
        """
        return {name: _copied(getattr(self, name)) for name in _FIELDS}

    def filled(self, name: str) -> bool:
        """Whether slot ``name`` holds a value."""
        return self.slots.get(name) is not None


_FIELDS = tuple(f.name for f in fields(CallMemory))
_PLAIN = (str, int, float, bool, type(None))


def _copied(value: Any) -> Any:
    """A deep copy of plain data (what slots hold); anything else through ``copy.deepcopy``."""
    if isinstance(value, _PLAIN):
        return value
    if type(value) is dict:
        return {key: _copied(item) for key, item in value.items()}
    if type(value) is list:
        return [_copied(item) for item in value]
    return copy.deepcopy(value)
