"""The one class that touches ``transitions``: a flow's state graph as a state machine.

One :class:`FlowMachine` is built per loaded flow version and shared by every call on that
version; each call has its own :class:`Position`, the model the machine moves. Only the edges
the flow declares exist (``auto_transitions=False``), so a move the flow does not allow raises
instead of silently happening. A move fires the edge's event on the call's position; the
machine does not bind its triggers to each position (``add_model``), which cost a call of a
dozen states some 0.3 ms to start and to end.
"""

from __future__ import annotations

from typing import Any

from transitions import Machine, MachineError

from engine.errors import RuntimeFault

from .repair import human_target
from .spec import Flow


class TransitionError(RuntimeFault):
    """A move the flow does not declare."""


class Position:
    """Where one call is in its flow (the ``transitions`` model of that call)."""

    state: str  # maintained by transitions

    def __init__(self, call_id: str) -> None:
        self.call_id = call_id


def _edge(source: str, target: str) -> str:
    return f"{source}__to__{target}"


class FlowMachine:
    """The state machine of one flow version."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self._machine = Machine(
            model=None,
            states=list(flow.states),
            initial=flow.start_state,
            auto_transitions=False,
            send_event=False,
            ignore_invalid_triggers=False,
        )
        edges: set[tuple[str, str]] = set()
        for name, state in flow.states.items():
            edges.update((name, t.to) for t in state.next)
            give_up = flow.give_up_target(name)
            if give_up:
                edges.add((name, give_up))
                # Too many visits of a state lead where it gives up, from wherever it is entered.
                edges.update((source, give_up) for source in flow.states)
        # Global intents (and returning from them) may move a call from anywhere.
        anywhere = {g.to for g in flow.global_intents if g.to}
        if any(g.returns for g in flow.global_intents):
            anywhere |= set(flow.states)
        # A caller may correct a value anywhere; the call goes back to where it is asked.
        anywhere |= {name for name, state in flow.states.items() if state.collect}
        # The built-in repairs: a person, and a cancel that ends in a state of the flow's.
        cancel = flow.repair.option("cancel")
        anywhere |= {t for t in (human_target(flow), cancel.to if cancel else None) if t}
        for source in flow.states:
            edges.update((source, target) for target in anywhere)
        for source, target in sorted(edges):
            self._machine.add_transition(_edge(source, target), source, target)

    def add(self, call_id: str) -> Position:
        """A new call's position, at the flow's start state."""
        position = Position(call_id)
        self._machine.set_state(self.flow.start_state, model=position)
        return position

    def remove(self, position: Position) -> None:
        """Forget a call's position (the call is over): the machine holds nothing of it."""

    def move(self, position: Position, target: str) -> None:
        """Move along a declared edge (raises :class:`TransitionError` for any other move)."""
        source = position.state
        event: Any = self._machine.events.get(_edge(source, target))
        try:
            if event is None:
                raise MachineError(f"no event {_edge(source, target)}")
            event.trigger(position)
        except MachineError as exc:
            raise TransitionError(f"no way from {source!r} to {target!r}") from exc

    def restore(self, position: Position, state: str) -> None:
        """Put a call back where it was (a superseded turn is undone, not half-applied)."""
        self._machine.set_state(state, model=position)
