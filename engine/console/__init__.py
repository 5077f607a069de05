"""The web console: live calls, past calls, flows, and trying a flow in the browser."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.console.app import console_blueprint
    from engine.console.context import ConsoleContext
    from engine.console.feed import CallSnapshot, LiveFeed, MemoryLiveFeed, Subscription

__all__ = [
    "CallSnapshot",
    "ConsoleContext",
    "LiveFeed",
    "MemoryLiveFeed",
    "Subscription",
    "console_blueprint",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.console.app": ("console_blueprint",),
        "engine.console.context": ("ConsoleContext",),
        "engine.console.feed": ("CallSnapshot", "LiveFeed", "MemoryLiveFeed", "Subscription"),
    },
)
