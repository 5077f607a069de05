"""A webhook receiver on 127.0.0.1, for testing the end-of-call webhook over real HTTP.

It records every request (headers and raw body) and answers from a script of status codes
(then 200), in a daemon thread with its own event loop::

    with WebhookReceiver(fail=2) as receiver:      # 500, 500, then 200
        ... DIALPLAN_WEBHOOK_URL=receiver.url ...
        deliveries = receiver.wait(1)                # the accepted ones
        assert verify(secret, deliveries[0].body, deliveries[0].signature)
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web


@dataclass(frozen=True)
class Delivery:
    """One request the receiver got, and the status it answered."""

    headers: dict[str, str]
    body: bytes
    status: int

    @property
    def accepted(self) -> bool:
        """Whether the receiver took it (a 2xx answer)."""
        return 200 <= self.status < 300

    @property
    def json(self) -> Any:
        """The body, parsed."""
        return orjson.loads(self.body)

    @property
    def signature(self) -> str:
        """The ``X-Dialplan-Signature`` header."""
        return self.headers.get("X-Dialplan-Signature", "")

    @property
    def event_id(self) -> str:
        """The ``X-Dialplan-Event-Id`` header."""
        return self.headers.get("X-Dialplan-Event-Id", "")


class WebhookReceiver:
    """An HTTP endpoint that takes webhook POSTs; see the module docstring."""

    def __init__(
        self, fail: int = 0, status: int = 500, path: str = "/hooks/calls", port: int = 0
    ) -> None:
        self.path = path
        self.port = port
        """Where it listens (0 until started: a free port), or will once started."""
        self.requests: list[Delivery] = []
        self._script: deque[int] = deque([status] * fail)
        self._default = 200
        self._changed = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """Where to POST."""
        return f"http://127.0.0.1:{self.port}{self.path}"

    def answer(self, *statuses: int, then: int = 200) -> None:
        """Answer the next requests with ``statuses``, every later one with ``then``."""
        with self._changed:
            self._script = deque(statuses)
            self._default = then

    @property
    def accepted(self) -> list[Delivery]:
        """The requests answered with a 2xx status."""
        with self._changed:
            return [d for d in self.requests if d.accepted]

    def wait(self, count: int, timeout: float = 10.0, accepted: bool = True) -> list[Delivery]:
        """Block until ``count`` requests (accepted ones, by default) came; returns them."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                got = [d for d in self.requests if d.accepted or not accepted]
                if len(got) >= count:
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(got)} of {count} webhook deliveries in {timeout}s")
                self._changed.wait(left)

    async def _receive(self, request: web.Request) -> web.Response:
        body = await request.read()
        with self._changed:
            status = self._script.popleft() if self._script else self._default
            self.requests.append(Delivery(dict(request.headers), body, status))
            self._changed.notify_all()
        return web.Response(status=status, text="ok" if status < 300 else "not now")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post(self.path, self._receive)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.port = int(runner.addresses[0][1])  # kept, so a restart listens on the same URL
        self._runner = runner

    def start(self) -> WebhookReceiver:
        """Listen in a daemon thread; returns once the port is bound."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="webhook-receiver", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        asyncio.run_coroutine_threadsafe(self._start(), loop).result(timeout=10)
        return self

    def stop(self) -> None:
        """Stop listening and join the thread."""
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        self._loop = self._thread = self._runner = None
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
