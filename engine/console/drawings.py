"""Flow diagrams for the console: flows as ``dialplan graph`` draws them, and paths on them.

A flow's diagram can show its test coverage, one call's path, or its calls' traffic. The
drawing is Graphviz's SVG from :func:`engine.diagram.render`. ``dot`` runs in a thread, never
on the event loop that serves calls, and each drawing is kept (by flow version and what it
highlights) so a page shown twice draws once. Where ``dot`` is missing the pages say so and
show the same facts as text.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass, field

from engine.diagram import Coverage, GraphError, GraphvizMissing, Traffic, render
from engine.diagram.coverage import ANY_STATE, FlowTransition, exercised, transitions
from engine.flow import CompiledFlow
from engine.records import CallRecord


@dataclass(frozen=True)
class Drawing:
    """An SVG drawing (``svg``), or why there is none (``problem``)."""

    svg: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class CoverageReport:
    """What the conversation tests exercised of one flow."""

    states: int
    states_visited: int
    ways: int
    ways_taken: int
    missing_states: list[str] = field(default_factory=list)
    missing_ways: list[FlowTransition] = field(default_factory=list)

    @property
    def percent(self) -> int:
        """States and transitions exercised, in percent of all of them."""
        count = self.states + self.ways
        done = self.states_visited + self.ways_taken
        return round(100 * done / count) if count else 100


def coverage_report(flow: CompiledFlow, covered: Coverage) -> CoverageReport:
    """The flow's states and transitions against what the tests visited."""
    states = list(flow.spec.states)
    ways = transitions(flow.spec)
    missing_states = [s for s in states if s not in covered.states]
    missing_ways = [w for w in ways if not exercised(w, covered)]
    return CoverageReport(
        states=len(states),
        states_visited=len(states) - len(missing_states),
        ways=len(ways),
        ways_taken=len(ways) - len(missing_ways),
        missing_states=missing_states,
        missing_ways=missing_ways,
    )


def way_source(way: FlowTransition) -> str:
    """Where a transition starts, for people."""
    return "(any state)" if way.kind == "global" else way.source


def way_target(way: FlowTransition) -> str:
    """Where a transition leads, for people."""
    return "(stays)" if way.target == ANY_STATE else way.target


def call_path(record: CallRecord, flow: CompiledFlow) -> Coverage:
    """What one call visited, as coverage: its states, its moves, the global intents it took."""
    edges = set(zip(record.path, record.path[1:], strict=False))
    for turn in record.turns:
        for move in turn.moves:
            if move.get("source") and move.get("target"):
                edges.add((str(move["source"]), str(move["target"])))
    global_intents = {intent.intent for intent in flow.spec.global_intents}
    taken = {
        str(found.get("name"))
        for turn in record.turns
        for found in turn.understood
        if found.get("kind") == "intent" and found.get("name") in global_intents
    }
    return Coverage(set(record.path), edges, taken)


class Drawings:
    """SVG drawings of flows, made off the event loop and kept (the newest ``size``)."""

    def __init__(self, size: int = 64) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[object, ...], Drawing] = OrderedDict()

    async def draw(
        self,
        flow: CompiledFlow,
        *,
        at: str | None = None,
        coverage: Coverage | None = None,
        traffic: Traffic | None = None,
    ) -> Drawing:
        """The flow's SVG, ``at`` highlighted, what ``coverage`` misses greyed out, ``traffic``."""
        shown = traffic.key() if traffic is not None else None
        key: tuple[object, ...] = (flow.name, flow.version, at, _key(coverage), shown)
        kept = self._kept.get(key)
        if kept is not None:
            self._kept.move_to_end(key)
            return kept
        try:
            data = await asyncio.to_thread(
                render, flow, "svg", at=at, coverage=coverage, traffic=traffic
            )
        except GraphvizMissing:
            return Drawing(problem="Graphviz's `dot` is not installed here, so no diagram")
        except GraphError as exc:
            return Drawing(problem=f"the diagram could not be drawn: {exc}")
        drawing = Drawing(svg=_inline(data.decode("utf-8", errors="replace")))
        self._kept[key] = drawing
        while len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return drawing


def _key(coverage: Coverage | None) -> object:
    if coverage is None:
        return None
    return (
        frozenset(coverage.states),
        frozenset(coverage.edges),
        frozenset(coverage.intents),
    )


def _inline(svg: str) -> str:
    """Graphviz's SVG document as an element for the page (no XML prolog, no doctype).

    Its size stays as drawn, so text keeps the size of the page's; the stylesheet only shrinks
    a drawing wider than the page.
    """
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg
