"""A flow's diagram as Mermaid ``stateDiagram-v2`` text (Markdown, GitHub, the Mermaid editor)."""

from __future__ import annotations

from collections.abc import Iterable

from engine.flow import CompiledFlow
from engine.flow.spec import Flow

from .coverage import Coverage
from .model import (
    ACTION_STROKE,
    ANYWHERE,
    AT_FILL,
    AT_STROKE,
    ENDING_FILL,
    GREY,
    GREY_FILL,
    GREY_TEXT,
    INK,
    MODEL_FILL,
    TEXT,
    Node,
    diagram,
)

# Words the stateDiagram lexer (case-insensitive) takes as keywords before it takes an id.
_MERMAID_KEYWORDS = frozenset(
    {"class", "classdef", "state", "note", "scale", "direction", "hide", "end", "as"}
)


def mermaid(
    flow: CompiledFlow | Flow, *, at: str | None = None, coverage: Coverage | None = None
) -> str:
    """The flow as Mermaid ``stateDiagram-v2`` text (for Markdown, GitHub, the Mermaid editor).

    Mermaid's state diagrams cannot style single edges, so an edge no conversation took is
    marked in its label ("not taken") instead of greyed out; states are styled by class: where
    the model speaks (``model``), where actions run (``action``, both: ``model_action``), where
    the call ends (``ending``), the highlighted state and what no test visited.
    """
    drawing = diagram(flow, at=at, coverage=coverage)
    ids = _mermaid_ids(drawing.nodes)
    classes: dict[str, list[str]] = {}
    for node in drawing.nodes:
        style = _style(node)
        if style:
            classes.setdefault(style, []).append(ids[node.name])
    lines = [
        "---",
        f"title: {drawing.name}",
        "---",
        "stateDiagram-v2",
        f"  %% {drawing.file}, drawn by `dialplan graph`. Edit the flow, not this file.",
    ]
    if any(name in classes for name in ("model", "action", "model_action", "ending")):
        lines.append(
            "  %% model: the model speaks; action: runs actions on entering; "
            "ending: hangs up or transfers"
        )
    action = f"stroke:{ACTION_STROKE},stroke-width:3px"
    class_styles = {
        "model": f"fill:{MODEL_FILL},color:{TEXT},stroke:{INK}",
        "action": f"fill:#ffffff,color:{TEXT},{action}",
        "model_action": f"fill:{MODEL_FILL},color:{TEXT},{action}",
        "ending": f"fill:{ENDING_FILL},color:{TEXT},stroke:{INK},stroke-width:2px",
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


def _style(node: Node) -> str | None:
    """The one class of a node (Mermaid gives a state one): the most telling first."""
    if node.at:
        return "at"
    if not node.visited:
        return "unvisited"
    if node.name == ANYWHERE:
        return "anywhere"
    if node.ending:
        return "ending"
    if node.model:
        return "model_action" if node.actions else "model"
    return "action" if node.actions else None


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
