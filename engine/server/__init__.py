"""The call server: the Quart app, one session per socket, its writer, the call store, metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine._lazy import exports

if TYPE_CHECKING:
    from engine.server.app import AgentBuilder, Runtime, create_app, drain, open_store, runtime_of
    from engine.server.hypercorn import hypercorn_config
    from engine.server.redis_store import RedisCallStore
    from engine.server.session import Session, Socket
    from engine.server.store import CallState, CallStore, MemoryCallStore

__all__ = [
    "AgentBuilder",
    "CallState",
    "CallStore",
    "MemoryCallStore",
    "RedisCallStore",
    "Runtime",
    "Session",
    "Socket",
    "create_app",
    "drain",
    "hypercorn_config",
    "open_store",
    "runtime_of",
]

__getattr__, __dir__ = exports(
    __name__,
    {
        "engine.server.app": (
            "AgentBuilder",
            "Runtime",
            "create_app",
            "drain",
            "open_store",
            "runtime_of",
        ),
        "engine.server.hypercorn": ("hypercorn_config",),
        "engine.server.redis_store": ("RedisCallStore",),
        "engine.server.session": ("Session", "Socket"),
        "engine.server.store": ("CallState", "CallStore", "MemoryCallStore"),
    },
)
