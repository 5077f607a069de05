"""The web console: live calls, past calls, flows, and trying a flow in the browser."""

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
