"""Diagrams of a flow: Mermaid ``stateDiagram-v2`` text, Graphviz DOT, and SVG/PNG via ``dot``.

Every state is drawn (the start marked; hang-ups, transfers and final keypad presses marked as
the end of the flow), every ``next`` way out labelled with its guard or intent, every
``on_give_up`` as a dashed "gives up" edge, and the global intents as edges from one "any
state" node. A state can be highlighted (``at``), and a :class:`~engine.coverage.Coverage`
greys out what no conversation visited. The output is a pure function of the flow (stable
order, no timestamps, no absolute paths), so diagrams committed next to the flows can be
checked for being current.

Why not ``transitions``' own diagram support (``GraphMachine`` with ``graph_engine="mermaid"``
or its Graphviz engines)? It draws a machine, and the runtime machine is the wrong picture for
someone reading a flow: :class:`~engine.machine.FlowMachine` holds a global intent as an edge
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

import hashlib
import importlib
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import click

from .coverage import COVERAGE_FILE, Coverage
from .errors import AuthoringError, AuthoringErrors, DialplanError
from .flows import CompiledFlow, FlowRegistry, compile_flow
from .spec import Flow, State

Format = Literal["svg", "png", "dot"]
EdgeKind = Literal["start", "next", "give_up", "end", "global", "stay", "return"]

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


@dataclass(frozen=True)
class Edge:
    """One arrow: a way out of a state, a give-up, a global intent, or a return."""

    source: str  # state name, ANYWHERE, or "" for the start marker
    target: str  # state name, ANYWHERE, or "" for the end marker
    kind: EdgeKind
    label: str = ""
    visited: bool = True


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
    taken: set[str] | None = getattr(coverage, "intents", None)

    def seen_intent(intent: str, target: str | None) -> bool:
        if moved is None:
            return True
        if taken is not None:
            return intent in taken
        return target is None or seen_into(target)

    start = spec.start_state
    nodes = [
        Node(
            name,
            ending=_ending(state),
            start=name == start,
            at=name == at,
            visited=entered is None or name in entered,
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
            label = " ".join(" ".join(parts).split())  # a folded YAML guard spans lines
            edges.append(Edge(name, transition.to, "next", label, seen(name, transition.to)))
        if state.on_give_up:
            edges.append(
                Edge(name, state.on_give_up, "give_up", "gives up", seen(name, state.on_give_up))
            )
        ending = _ending(state)
        if ending:
            visited = entered is None or name in entered
            edges.append(Edge(name, "", "end", ending, visited))
    if spec.global_intents:
        nodes.append(Node(ANYWHERE))
    for intent in spec.global_intents:
        visited = seen_intent(intent.intent, intent.to)
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
    return Diagram(spec.flow, file, tuple(nodes), tuple(edges))


def _ending(state: State) -> str | None:
    """How the call leaves the agent in ``state``, if the flow ends there."""
    if state.end_call:
        return "hangs up"
    if state.transfer is not None:
        return "transfers"
    if state.press_digit is not None and not (state.next or state.on_give_up):
        return f"presses {state.press_digit}"  # keys for a phone menu: the menu takes over
    return None


def _unknown_state(name: str, spec: Flow) -> str:
    import difflib

    close = difflib.get_close_matches(name, list(spec.states), n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    return f"flow {spec.flow!r} has no state {name!r} ({hint}states: {', '.join(spec.states)})"


# -- Mermaid ---------------------------------------------------------------------------------

# Words the stateDiagram lexer (case-insensitive) takes as keywords before it takes an id.
_MERMAID_KEYWORDS = frozenset(
    {"class", "classdef", "state", "note", "scale", "direction", "hide", "end", "as"}
)


def mermaid(
    flow: CompiledFlow | Flow, *, at: str | None = None, coverage: Coverage | None = None
) -> str:
    """The flow as Mermaid ``stateDiagram-v2`` text (for Markdown, GitHub, the Mermaid editor).

    Mermaid's state diagrams cannot style single edges, so an edge no conversation took is
    marked in its label ("not taken") instead of greyed out; states are styled by class.
    """
    drawing = diagram(flow, at=at, coverage=coverage)
    ids = _mermaid_ids(drawing.nodes)
    classes: dict[str, list[str]] = {}
    for node in drawing.nodes:
        style = (
            "at"
            if node.at
            else "unvisited"
            if not node.visited
            else "anywhere"
            if node.name == ANYWHERE
            else None
        )
        if style:
            classes.setdefault(style, []).append(ids[node.name])
    lines = [
        "---",
        f"title: {drawing.name}",
        "---",
        "stateDiagram-v2",
        f"  %% {drawing.file}, drawn by `dialplan graph`. Edit the flow, not this file.",
    ]
    class_styles = {
        "anywhere": f"fill:#ffffff,color:{TEXT},stroke:{INK},stroke-dasharray:4 4",
        "at": f"fill:{AT_FILL},color:{TEXT},stroke:{AT_STROKE},stroke-width:3px",
        "unvisited": f"fill:{GREY_FILL},color:{GREY_TEXT},stroke:{GREY},stroke-dasharray:4 4",
    }
    lines += [
        f"  classDef {name} {style}" for name, style in class_styles.items() if name in classes
    ]
    for node in drawing.nodes:
        if ids[node.name] != node.name:
            lines.append(f'  state "{node.name}" as {ids[node.name]}')
    for edge in drawing.edges:
        source = ids[edge.source] if edge.source else "[*]"
        target = ids[edge.target] if edge.target else "[*]"
        label = edge.label
        if not edge.visited:
            label = f"{label}, not taken" if label else "not taken"
        lines.append(f"  {source} --> {target}" + (f": {_mermaid_text(label)}" if label else ""))
    lines += [f"  class {','.join(members)} {name}" for name, members in sorted(classes.items())]
    return "\n".join(lines) + "\n"


def _mermaid_ids(nodes: Iterable[Node]) -> dict[str, str]:
    """Node ids that the Mermaid lexer reads as ids (not keywords), unique and stable."""
    ids: dict[str, str] = {}
    taken = {node.name for node in nodes}
    for node in nodes:
        name = node.name
        if name == ANYWHERE:
            candidate = "any_state"
        elif name.lower() in _MERMAID_KEYWORDS or name.lower().startswith("default"):
            candidate = f"s_{name}"
        else:
            ids[name] = name
            continue
        while candidate in taken:
            candidate += "_"
        taken.add(candidate)
        ids[name] = candidate
    return ids


def _mermaid_text(text: str) -> str:
    # A ';' ends a Mermaid statement, and Mermaid 10 (still what some renderers run) rejects a
    # second ':' in a transition label; look-alike characters keep a guard such as
    # `slots.time[:2]` readable and the diagram parseable everywhere.
    return " ".join(text.split()).replace(":", "\u2236").replace(";", "\uff1b")


# -- Graphviz --------------------------------------------------------------------------------

_FONT = "Helvetica,Arial,sans-serif"
_START = "[start]"  # DOT ids are quoted strings, so these cannot clash with state names
_END = "[end]"


def dot(
    flow: CompiledFlow | Flow, *, at: str | None = None, coverage: Coverage | None = None
) -> str:
    """The flow as Graphviz DOT source.

    The graph's ``comment`` carries a digest of the rest of the source; ``dot`` copies it into
    SVG output, which lets a test tell whether a committed SVG was drawn from the current flow
    without comparing layouts (those differ between Graphviz versions).
    """
    drawing = diagram(flow, at=at, coverage=coverage)
    body = [
        f"  graph [label={_q(drawing.name)}, labelloc=t, fontsize=16, fontname={_q(_FONT)},"
        f" fontcolor={_q(TEXT)}, nodesep=0.4, ranksep=0.45]",
        f"  node [shape=box, style={_q('rounded,filled')}, fillcolor={_q('#ffffff')},"
        f" color={_q(INK)}, fontcolor={_q(TEXT)}, fontname={_q(_FONT)}, fontsize=11]",
        f"  edge [color={_q(INK)}, fontcolor={_q(TEXT)}, fontname={_q(_FONT)}, fontsize=9,"
        " arrowsize=0.7]",
        f"  {_q(_START)} [shape=circle, style=filled, fillcolor={_q(TEXT)}, label={_q('')},"
        " width=0.18]",
    ]
    for node in drawing.nodes:
        body.append(f"  {_q(node.name)}{_attrs(_node_attrs(node))}")
    if any(edge.kind == "end" for edge in drawing.edges):
        body.append(
            f"  {_q(_END)} [shape=doublecircle, style=filled, fillcolor={_q(TEXT)},"
            f" label={_q('')}, width=0.14]"
        )
    for edge in drawing.edges:
        source = edge.source or _START
        target = edge.target or _END
        body.append(f"  {_q(source)} -> {_q(target)}{_attrs(_edge_attrs(edge))}")
    digest = hashlib.sha256("\n".join(body).encode()).hexdigest()[:16]
    comment = f"{drawing.file}, drawn by dialplan graph; source sha256:{digest}"
    return (
        "\n".join([f"digraph {_q(drawing.name)} {{", f"  comment={_q(comment)}", *body, "}"]) + "\n"
    )


def source_digest(text: str) -> str | None:
    """The source digest that :func:`dot` put into DOT or SVG text, if any."""
    match = re.search(r"source sha256:([0-9a-f]{16})", text)
    return match.group(1) if match else None


def _node_attrs(node: Node) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if node.name == ANYWHERE:
        attrs.update(style="rounded,dashed", fontcolor=INK)
    if node.ending:
        attrs.update(label=f"{node.name}\n{node.ending}", peripheries="2")
    if not node.visited:
        attrs.update(style="rounded,filled,dashed", fillcolor=GREY_FILL, color=GREY)
        attrs.update(fontcolor=GREY_TEXT)
    if node.at:
        attrs.update(style="rounded,filled,bold", fillcolor=AT_FILL, color=AT_STROKE)
        attrs.update(penwidth="2.5")
    return attrs


def _edge_attrs(edge: Edge) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if edge.label and edge.kind != "end":
        attrs["label"] = " ".join(edge.label.split())
    if edge.kind in ("give_up", "return"):
        attrs["style"] = "dashed"
    if edge.kind == "end":
        attrs.update(arrowhead="none", style="dotted")
    if not edge.visited:
        attrs.update(color=GREY, fontcolor=GREY_TEXT, style="dashed")
    return attrs


def _attrs(attrs: dict[str, str]) -> str:
    if not attrs:
        return ""
    return " [" + ", ".join(f"{key}={_q(value)}" for key, value in attrs.items()) + "]"


def _q(text: str) -> str:
    """A DOT quoted string; a newline in ``text`` becomes Graphviz's centred line break."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'


