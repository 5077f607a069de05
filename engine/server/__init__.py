"""The call server: the Quart app, one session per socket, its writer, the call store, metrics."""

from engine.server.app import AgentBuilder, Runtime, create_app, runtime_of
from engine.server.hypercorn import hypercorn_config
from engine.server.session import Session, Socket
from engine.server.store import CallState, CallStore, MemoryCallStore

__all__ = [
    "AgentBuilder",
    "CallState",
    "CallStore",
    "MemoryCallStore",
    "Runtime",
    "Session",
    "Socket",
    "create_app",
    "hypercorn_config",
    "runtime_of",
]
