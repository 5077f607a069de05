"""Flows: each flow's state (as ``/readyz`` reports it), its diagram and its test coverage.

The diagram is the one ``dialplan graph`` draws. Coverage comes from the file the conversation
tests write (``dialplan test --coverage``) in the server's working folder, when there is one.
A flow's page also shows its rollout, its versions side by side on live traffic, and where its
callers drop, in a table and drawn on the diagram (:mod:`engine.console.traffic`).
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, Response, request

from engine.diagram import Coverage
from engine.diagram.coverage import load as load_coverage
from engine.flow import CompiledFlow, FlowAgent
from engine.insights.funnel import traffic_of
from engine.records import OUTCOMES

from .context import ConsoleContext
from .drawings import CoverageReport, coverage_report, way_source, way_target
from .render import page
from .traffic import flow_traffic

VIEWS = ("flow", "coverage", "traffic")


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
        view = request.args.get("view", "flow")
        if view not in VIEWS or (view == "coverage" and not recorded):
            view = "flow"
        traffic = await flow_traffic(context.database, flow, name, request.args.get("version"))
        drawing = None
        report = None
        drawn_on: CompiledFlow | None = flow
        if flow is not None:
            if recorded is not None:
                report = coverage_report(flow, recorded)
            shown = recorded if view == "coverage" else None
            lines = None
            if view == "traffic" and traffic.funnel is not None:
                lines = traffic_of(traffic.funnel)
                drawn_on = _version(agent, name, traffic.funnel.version) or flow
            drawing = await context.drawings.draw(drawn_on or flow, coverage=shown, traffic=lines)
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
            traffic=traffic,
            drawn_on=drawn_on,
            outcomes=OUTCOMES,
        )


def _version(agent: FlowAgent | None, name: str, version: str | None) -> CompiledFlow | None:
    """The version a funnel counts, where this server still has it (current, or in use)."""
    if agent is None or version is None:
        return None
    return agent.registry.version(name, version)
