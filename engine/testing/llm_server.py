"""A local OpenAI-compatible chat-completions server for tests and benchmarks.

It speaks real HTTP so the real ``openai`` client (and its httpx2 / aiohttp transports) is
exercised end to end: streaming, tool-call deltas, error statuses, broken streams and client
disconnects. Replies are scripted per request with :class:`Reply`; a FIFO queue is consumed one
reply per request and :attr:`LLMTestServer.default` answers once it is empty.

Run standalone for benchmarks::

    python -m engine.testing.llm_server --port 8100 --tokens 30 --token-delay 0.01
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import itertools
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Self

import orjson
from aiohttp import web

from engine.server.stalls import StallWatch

from .llm_replies import (
    LLMStats,
    Reply,
    ToolCall,
    error_response,
    split_arguments,
    sse,
    text_pieces,
    usage,
)

__all__ = ["LLMStats", "LLMTestServer", "Reply", "ToolCall", "main"]


BACKLOG = 2048
"""Connections waiting to be accepted (aiohttp's default: 128). A server under a benchmark opens
hundreds of streams at once; a full queue drops the connection's first packet, and TCP sends it
again only after a second, which would show as the server's answer a second late."""


class LLMTestServer:
    """A scripted OpenAI-compatible chat-completions server over real HTTP.

    Serves ``/v1/chat/completions``, ``/chat/completions`` and the Azure-style
    ``/openai/deployments/{deployment}/chat/completions``, plus ``GET /stats`` (the
    :class:`LLMStats` counters as JSON, for a benchmark in another process). Start it on the
    running loop with :meth:`start`, or in its own daemon thread with :meth:`start_in_thread` /
    ``with``.

    Every request is kept in :attr:`requests` for a test to inspect, unless ``keep_requests``
    is false (standalone, under a benchmark's load: thousands of kept bodies would make the
    cycle collector pause the server for a tenth of a second at a time).
    """

    def __init__(
        self,
        default: Reply | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        keep_requests: bool = True,
    ) -> None:
        self.default: Reply = default if default is not None else Reply(text="Okay.")
        self.keep_requests = keep_requests
        self.stats = LLMStats()
        self.requests: list[dict[str, object]] = []
        self.paths: list[str] = []  # path and query of each chat request, in order
        self.headers: list[dict[str, str]] = []  # its headers (names lower-cased)
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._queue: deque[Reply] = deque()
        self._ids = itertools.count(1)
        self._aborted = 0  # scripted disconnects: neither completed nor closed early
        self._stopping = False
        self._runner: web.AppRunner | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        """The OpenAI base URL, ``http://host:port/v1``; the Azure endpoint is it minus ``/v1``."""
        return f"http://{self._host}:{self._port}/v1"

    def script(self, *replies: Reply) -> None:
        """Queue replies; each request takes the next one, then :attr:`default` answers."""
        with self._lock:
            self._queue.extend(replies)

    def reset(self) -> None:
        """Forget queued replies, counters and recorded requests."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.paths.clear()
            self.headers.clear()
            # In place, so references a test already holds stay live.
            self.stats.requests = self.stats.completed = 0
            self.stats.closed_early = self.stats.errors = 0
            self._aborted = 0

    async def start(self) -> None:
        """Listen on the running event loop; returns once the port is bound."""
        if self._runner is not None:
            raise RuntimeError("LLMTestServer is already running")
        app = web.Application()
        chat = self._chat
        app.router.add_post("/v1/chat/completions", chat)
        app.router.add_post("/chat/completions", chat)
        app.router.add_post("/openai/deployments/{deployment}/chat/completions", chat)
        app.router.add_get("/v1/models", self._models)
        app.router.add_get("/models", self._models)
        app.router.add_get("/stats", self._stats)
        # handler_cancellation turns a client disconnect into a CancelledError in the handler,
        # even while it sleeps, which is how closed_early is counted promptly. A short shutdown
        # timeout keeps stop() fast when a slow stream is still running.
        runner = web.AppRunner(
            app, handler_cancellation=True, access_log=None, shutdown_timeout=0.1
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self._host, self._port, backlog=BACKLOG).start()
        except BaseException:
            await runner.cleanup()
            raise
        address = runner.addresses[0]
        # Keep the bound port so a restarted server comes back on the same URL.
        self._port = int(address[1])
        self._stopping = False
        self._runner = runner

    async def stop(self) -> None:
        """Stop listening and cancel any answer still being streamed."""
        runner, self._runner = self._runner, None
        if runner is None:
            return
        self._stopping = True
        try:
            await runner.cleanup()
        finally:
            self._stopping = False

    def start_in_thread(self) -> None:
        """Run the server on its own event loop in a daemon thread; returns once listening."""
        if self._thread is not None:
            raise RuntimeError("LLMTestServer is already running in a thread")
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="llm-test-server", daemon=True)
        thread.start()
        try:
            asyncio.run_coroutine_threadsafe(self.start(), loop).result(timeout=10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()
            raise
        self._loop, self._thread = loop, thread

    def stop_thread(self) -> None:
        """Stop a server started with :meth:`start_in_thread` and join its thread."""
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        self._loop = self._thread = None
        try:
            asyncio.run_coroutine_threadsafe(self.stop(), loop).result(timeout=10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join()
            loop.close()

    def __enter__(self) -> Self:
        self.start_in_thread()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop_thread()

    # A timeout argument (not asyncio.timeout) because callers want a bool, not an exception.
    async def wait_for(
        self,
        predicate: Callable[[LLMStats], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> bool:
        """Poll until ``predicate(stats)`` holds; ``False`` on timeout.

        Works from any event loop or thread: it only sleeps on the caller's loop and reads a
        snapshot of the counters taken under the lock.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                snapshot = dataclasses.replace(self.stats)
            if predicate(snapshot):
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            await asyncio.sleep(min(0.005, remaining))

    def _bump(self, counter: str) -> None:
        with self._lock:
            setattr(self.stats, counter, getattr(self.stats, counter) + 1)

    async def _models(self, request: web.Request) -> web.Response:
        data = [{"id": "gpt-test", "object": "model", "created": 0, "owned_by": "dialplan"}]
        return web.Response(
            body=orjson.dumps({"object": "list", "data": data}), content_type="application/json"
        )

    async def _stats(self, request: web.Request) -> web.Response:
        # The counters for a benchmark driving a standalone server from another process.
        with self._lock:
            snapshot = dataclasses.asdict(self.stats)
        return web.Response(body=orjson.dumps(snapshot), content_type="application/json")

    async def _chat(self, request: web.Request) -> web.StreamResponse:
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return error_response(400, "request body is not valid JSON")
        if not isinstance(body, dict):
            return error_response(400, "request body must be a JSON object")
        with self._lock:
            self.stats.requests += 1
            if self.keep_requests:
                self.requests.append(body)
                self.paths.append(request.path_qs)
                self.headers.append({k.lower(): v for k, v in request.headers.items()})
            reply = self._queue.popleft() if self._queue else self.default
        model = str(body.get("model") or request.match_info.get("deployment") or "gpt-test")
        try:
            if reply.first_token_delay and (reply.status is not None or not body.get("stream")):
                await asyncio.sleep(reply.first_token_delay)
            if reply.status is not None:
                self._bump("errors")
                return error_response(reply.status, f"scripted error {reply.status}")
            if body.get("stream"):
                return await self._stream(request, body, reply, model)
            return await self._complete(request, body, reply, model)
        except asyncio.CancelledError:
            # The client went away (or stop() is cancelling us); never swallow the cancel.
            if not self._stopping:
                self._bump("closed_early")
            raise

    def _abort(self, request: web.Request) -> None:
        with self._lock:
            self._aborted += 1
        # abort(), not close(): an RST-style drop with nothing flushed, like a crashed upstream.
        if request.transport is not None:
            request.transport.abort()

    def _tool_calls(self, reply: Reply) -> list[tuple[str, str, str]]:
        calls = []
        for call in reply.tool_calls:
            arguments = call.arguments
            if not isinstance(arguments, str):
                arguments = orjson.dumps(arguments).decode()
            calls.append((call.id or f"call_{next(self._ids)}", call.name, arguments))
        return calls

    def _finish_reason(self, reply: Reply) -> str:
        return reply.finish_reason or ("tool_calls" if reply.tool_calls else "stop")

    async def _complete(
        self, request: web.Request, body: dict[str, object], reply: Reply, model: str
    ) -> web.StreamResponse:
        pieces = text_pieces(reply)
        calls = self._tool_calls(reply)
        count = len(pieces) + len(calls)
        if reply.token_delay and count > 1:
            await asyncio.sleep(reply.token_delay * (count - 1))
        if reply.disconnect_after is not None:
            self._abort(request)
            return web.Response()
        text = "".join(pieces)
        message: dict[str, object] = {
            "role": "assistant",
            "content": text if text or not calls else None,
            "refusal": None,
        }
        if calls:
            message["tool_calls"] = [
                {"id": cid, "type": "function", "function": {"name": name, "arguments": args}}
                for cid, name, args in calls
            ]
        finish_reason = self._finish_reason(reply)
        choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        completion = {
            "id": f"chatcmpl-test-{next(self._ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": model,
            "choices": [choice],
            "usage": usage(body, count),
        }
        response = web.Response(body=orjson.dumps(completion), content_type="application/json")
        try:
            await response.prepare(request)
            await response.write_eof()
        except ConnectionResetError:
            self._bump("closed_early")
            return response
        self._bump("completed")
        return response

    async def _stream(
        self, request: web.Request, body: dict[str, object], reply: Reply, model: str
    ) -> web.StreamResponse:
        deltas: list[dict[str, object]] = [{"content": piece} for piece in text_pieces(reply)]
        for index, (cid, name, arguments) in enumerate(self._tool_calls(reply)):
            # As OpenAI does: id, type and name once, then arguments in fragments by index.
            function = {"name": name, "arguments": ""}
            head = {"index": index, "id": cid, "type": "function", "function": function}
            deltas.append({"tool_calls": [head]})
            deltas.extend(
                {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}
                for fragment in split_arguments(arguments)
            )
        options = body.get("stream_options")
        include_usage = isinstance(options, dict) and bool(options.get("include_usage"))
        base: dict[str, object] = {
            "id": f"chatcmpl-test-{next(self._ids)}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": None,
        }
        if include_usage:
            base["usage"] = None

        def chunk(delta: dict[str, object], finish_reason: str | None = None) -> bytes:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
            return sse({**base, "choices": [choice]})

        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        # Headers go out at once, as OpenAI does, so create() returns before the first token.
        await response.prepare(request)
        limit = reply.disconnect_after
        try:
            await asyncio.sleep(reply.first_token_delay)
            has_text = any("content" in delta for delta in deltas)
            await response.write(chunk({"role": "assistant", "content": "" if has_text else None}))
            for sent, delta in enumerate(deltas):
                if limit is not None and sent >= limit:
                    break
                if sent and reply.token_delay:
                    await asyncio.sleep(reply.token_delay)
                await response.write(chunk(delta))
            if limit is not None:
                self._abort(request)
                return response
            if reply.finish:
                await response.write(chunk({}, self._finish_reason(reply)))
            if include_usage:
                counts = usage(body, len(deltas))
                await response.write(sse({**base, "choices": [], "usage": counts}))
            await response.write(b"data: [DONE]\n\n")
            await response.write_eof()
        except ConnectionResetError:
            # aiohttp's ClientConnectionResetError: the client left between two writes.
            self._bump("closed_early")
            return response
        self._bump("completed")
        return response


def main(argv: Sequence[str] | None = None) -> None:
    """Run the server standalone until SIGINT or SIGTERM."""
    parser = argparse.ArgumentParser(
        prog="python -m engine.testing.llm_server",
        description="OpenAI-compatible chat-completions test server.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--text", default="Okay.", help="default reply text")
    parser.add_argument("--tokens", type=int, help="reply with N word pieces 'w1 w2 ...'")
    parser.add_argument("--token-delay", type=float, default=0.0, help="seconds between pieces")
    parser.add_argument("--first-token-delay", type=float, default=0.0, help="seconds to TTFT")
    parser.add_argument(
        "--stall-ms", type=float, default=0.0, help="log each pause of the loop over this [off]"
    )
    args = parser.parse_args(argv)
    text = " ".join(f"w{i}" for i in range(1, args.tokens + 1)) if args.tokens else args.text
    default = Reply(
        text=text, token_delay=args.token_delay, first_token_delay=args.first_token_delay
    )
    # Nobody reads the requests of a standalone server (only its /stats): none are kept.
    server = LLMTestServer(default, host=args.host, port=args.port, keep_requests=False)
    # A plain asyncio loop, not uvloop: under the capacity bench (1,000 calls) the first piece
    # of 1 % of the answers came 0.5-1 s late on uvloop, 20-30 ms on asyncio.
    asyncio.run(_serve(server, args.stall_ms))


STANDALONE_GC = (7000, 20, 20)
"""The cycle collector's thresholds of a standalone server (Python's: 700, 10, 10)."""


async def _serve(server: LLMTestServer, stall_ms: float = 0.0) -> None:
    # Standalone, it stands in for a provider under a benchmark's load: its own pauses (the
    # cycle collector's full passes over thousands of streams) would show as the server's slow
    # answers, so what it loaded stays out of the passes, and they are fewer.
    stalls = StallWatch(stall_ms / 1000) if stall_ms > 0 else None
    if stalls is not None:
        stalls.start()
    await server.start()
    gc.collect()
    gc.freeze()  # what is loaded lives as long as the process: out of every full pass
    gc.set_threshold(*STANDALONE_GC)
    print(server.base_url, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        if stalls is not None:
            stalls.stop()
        await server.stop()


if __name__ == "__main__":
    main()
