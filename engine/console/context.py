"""What the console reads, handed over by the server that mounts it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from engine.agent import Agent
from engine.diagram import COVERAGE_FILE
from engine.flow import CompiledFlow, FlowAgent
from engine.records import Database
from engine.settings import Settings

from .auth import Gate
from .drawings import Drawings
from .feed import LiveFeed


@dataclass
class ConsoleContext:
    """What the console reads: the settings, the live feed, the agent, the call log."""

    settings: Settings
    feed: LiveFeed
    agent: Callable[[], Agent | None]
    """The server's agent (``None`` until the server has started)."""
    database: Database | None
    """The call log (``None`` when none is kept)."""
    coverage_file: Path = COVERAGE_FILE
    drawings: Drawings = field(default_factory=Drawings)
    gate: Gate = field(init=False)

    def __post_init__(self) -> None:
        token = self.settings.console_token
        if token is None or not token.get_secret_value():
            raise ValueError("the console needs DIALPLAN_CONSOLE_TOKEN")
        self.gate = Gate(token.get_secret_value())

    def flow_agent(self) -> FlowAgent | None:
        """The server's flow agent, if it runs flows."""
        agent = self.agent()
        return agent if isinstance(agent, FlowAgent) else None

    def flow(self, name: str | None) -> CompiledFlow | None:
        """The flow serving calls under ``name`` now, if any."""
        agent = self.flow_agent()
        return agent.registry.get(name) if agent is not None and name else None

    def flow_names(self) -> list[str]:
        """The flows that take calls, by name."""
        agent = self.flow_agent()
        return agent.registry.names() if agent is not None else []
