"""A stand-in for the platform's REST API and its webhook sender, on 127.0.0.1.

Built from the platform's documented shapes: ``POST /v2/create-phone-call`` with a bearer key
answers a phone call object and remembers it; a repeated idempotency key answers the call
made for it, not a new one. It can be told to fail (any status, a number of times, with
``Retry-After``), to answer slowly, or to make the call and then lose the answer. As the
webhook sender it POSTs the call events, signed with ``X-Retell-Signature`` like the
platform signs them, and asks ``call_inbound``::

    with PlatformAPI(key="key_test") as platform:
        ... DIALPLAN_PLATFORM_URL=platform.url DIALPLAN_PLATFORM_KEY=platform.key ...
        call = platform.calls_to("+14155550100")[0]
        platform.send_event(server.http("/webhook"), "call_ended", call["call_id"])
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from engine.phone.signature import SIGNATURE_HEADER, sign


@dataclass(frozen=True)
class Failure:
    """One scripted answer instead of a call."""

    status: int
    message: str = "scripted failure"
    retry_after: str | None = None
    after_creating: bool = False
    """Make the call, then answer with the failure (the answer was lost on the way)."""


@dataclass
class CreateRequest:
    """One create request as the stand-in got it."""

    headers: dict[str, str]
    body: dict[str, Any]
    status: int = 0
    call_id: str | None = None


@dataclass
class _Script:
    failures: deque[Failure] = field(default_factory=deque)
    delay: float = 0.0


class PlatformAPI:
    """The stand-in; see the module docstring."""

    def __init__(self, key: str = "key_test_platform", agent_id: str = "agent_test") -> None:
        self.key = key
        self.agent_id = agent_id
        self.port = 0
        self.requests: list[CreateRequest] = []
        self.calls: dict[str, dict[str, Any]] = {}
        self.in_flight = 0
        self.most_in_flight = 0
        """The most create requests it was answering at once."""
        self._by_key: dict[str, str] = {}
        self._script = _Script()
        self._lock = threading.Condition()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The REST base URL (``DIALPLAN_PLATFORM_URL``)."""
        return f"http://127.0.0.1:{self.port}"

    # -- scripting -----------------------------------------------------------------------------

    def fail(
        self,
        status: int,
        times: int = 1,
        *,
        message: str = "scripted failure",
        retry_after: str | None = None,
        after_creating: bool = False,
    ) -> None:
        """Answer the next ``times`` create requests with ``status`` instead of a call."""
        with self._lock:
            for _ in range(times):
                self._script.failures.append(Failure(status, message, retry_after, after_creating))

    def slow(self, seconds: float) -> None:
        """Take ``seconds`` before answering each create request (the call is made first)."""
        with self._lock:
            self._script.delay = seconds

    def calls_to(self, number: str) -> list[dict[str, Any]]:
        """The distinct calls made to ``number``."""
        with self._lock:
            return [call for call in self.calls.values() if call["to_number"] == number]

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> list[CreateRequest]:
        """Block until ``count`` create requests came (answered or not)."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while len(self.requests) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.requests)} of {count} create requests")
                self._lock.wait(left)
            return list(self.requests)

    # -- the REST API ----------------------------------------------------------------------------

    async def _create(self, request: web.Request) -> web.Response:
        seen = CreateRequest(dict(request.headers), {})
        with self._lock:
            self.requests.append(seen)
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
            self._lock.notify_all()
        try:
            return await self._answer(request, seen)
        finally:
            with self._lock:
                self.in_flight -= 1

    async def _answer(self, request: web.Request, seen: CreateRequest) -> web.Response:
        if request.headers.get("Authorization") != f"Bearer {self.key}":
            return self._error(seen, 401, "Invalid API key")
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self._error(seen, 400, "body is not JSON")
        seen.body = body
        missing = [name for name in ("from_number", "to_number") if not body.get(name)]
        if missing:
            return self._error(seen, 422, f"missing {', '.join(missing)}")
        with self._lock:
            failure = self._script.failures.popleft() if self._script.failures else None
            delay = self._script.delay
        if failure is not None and not failure.after_creating:
            return self._error(seen, failure.status, failure.message, failure.retry_after)
        call = self._make(body)
        seen.call_id = call["call_id"]
        if delay:
            await asyncio.sleep(delay)
        if failure is not None:
            return self._error(seen, failure.status, failure.message, failure.retry_after)
        seen.status = 201
        return web.json_response(call, status=201)

    def _make(self, body: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            key = body.get("idempotency_key")
            if key and key in self._by_key:
                return self.calls[self._by_key[key]]
            call_id = f"call_{uuid.uuid4().hex[:24]}"
            call = {
                "call_id": call_id,
                "call_type": "phone_call",
                "agent_id": body.get("override_agent_id") or self.agent_id,
                "agent_version": 1,
                "call_status": "registered",
                "direction": "outbound",
                "from_number": body["from_number"],
                "to_number": body["to_number"],
                "metadata": body.get("metadata") or {},
                "retell_llm_dynamic_variables": body.get("retell_llm_dynamic_variables") or {},
            }
            self.calls[call_id] = call
            if key:
                self._by_key[key] = call_id
            return call

    def _error(
        self, seen: CreateRequest, status: int, message: str, retry_after: str | None = None
    ) -> web.Response:
        seen.status = status
        headers = {"Retry-After": retry_after} if retry_after else None
        return web.json_response({"error_message": message}, status=status, headers=headers)

    # -- the webhook sender ----------------------------------------------------------------------

    def event_body(self, event: str, call_id: str, **changes: Any) -> bytes:
        """The JSON the platform POSTs for ``event`` of ``call_id`` (its call object changed)."""
        with self._lock:
            call = self.calls.setdefault(call_id, {"call_id": call_id, "call_type": "phone_call"})
            now = int(time.time() * 1000)
            if event == "call_started":
                call.update(call_status="ongoing", start_timestamp=now)
            elif event == "call_ended":
                start = call.get("start_timestamp") or now - 42_000
                call.update(
                    call_status="ended",
                    start_timestamp=start,
                    end_timestamp=now,
                    duration_ms=now - start,
                    disconnection_reason="agent_hangup",
                    recording_url=f"https://recordings.example/{call_id}.wav",
                )
            call.update(changes)
            return orjson.dumps({"event": event, "call": call})

    def send_event(
        self, url: str, event: str, call_id: str, *, key: str | None = None, **changes: Any
    ) -> int:
        """POST ``event`` of ``call_id`` to ``url``, signed; the status the server answered."""
        status, _ = self.post_signed(url, self.event_body(event, call_id, **changes), key=key)
        return status

    def send_inbound(
        self, url: str, from_number: str, to_number: str, agent_id: str | None = None
    ) -> tuple[int, Any]:
        """Ask ``url`` about an inbound call; its status and JSON answer."""
        inbound: dict[str, Any] = {"from_number": from_number, "to_number": to_number}
        if agent_id or self.agent_id:
            inbound["agent_id"] = agent_id or self.agent_id
        body = orjson.dumps({"event": "call_inbound", "call_inbound": inbound})
        status, raw = self.post_signed(url, body)
        return status, (orjson.loads(raw) if raw else None)

    def post_signed(
        self,
        url: str,
        body: bytes,
        *,
        key: str | None = None,
        signature: str | None = None,
    ) -> tuple[int, bytes]:
        """POST ``body`` as the platform does (signed with ``key``, default the API key)."""
        header = signature if signature is not None else sign((key or self.key).encode(), body)
        status, raw = self._run(self._post(url, body, header))
        return int(status), bytes(raw)

    async def _post(self, url: str, body: bytes, signature: str) -> tuple[int, bytes]:
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: signature}
        async with (
            aiohttp.ClientSession() as http,
            http.post(url, data=body, headers=headers) as answer,
        ):
            return answer.status, await answer.read()

    # -- running ---------------------------------------------------------------------------------

    def _run(self, coro: Any, timeout: float = 15.0) -> Any:
        assert self._loop is not None, "start the stand-in first"
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_post("/v2/create-phone-call", self._create)
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.1)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", self.port).start()
        self.port = int(runner.addresses[0][1])
        self._runner = runner

    def start(self) -> PlatformAPI:
        """Listen in a daemon thread; returns once the port is bound."""
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="platform-api", daemon=True)
        thread.start()
        self._loop, self._thread = loop, thread
        self._run(self._start())
        return self

    def stop(self) -> None:
        """Stop listening and join the thread."""
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(_shutdown(runner), loop).result(timeout=10)
        self._loop = self._thread = self._runner = None
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()

    def __enter__(self) -> PlatformAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


async def _shutdown(runner: web.AppRunner) -> None:
    await runner.cleanup()
    # Answers still being held back (``slow``) for clients that left: end them, not leak them.
    pending = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
