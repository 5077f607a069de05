"""Flows: each flow's state (as ``/readyz`` reports it), its diagram and its test coverage.

The diagram is the one ``dialplan graph`` draws. Coverage comes from the file the conversation
tests write (``dialplan test --coverage``) in the server's working folder, when there is one.
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, Response, request

from engine.diagram import Coverage
from engine.diagram.coverage import load as load_coverage

from .context import ConsoleContext
from .drawings import CoverageReport, coverage_report, way_source, way_target
from .render import page


def register(bp: Blueprint, context: ConsoleContext) -> None:
    """Add the list of flows and the page of one flow."""

    async def coverage() -> dict[str, Coverage]:
        return await asyncio.to_thread(load_coverage, context.coverage_file)

    def reports(recorded: dict[str, Coverage]) -> dict[str, CoverageReport]:
        found = {}
        for name, covered in recorded.items():
            flow = context.flow(name)
            if flow is not None:
                found[name] = coverage_report(flow, covered)
        return found

    @bp.get("/console/flows")
    async def flow_list() -> Response:
        agent = context.flow_agent()
        entries: list[dict[str, Any]] = agent.report() if agent is not None else []
        return page(
            "flows.html",
            entries=entries,
            prompt_agent=agent is None,
            coverage=reports(await coverage()),
            coverage_file=context.coverage_file,
        )

    @bp.get("/console/flows/<name>")
    async def flow_page(name: str) -> Response:
        agent = context.flow_agent()
        entries = [e for e in (agent.report() if agent else []) if e["flow"] == name]
        if not entries:
            return page("missing.html", 404, what="flow", name=name)
        flow = context.flow(name)
        recorded = (await coverage()).get(name)
        view = "coverage" if request.args.get("view") == "coverage" and recorded else "flow"
        drawing = None
        report = None
        if flow is not None:
            if recorded is not None:
                report = coverage_report(flow, recorded)
            shown = recorded if view == "coverage" else None
            drawing = await context.drawings.draw(flow, coverage=shown)
        return page(
            "flow.html",
            entry=entries[0],
            flow=flow,
            drawing=drawing,
            view=view,
            report=report,
            way_source=way_source,
            way_target=way_target,
            coverage_file=context.coverage_file,
        )