def render(
    flow: CompiledFlow | Flow,
    fmt: Format,
    *,
    at: str | None = None,
    coverage: Coverage | None = None,
) -> bytes:
    """The diagram as SVG or PNG (drawn by Graphviz's ``dot``), or as DOT source."""
    source = dot(flow, at=at, coverage=coverage)
    if fmt == "dot":
        return source.encode()
    program = shutil.which("dot")
    if program is None:
        raise GraphvizMissing(INSTALL_HINT)
    try:
        result = subprocess.run(
            [program, f"-T{fmt}"], input=source.encode(), capture_output=True, timeout=60
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GraphError(f"could not run {program}: {exc}") from exc
    if result.returncode != 0:
        raise GraphError(
            f"dot failed ({result.returncode}): {result.stderr.decode(errors='replace').strip()}"
        )
    return result.stdout


# -- loading a flow for a tool ---------------------------------------------------------------


def open_flow(
    name_or_path: str | Path,
    *,
    flows_dir: Path = Path("flows"),
    prompts_dir: Path | None = Path("prompts"),
    plugins: Iterable[str] = (),
) -> CompiledFlow:
    """Load and check a flow by name (from ``flows_dir``) or by path to its YAML file.

    ``plugins`` are imported first: they register the actions a flow calls, and a flow calling
    an unknown action does not load. Raises :class:`AuthoringErrors` for a broken flow and
    :class:`LookupError` when no flow has that name.
    """
    from .loader import load_flow
    from .prompts import make_environment
    from .voice import VOICE_FILTERS

    for module in plugins:
        importlib.import_module(module)
    env = make_environment(prompts_dir, VOICE_FILTERS)
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml"):
        try:
            return compile_flow(load_flow(path, env, prompts_dir), env)
        except AuthoringError as exc:
            raise AuthoringErrors([exc]) from None
        except OSError as exc:
            raise LookupError(f"cannot read {path}: {exc.strerror or exc}") from None
    registry = FlowRegistry(flows_dir, env, prompts_dir)
    errors = registry.load_all()
    flow = registry.get(str(name_or_path))
    if flow is not None:
        return flow
    broken = [e for e in errors if e.location and Path(e.location.file).stem == str(path)]
    if broken:
        raise AuthoringErrors(broken)
    known = ", ".join(registry.names()) or "none"
    raise LookupError(f"no flow named {str(name_or_path)!r} in {flows_dir} (flows: {known})")


def open_flow_with_settings(name_or_path: str | Path) -> CompiledFlow:
    """:func:`open_flow` with the folders and plugins of the settings (``DIALPLAN_*``)."""
    from .settings import Settings

    settings = Settings()
    return open_flow(
        name_or_path,
        flows_dir=settings.flows_dir,
        prompts_dir=settings.prompts_dir,
        plugins=settings.plugins,
    )


def load_for_cli(name_or_path: str) -> CompiledFlow:
    """:func:`open_flow_with_settings`, with every failure turned into a clear CLI error."""
    from pydantic import ValidationError

    try:
        return open_flow_with_settings(name_or_path)
    except AuthoringErrors as exc:
        raise click.ClickException(f"flow {name_or_path!r} does not load:\n{exc}") from None
    except LookupError as exc:
        raise click.ClickException(str(exc)) from None
    except ValidationError as exc:
        raise click.ClickException(f"invalid settings:\n{exc}") from None


# -- the command -----------------------------------------------------------------------------

_SUFFIXES = {
    ".mmd": "mermaid",
    ".mermaid": "mermaid",
    ".dot": "dot",
    ".gv": "dot",
    ".svg": "svg",
    ".png": "png",
}


@click.command("graph")
@click.argument("flow")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["mermaid", "svg", "png", "dot"]),
    help="Output format [default: from -o's suffix, else mermaid]. svg and png need Graphviz.",
)
@click.option("--at", "at", metavar="STATE", help="Highlight this state.")
@click.option(
    "--coverage",
    "coverage_file",
    is_flag=False,
    flag_value=str(COVERAGE_FILE),
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help=f"Grey out what no conversation test visited [FILE default: {COVERAGE_FILE}].",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to a file."
)
def graph(
    flow: str, fmt: str | None, at: str | None, coverage_file: Path | None, output: Path | None
) -> None:
    """Draw FLOW (a name in the flows folder, or a .yaml path) as a state diagram.

    Guards and intents label the ways out, dashed edges are give-ups, "any state" holds the
    global intents, and double borders mark where the call hangs up or transfers.
    """
    if fmt is None:
        fmt = _SUFFIXES.get(output.suffix.lower(), "mermaid") if output else "mermaid"
    compiled = load_for_cli(flow)
    coverage = None
    if coverage_file is not None:
        coverage = _read_coverage(coverage_file, compiled.name)
    try:
        if fmt == "mermaid":
            data = mermaid(compiled, at=at, coverage=coverage).encode()
        else:
            data = render(compiled, cast(Format, fmt), at=at, coverage=coverage)
    except GraphError as exc:
        raise click.ClickException(str(exc)) from None
    if output is not None:
        output.write_bytes(data)
    elif fmt == "png" and sys.stdout.isatty():
        raise click.ClickException("png is binary: write it to a file with -o FILE.png")
    else:
        click.echo(data, nl=False)


def _read_coverage(path: Path, flow: str) -> Coverage:
    from .coverage import load

    if not path.is_file():
        raise click.ClickException(
            f"no coverage file {path} (conversation tests write it when run with coverage)"
        )
    recorded = load(path)
    if flow not in recorded:
        click.echo(
            f"note: {path} has no coverage of flow {flow!r}; all of it is unvisited", err=True
        )
    return recorded.get(flow, Coverage())
