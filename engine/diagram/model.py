"""What a flow's diagram shows, independent of the output format (Mermaid or Graphviz).

Every state is drawn (the start marked; hang-ups, transfers and final keypad presses marked as
the end of the flow; states where the model speaks and states that run actions marked apart),
every ``next`` way out labelled with its guard or intent (a read-back's on "yes", and its
"fix" edges back to where each item is asked), every ``on_give_up`` of a state that waits for
an answer as a dashed "gives up" edge, and the global intents and the built-in repairs (a
person, a cancel, repeat and hold) as edges from one "any state" node. A state can be
highlighted (``at``), and a :class:`~engine.diagram.coverage.Coverage` greys out what no
conversation visited. The output is a pure function of the flow (stable
order, no timestamps, no absolute paths), so diagrams committed next to the flows can be
checked for being current.

Why not ``transitions``' own diagram support (``GraphMachine`` with ``graph_engine="mermaid"``
or its Graphviz engines)? It draws a machine, and the runtime machine is the wrong picture for
someone reading a flow: :class:`~engine.flow.machine.FlowMachine` holds a global intent as an edge
from every state (with ``return: true``, every state to every state) under trigger names like
``ask__to__confirm``, with no guard, intent, yes/no word or give-up behind them. Drawing a
second machine built for the picture would still mean encoding our labels as trigger and
condition names (it labels an edge from those, and joins parallel edges into one ``a | b``
label), styling only through per-model graphs made to show the current and previous
state, and, for SVG and PNG, adding the ``graphviz`` or ``pygraphviz`` Python package where the
``dot`` program is enough. Its Mermaid engine also writes the title as a bare front-matter line
instead of ``title: ...``. So the Mermaid and DOT texts are generated from the flow spec here;
a test checks that every drawn edge is a move the runtime machine allows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

from engine.errors import DialplanError
from engine.flow import CompiledFlow
from engine.flow.repair import human_target
from engine.flow.spec import Flow

from .coverage import Coverage
from .traffic import Traffic

EdgeKind = Literal["start", "next", "give_up", "end", "global", "stay", "return", "fix"]

ANYWHERE = "any state"
"""Label of the node that global intents leave from."""

INSTALL_HINT = (
    "Graphviz's `dot` is needed for svg and png: install Graphviz "
    "(Debian/Ubuntu: `apt-get install graphviz`, macOS: `brew install graphviz`), "
    "or use --format mermaid or dot"
)

# Colours shared by both outputs, so a Mermaid and an SVG diagram of one flow look alike.
INK = "#455a64"
TEXT = "#263238"
AT_FILL = "#ffe082"
AT_STROKE = "#ff8f00"
GREY_FILL = "#f5f5f5"
GREY = "#b0bec5"
GREY_TEXT = "#90a4ae"
MODEL_FILL = "#e3f2fd"  # the model speaks (`prompt:`)
ACTION_STROKE = "#2e7d32"  # runs actions on entering
ENDING_FILL = "#eceff1"  # hangs up, transfers, hands over to a phone menu


class GraphError(DialplanError):
    """A diagram that cannot be drawn (unknown state to highlight, ``dot`` failing)."""


class GraphvizMissing(GraphError):
    """The ``dot`` program is not installed."""


@dataclass(frozen=True)
class Node:
    """One box of the diagram: a state, or the "any state" source of global intents."""

    name: str  # the state's name; ANYWHERE for the global-intents node
    ending: str | None = None  # "hangs up", "transfers", "presses 1": the flow ends here
    start: bool = False
    at: bool = False
    visited: bool = True
    model: bool = False  # the model speaks here (a `prompt` state)
    actions: bool = False  # actions run on entering it
    calls: int | None = None  # with traffic: calls that entered it
    dropped: int = 0  # with traffic: calls that ended badly in it


@dataclass(frozen=True)
class Edge:
    """One arrow: a way out of a state, a give-up, a global intent, or a return."""

    source: str  # state name, ANYWHERE, or "" for the start marker
    target: str  # state name, ANYWHERE, or "" for the end marker
    kind: EdgeKind
    label: str = ""
    visited: bool = True
    calls: int | None = None  # with traffic: calls that went this way


@dataclass(frozen=True)
class Diagram:
    """What is drawn, independent of the output format."""

    name: str
    file: str  # the flow file's name (no directory: committed diagrams must not depend on it)
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]


def diagram(
    flow: CompiledFlow | Flow,
    *,
    at: str | None = None,
    coverage: Coverage | None = None,
    file: str | None = None,
    traffic: Traffic | None = None,
) -> Diagram:
    """The nodes and edges of a flow's diagram.

    With ``coverage``, a state is visited when a conversation entered it, an edge between two
    states when a conversation moved between them (moves are recorded without their reason,
    so one move marks every edge joining those two states), and a global intent's edges when
    a conversation took that intent.
    """
    spec = flow.spec if isinstance(flow, CompiledFlow) else flow
    if file is None:
        file = flow.loaded.path.name if isinstance(flow, CompiledFlow) else f"{spec.flow}.yaml"
    if at is not None and at not in spec.states:
        raise GraphError(_unknown_state(at, spec))
    moved = coverage.edges if coverage is not None else None
    entered = coverage.states if coverage is not None else None

    def seen(source: str, target: str) -> bool:
        return moved is None or (source, target) in moved

    def seen_into(target: str) -> bool:
        return moved is None or any(b == target and a != target for a, b in moved)

    # Coverage that records the global intents taken answers for their edges exactly; without
    # that record, a move into the intent's target is the best evidence there is.
    taken = coverage.intents if coverage is not None else None

    def seen_intent(intent: str) -> bool:
        return taken is None or intent in taken

    start = spec.start_state
    nodes = [
        Node(
            name,
            ending=_ending(spec, name),
            start=name == start,
            at=name == at,
            visited=entered is None or name in entered,
            model=state.prompt is not None,
            actions=bool(state.actions),
        )
        for name, state in spec.states.items()
    ]
    edges = [Edge("", start, "start", visited=entered is None or start in entered)]
    for name, state in spec.states.items():
        for transition in state.next:
            parts = []
            if transition.intent:
                means = f" (or {transition.means})" if transition.means else ""
                parts.append(f"intent {transition.intent}{means}")
            if transition.when:
                parts.append(f"when {transition.when}")
            if state.read_back and not parts:
                parts.append("yes")  # a read-back's plain way opens on the caller's yes
            label = " ".join(" ".join(parts).split())  # a folded YAML guard spans lines
            edges.append(Edge(name, transition.to, "next", label, seen(name, transition.to)))
        for slot in state.read_back:
            asking = next((n for n, s in spec.states.items() if slot in s.collect), None)
            if asking is not None:
                edges.append(Edge(name, asking, "fix", f"fix {slot}", seen(name, asking)))
        give_up = spec.give_up_target(name)
        if give_up and _asks(spec, name):
            edges.append(Edge(name, give_up, "give_up", "gives up", seen(name, give_up)))
        ending = _ending(spec, name)
        if ending:
            visited = entered is None or name in entered
            edges.append(Edge(name, "", "end", ending, visited))
    repairs = _repair_edges(spec, seen_intent)
    if spec.global_intents or repairs:
        nodes.append(Node(ANYWHERE))
    for intent in spec.global_intents:
        visited = seen_intent(intent.intent)
        if intent.to is None:
            label = f"intent {intent.intent} (stays)"
            edges.append(Edge(ANYWHERE, ANYWHERE, "stay", label, visited))
        elif intent.returns:
            label = f"intent {intent.intent} (returns)"
            edges.append(Edge(ANYWHERE, intent.to, "global", label, visited))
            edges.append(Edge(intent.to, ANYWHERE, "return", "returns", visited))
        else:
            label = f"intent {intent.intent}"
            edges.append(Edge(ANYWHERE, intent.to, "global", label, visited))
    edges += repairs
    if traffic is not None:
        nodes, edges = _with_traffic(nodes, edges, traffic)
    return Diagram(spec.flow, file, tuple(nodes), tuple(edges))


def _with_traffic(
    nodes: list[Node], edges: list[Edge], traffic: Traffic
) -> tuple[list[Node], list[Edge]]:
    """Each state with its calls and drops, each arrow with the calls that went that way.

    A move between two states the flow joins by no arrow of their own, or one traced as a
    global intent or a repair, came through "any state": it counts on that arrow into its
    target.
    """
    joined = {(e.source, e.target) for e in edges if e.source != ANYWHERE}
    through_any: dict[str, int] = {}
    direct: dict[tuple[str, str], int] = {}
    for move, count in traffic.moves.items():
        via_any = traffic.anywhere.get(move, 0) if move in joined else count
        direct[move] = count - via_any
        through_any[move[1]] = through_any.get(move[1], 0) + via_any
    drawn_nodes = [
        replace(
            node,
            calls=traffic.entered.get(node.name, 0) if node.name != ANYWHERE else None,
            dropped=traffic.dropped.get(node.name, 0),
        )
        for node in nodes
    ]
    drawn_edges = []
    for edge in edges:
        if edge.kind == "start":
            calls = traffic.calls
        elif edge.kind == "end":
            calls = traffic.ended.get(edge.source, 0) if edge.source != ANYWHERE else 0
        elif edge.source == ANYWHERE and edge.target != ANYWHERE:
            calls = through_any.get(edge.target, 0)
        elif edge.source == ANYWHERE or edge.target == ANYWHERE:
            calls = 0  # stays and returns: no move between states to count
        else:
            calls = direct.get((edge.source, edge.target), 0)
        drawn_edges.append(replace(edge, calls=calls))
    return drawn_nodes, drawn_edges


def _asks(flow: Flow, name: str) -> bool:
    """Whether state ``name`` waits for an answer it may not get (and so can give up)."""
    state = flow.states[name]
    waits = state.collect or state.read_back or state.prompt or any(t.intent for t in state.next)
    limited = state.visits is not None
    return bool(waits or limited)


def _repair_edges(flow: Flow, seen: Callable[[str], bool]) -> list[Edge]:
    """The built-in repairs, from "any state": a person, a cancel, and the ones that stay."""
    edges: list[Edge] = []
    staying = [name for name in ("repeat", "hold") if flow.repair.option(name) is not None]
    own = {intent.intent for intent in flow.global_intents}
    staying = [name for name in staying if name not in own]
    if staying:
        label = f"{', '.join(staying)} (built in, stays)"
        edges.append(Edge(ANYWHERE, ANYWHERE, "stay", label, any(seen(n) for n in staying)))
    person = human_target(flow)
    if person is not None and "human" not in own:
        edges.append(Edge(ANYWHERE, person, "global", "a person (built in)", seen("human")))
    cancel = flow.repair.option("cancel")
    if cancel is not None:
        label = "cancel (built in)"
        target = cancel.to or ""
        edges.append(Edge(ANYWHERE, target, "global" if target else "end", label, seen("cancel")))
    return edges


def _ending(flow: Flow, name: str) -> str | None:
    """How the call leaves the agent in state ``name``, if the flow ends there."""
    state = flow.states[name]
    if state.end_call:
        return "hangs up"
    if state.transfer is not None:
        return "transfers"
    if state.press_digit is not None and not (state.next or flow.give_up_target(name)):
        return f"presses {state.press_digit}"  # keys for a phone menu: the menu takes over
    return None


def _unknown_state(name: str, spec: Flow) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(spec.states), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"flow {spec.flow!r} has no state {name!r} ({hint}states: {', '.join(spec.states)})"
