"""What a flow conversation runs with besides its flow and call: the model, the clock, actions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import structlog

from engine.agent import CallInfo
from engine.llm import ChatModel

from .actions import ActionRegistry, ActionRunner
from .compile import CompiledFlow
from .spec import check_time_zone

log = structlog.get_logger("dialplan.conversation")


@dataclass(frozen=True)
class FlowServices:
    """What a flow conversation uses besides its flow and call: the narrow context it runs in."""

    choose: Callable[[CallInfo], CompiledFlow | None]
    """The flow for a call (from its URL, its metadata, or the default)."""
    model: ChatModel | None = None
    today: Callable[[], date] | None = None
    """A fixed "today" (tests, ``dialplan chat --today``); else the clock in the call's zone."""
    actions: Callable[[str, ActionRegistry], ActionRunner] = ActionRunner
    """Makes the call's action runner from its call id and the flow's actions."""
    time_zone: str = "UTC"
    """The project's time zone; a flow's ``time_zone`` and a call's metadata come first."""
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def today_for(self, call: CallInfo, flow: CompiledFlow | None) -> date:
        """Today where the caller is: the fixed day if set, else the clock in the call's zone."""
        if self.today is not None:
            return self.today()
        return self.clock().astimezone(self.zone_for(call, flow)).date()

    def zone_for(self, call: CallInfo, flow: CompiledFlow | None) -> ZoneInfo:
        """The call's ``metadata.time_zone`` if it names a zone, else the flow's, else ours."""
        metadata = call.details.get("metadata")
        said = metadata.get("time_zone") if isinstance(metadata, dict) else None
        for name in (said, flow.spec.time_zone if flow else None):
            if isinstance(name, str) and name:
                try:
                    return check_time_zone(name)
                except ValueError:
                    log.warning("call.bad_time_zone", call_id=call.call_id, zone=name)
        return check_time_zone(self.time_zone)
