"""The call server: the Quart app, one session per socket, its writer, the call store, metrics."""

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
