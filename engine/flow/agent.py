"""The flow agent: the server's :class:`~engine.agent.Agent` that runs calls through flows."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from pathlib import Path
from typing import Any

import structlog

from engine.agent import CallInfo
from engine.llm import ChatModel

from . import persist
from .actions import ActionRegistry, ActionRunner
from .compile import CompiledFlow
from .conversation import FlowConversation
from .registry import FlowRegistry
from .services import FlowServices

log = structlog.get_logger("dialplan.flows")


class FlowAgent:
    """Picks each call's flow from a registry and runs a :class:`FlowConversation` for it."""

    def __init__(
        self,
        registry: FlowRegistry,
        model: ChatModel | None,
        default_flow: str | None,
        *,
        today: Callable[[], date] | None = None,
        actions: Callable[[str, ActionRegistry], ActionRunner] = ActionRunner,
        time_zone: str = "UTC",
    ) -> None:
        self.registry = registry
        self.default_flow = default_flow
        self.services = FlowServices(
            choose=self.choose,
            model=model,
            today=today,
            actions=actions,
            time_zone=time_zone,
        )

    @property
    def model(self) -> ChatModel | None:
        """The model the flows' prompt states speak through, if one is configured."""
        return self.services.model

    def accepts(self, call: CallInfo) -> str | None:
        """Refuse a call whose URL names a flow that is not loaded."""
        if call.flow is not None and self.registry.get(call.flow) is None:
            return f"no flow named {call.flow!r}"
        return None

    def choose(self, call: CallInfo) -> CompiledFlow | None:
        """The flow for a call: from the URL, else call metadata (`flow`), else the default."""
        metadata = call.details.get("metadata") or {}
        for name in (call.flow, metadata.get("flow") if isinstance(metadata, dict) else None):
            if name:
                flow = self.registry.get(str(name))
                if flow is not None:
                    return flow
        if self.default_flow:
            return self.registry.get(self.default_flow)
        return None

    def start(self, call: CallInfo) -> FlowConversation:
        """A conversation for a new call (bound to its flow once the flow is known)."""
        return FlowConversation(call, self.services)

    def resume(self, call: CallInfo, snapshot: Mapping[str, Any]) -> FlowConversation:
        """Go on with a call another process started, on the flow version it started with.

        Without that version here, the newest version of the flow takes the call on from the
        same state (said in the log); see :meth:`FlowConversation.resumed`. A snapshot taken
        before the call had a flow starts the conversation afresh. Raises
        :class:`~engine.flow.persist.SnapshotError` for a snapshot it cannot read.
        """
        if not snapshot:
            return self.start(call)
        saved = persist.read(snapshot)
        flow = self.registry.version(saved.flow, saved.version)
        if flow is None:
            flow = self.registry.get(saved.flow)
            log.warning(
                "flow.version_missing",
                call_id=call.call_id,
                flow=saved.flow,
                version=saved.version,
                using=flow.version if flow is not None else None,
            )
        return FlowConversation.resumed(call, self.services, flow, saved)

    def problems(self) -> list[str]:
        """Why no call can be taken: no flow loads, or the default flow does not.

        A broken or degraded flow beside working ones is no reason: see :meth:`report`.
        """
        problems = []
        if not self.registry.names():
            problems.append(f"no flows loaded from {self.registry.flows_dir}")
        elif self.default_flow and self.registry.get(self.default_flow) is None:
            problems.append(f"the default flow {self.default_flow!r} is not loaded")
        return problems

    def report(self) -> list[dict[str, Any]]:
        """Each flow's state, for ``/readyz``: ``ok``, ``degraded`` or ``broken``.

        ``degraded``: it takes calls, but not as written: its model states have no model (they
        say their ``reask`` line), or its file has errors and the last good version serves.
        ``broken``: its file does not load and no version of it serves.
        """
        entries: list[dict[str, Any]] = []
        broken = self.registry.broken()
        serving = {flow.loaded.path: flow for flow in self.registry}
        for flow in self.registry:
            errors = broken.get(flow.loaded.path, [])
            problems = []
            if errors:
                problems.append(
                    f"{flow.loaded.path} has {len(errors)} error(s): the last good version "
                    "serves until it is fixed"
                )
            needing = flow.model_states()
            if needing and self.model is None:
                problems.append(
                    f"states {', '.join(needing)} have the model speak and no model is "
                    "configured: they say their reask line"
                )
            entries.append(
                _entry(flow.name, flow.loaded.path, "degraded" if problems else "ok", problems)
                | {"version": flow.version, "errors": [e.as_json() for e in errors]}
            )
        for path, errors in broken.items():
            if path not in serving:
                entries.append(
                    _entry(path.stem, path, "broken", [f"{path} does not load"])
                    | {"version": None, "errors": [e.as_json() for e in errors]}
                )
        for entry in entries:
            entry["default"] = entry["flow"] == self.default_flow
        return sorted(entries, key=lambda entry: (entry["flow"], entry["file"]))


def _entry(name: str, path: Path, state: str, problems: list[str]) -> dict[str, Any]:
    return {"flow": name, "file": str(path), "state": state, "problems": problems}
