"""One process's link to the shared store's Redis: the client, its scripts, and its health.

Every request is bounded by ``DIALPLAN_STORE_TIMEOUT``; a failure is never retried by the client
(except once, at once, on a pooled connection that broke because Redis restarted): the store
retries on its own schedule, and a call never waits for a Redis that is not there. Whether
Redis answers right now is kept here (:attr:`RedisLink.problem`) for ``/readyz``.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
import structlog
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from engine.errors import DialplanError

from . import redis_scripts

log = structlog.get_logger("dialplan.store")

FAILURES = (RedisError, OSError, TimeoutError)
"""What a request to Redis raises when Redis is down, slow, or restarting."""


class StoreError(DialplanError):
    """A store URL that cannot be used."""


def check_url(url: str) -> None:
    """Raise :class:`StoreError` unless ``url`` is a Redis URL."""
    if urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise StoreError(f"DIALPLAN_STORE: not a Redis URL: {redacted(url)} (redis://host:port/db)")


def redacted(url: str) -> str:
    """``url`` with its password (if any) replaced by ``***``, for logs and ``/readyz``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    user = f"{parts.username}:***@" if parts.username else ":***@"
    return urlunsplit(parts._replace(netloc=user + host))


def ms(seconds: float) -> int:
    """Seconds as the whole milliseconds the scripts take (at least 1)."""
    return max(1, round(seconds * 1000))


class RedisLink:
    """The Redis client of one process, the store's scripts on it, and whether it answers."""

    def __init__(self, url: str, timeout: float, instance: str | None = None) -> None:
        check_url(url)
        self.url = url
        self.timeout = timeout
        self.instance = instance or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        """This process, as Redis knows it (``host:pid:tag``): the owner of the calls it serves."""
        self.redis = self.client()
        self.scripts = {
            name: self.redis.register_script(text)
            for name, text in (
                ("open", redis_scripts.OPEN),
                ("save", redis_scripts.SAVE),
                ("claim", redis_scripts.CLAIM_EXPIRED),
                ("housekeeping", redis_scripts.HOUSEKEEPING),
                ("retire", redis_scripts.RETIRE),
            )
        }
        self.problem: str | None = None
        """Why Redis cannot be used right now (``None``: it can)."""

    def client(self) -> aioredis.Redis:
        """A client on this Redis, bounded as this link's is, with connections of its own.

        The console's live feed writes on such a client, never on :attr:`redis`: its writes
        would take the connection the store's saves are waiting for, and a save that must first
        open a connection of its own (tens of milliseconds) is a call lost if the process dies
        meanwhile.
        """
        return aioredis.Redis.from_url(
            self.url,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )

    async def run(self, name: str, keys: list[str], args: list[Any]) -> Any:
        """Run script ``name`` (loading it first if Redis forgot it)."""
        return await self.scripts[name](keys=keys, args=args)

    def sha(self, name: str) -> str:
        """The hash of script ``name``, for ``EVALSHA`` in a pipeline."""
        return self.scripts[name].sha

    async def load_scripts(self) -> None:
        """Load every script again (Redis restarted and forgot them)."""
        for script in self.scripts.values():
            script.sha = await self.redis.script_load(script.script)

    def failed(self, what: str, exc: BaseException, unsaved: int = 0) -> None:
        """A request failed: Redis is unavailable (logged once per outage)."""
        problem = f"redis at {redacted(self.url)} is unreachable ({what}: {exc!r})"
        if self.problem is None:
            log.error("store.unavailable", problem=problem, unsaved=unsaved)
        self.problem = problem

    def answered(self) -> None:
        """A request succeeded: Redis is available again (if it was not)."""
        if self.problem is not None:
            log.info("store.available", url=redacted(self.url))
            self.problem = None

    async def close(self) -> None:
        """Close the client's connections."""
        await self.redis.aclose()
