"""The flow agent: the server's :class:`~engine.agent.Agent` that runs calls through flows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from engine.agent import CallInfo
from engine.llm import ChatModel

from .actions import ActionRegistry, ActionRunner
from .compile import CompiledFlow
from .conversation import FlowConversation
from .registry import FlowRegistry
from .services import FlowServices


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

    def problems(self) -> list[str]:
        """Flows that did not load, flows that need a model that is not there, or no flow."""
        problems = [
            f"{path}: {len(errs)} error(s)" for path, errs in self.registry.broken().items()
        ]
        if self.model is None:
            for flow in self.registry:
                needing = [name for name, s in flow.spec.states.items() if s.prompt]
                if needing:
                    problems.append(
                        f"flow {flow.name!r} has model states ({', '.join(needing)}) "
                        "but no language model is configured"
                    )
        if not self.registry.names():
            problems.append(f"no flows loaded from {self.registry.flows_dir}")
        elif self.default_flow and self.registry.get(self.default_flow) is None:
            problems.append(f"default flow {self.default_flow!r} is not loaded")
        return problems
