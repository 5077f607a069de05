"""A flow's diagram as Graphviz DOT, and as SVG or PNG drawn by Graphviz's ``dot`` program."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from typing import Literal

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
    INSTALL_HINT,
    MODEL_FILL,
    TEXT,
    Edge,
    GraphError,
    GraphvizMissing,
    Node,
    diagram,
)
from .traffic import Traffic

Format = Literal["svg", "png", "dot"]


_FONT = "Helvetica,Arial,sans-serif"
_START = "[start]"  # DOT ids are quoted strings, so these cannot clash with state names
_END = "[end]"


def dot(
    flow: CompiledFlow | Flow,
    *,
    at: str | None = None,
    coverage: Coverage | None = None,
    traffic: Traffic | None = None,
) -> str:
    """The flow as Graphviz DOT source.

    The graph's ``comment`` carries a digest of the rest of the source; ``dot`` copies it into
    SVG output, which lets a test tell whether a committed SVG was drawn from the current flow
    without comparing layouts (those differ between Graphviz versions).
    """
    drawing = diagram(flow, at=at, coverage=coverage, traffic=traffic)
    busiest = traffic.busiest if traffic is not None else 1
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
        body.append(f"  {_q(node.name)}{_attrs(_node_attrs(node) | _node_traffic(node))}")
    if any(edge.kind == "end" for edge in drawing.edges):
        body.append(
            f"  {_q(_END)} [shape=doublecircle, style=filled, fillcolor={_q(TEXT)},"
            f" label={_q('')}, width=0.14]"
        )
    for edge in drawing.edges:
        source = edge.source or _START
        target = edge.target or _END
        attrs = _edge_attrs(edge) | _edge_traffic(edge, busiest, drawing.nodes)
        body.append(f"  {_q(source)} -> {_q(target)}{_attrs(attrs)}")
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
    if node.model:
        attrs.update(fillcolor=MODEL_FILL, label=f"{node.name}\nthe model speaks")
    if node.actions:
        attrs.update(color=ACTION_STROKE, penwidth="2")
        attrs["label"] = attrs.get("label", node.name) + "\nruns actions"
    if node.ending:
        label = attrs.get("label", node.name)
        attrs.update(label=f"{label}\n{node.ending}", peripheries="2", fillcolor=ENDING_FILL)
    if not node.visited:
        attrs.update(style="rounded,filled,dashed", fillcolor=GREY_FILL, color=GREY)
        attrs.update(fontcolor=GREY_TEXT)
    if node.at:
        attrs.update(style="rounded,filled,bold", fillcolor=AT_FILL, color=AT_STROKE)
        attrs.update(penwidth="2.5")
    return attrs


def _edge_attrs(edge: Edge) -> dict[str, str]:
    attrs: dict[str, str] = {}
    if edge.label and (edge.kind != "end" or edge.source == ANYWHERE):
        attrs["label"] = " ".join(edge.label.split())  # a state's ending is in its box
    if edge.kind == "give_up":
        attrs["style"] = "dashed"
    if edge.kind == "return":
        attrs.update(style="dotted", arrowhead="onormal")  # back where the call was
    if edge.kind == "end":
        attrs.update(arrowhead="none", style="dotted")
    if not edge.visited:
        attrs.update(color=GREY, fontcolor=GREY_TEXT, style="dashed")
    return attrs


DROP = (0xE5, 0x39, 0x35)  # the red of a state where calls end badly
CLEAR = (0xFF, 0xFF, 0xFF)


def _node_traffic(node: Node) -> dict[str, str]:
    """A state with its calls: how many entered, how many ended badly (redder the more)."""
    if node.calls is None:
        return {}
    label = f"{node.name}\n{node.calls} call{'s' if node.calls != 1 else ''}"
    attrs = {"label": label + (f", {node.dropped} dropped" if node.dropped else "")}
    if node.dropped and node.calls:
        share = min(node.dropped / node.calls, 1.0)
        mixed = (
            round(c + (d - c) * (0.25 + 0.75 * share)) for c, d in zip(CLEAR, DROP, strict=True)
        )
        attrs.update(fillcolor="#{:02x}{:02x}{:02x}".format(*mixed), color=_hex(DROP))
        attrs.update(style="rounded,filled", penwidth="2")
    elif node.calls == 0:
        attrs.update(style="rounded,filled,dashed", fillcolor=GREY_FILL, color=GREY)
        attrs.update(fontcolor=GREY_TEXT)
    return attrs


def _edge_traffic(edge: Edge, busiest: int, nodes: tuple[Node, ...]) -> dict[str, str]:
    """An arrow as thick as the calls that went its way, red where they ended badly."""
    if edge.calls is None:
        return {}
    if edge.calls == 0:
        return {"color": GREY, "fontcolor": GREY_TEXT, "style": "dashed", "penwidth": "1"}
    attrs = {"penwidth": f"{1 + 7 * edge.calls / busiest:.2f}"}
    label = " ".join(edge.label.split()) if edge.kind != "end" else ""
    attrs["label"] = f"{label} ({edge.calls})".strip() if label else str(edge.calls)
    if edge.kind == "end":
        node = next((n for n in nodes if n.name == edge.source), None)
        if node is not None and node.dropped:
            attrs.update(color=_hex(DROP), fontcolor=_hex(DROP), style="solid")
            attrs["label"] = f"{edge.calls} ended, {node.dropped} badly"
    return attrs


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


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
    traffic: Traffic | None = None,
) -> bytes:
    """The diagram as SVG or PNG (drawn by Graphviz's ``dot``), or as DOT source.

    With ``traffic``, arrows are as thick as the calls that went their way and states as red
    as the share of their calls that ended badly there.
    """
    source = dot(flow, at=at, coverage=coverage, traffic=traffic)
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
