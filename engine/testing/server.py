"""Run a dialplan server on 127.0.0.1 in a thread of its own, for tests and benchmarks."""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

from hypercorn.asyncio import serve
from quart import Quart

from engine.server import create_app, hypercorn_config, runtime_of
from engine.settings import Settings


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ServerThread:
    """A real hypercorn server with the dialplan app, in a daemon thread with its own loop.

    ``with ServerThread(settings) as server: ...`` starts it and waits until it accepts
    connections; ``server.url("call_1")`` is the WebSocket URL of a call.
    """

    def __init__(self, settings: Settings | None = None, app: Quart | None = None, **kw: Any):
        base = settings or Settings(log_level="WARNING")
        self.settings = base.model_copy(update={"host": "127.0.0.1", "port": free_port(), **kw})
        self.app = app or create_app(self.settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None

    @property
    def runtime(self) -> Any:
        """The app's :class:`~engine.server.Runtime` (store, metrics, agent)."""
        return runtime_of(self.app)

    @property
    def base(self) -> str:
        """``ws://127.0.0.1:<port>``."""
        return f"ws://127.0.0.1:{self.settings.port}"

    def url(self, call_id: str, *segments: str, query: str = "") -> str:
        """The WebSocket URL of ``call_id`` (``segments``: secret and/or flow before it)."""
        path = "/".join((*segments, call_id))
        return f"{self.base}{self.settings.path_prefix}/{path}" + (f"?{query}" if query else "")

    def http(self, path: str) -> str:
        """An HTTP URL on this server."""
        return f"http://127.0.0.1:{self.settings.port}{path}"

    def start(self) -> ServerThread:
        """Start serving; returns once the port accepts connections."""
        self._thread = threading.Thread(target=self._run, name="dialplan-server", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the server did not start within 10 s")
        if self._error is not None:
            raise RuntimeError("the server failed to start") from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # reported to the starting thread
            self._error = exc
            self._started.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        config = hypercorn_config(self.settings)
        task = asyncio.ensure_future(serve(self.app, config, shutdown_trigger=self._stop.wait))
        for _ in range(400):  # bounded: 400 x 25 ms
            if task.done():
                task.result()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.settings.port)
                writer.close()
                break
            except OSError:
                await asyncio.sleep(0.025)
        self._started.set()
        await task

    def call_soon(self, fn: Any, *args: Any) -> None:
        """Run ``fn(*args)`` on the server's loop (for poking at live sessions in tests)."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(fn, *args)

    def run_coroutine(self, coro: Any, timeout: float = 5.0) -> Any:
        """Run a coroutine on the server's loop and return its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
