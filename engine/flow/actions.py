"""Named actions a flow runs on entering a state: Python callables and HTTP webhooks.

Python actions are registered by a plugin (``@plugin.action("booking.check")``, see
:mod:`engine.flow.plugins`) into a project's :class:`ActionRegistry`; a flow names them. Every
action runs **at most once per call and arguments**: the platform may discard a response and
ask again while an action of the first attempt is still running (or already done), and a
booking must not be made twice. The first run's result (or the run still in flight) is shared
by every later attempt of the same call. The finished runs can be carried to another process
(:meth:`ActionRunner.done`, :meth:`ActionRunner.remember`), so a call that moves on keeps them.

A webhook is also sent with an ``Idempotency-Key`` header (unless the flow sets one): the call,
the action's place and a digest of its request, so every attempt at the same action with the
same request in one call carries the same key (a run retried in another process after a crash
too), and a receiver can de-duplicate on it; a new request (other arguments) gets a new key.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeAlias

import orjson

from engine._lazy import logger
from engine.errors import RuntimeFault

from .spec import Webhook

if TYPE_CHECKING:
    import aiohttp

log = logger("dialplan.actions")

ActionFn: TypeAlias = Callable[..., Any | Awaitable[Any]]
"""A Python action: called with the rendered ``args`` as keyword arguments (and ``call``)."""


class ActionError(RuntimeFault):
    """An action failed; the flow sees ``result.error`` and can route on it."""


def request_key(name: str, url: str, args: Mapping[str, Any]) -> bytes:
    """What makes two runs of an action the same run: its name, URL and arguments."""
    return orjson.dumps([name, url, args], option=orjson.OPT_SORT_KEYS, default=str)


def idempotency_key(call_id: str, name: str, url: str, args: Mapping[str, Any]) -> str:
    """The ``Idempotency-Key`` of a webhook: ``<call id>:<action place>:<request digest>``.

    The same for every attempt at the same request of the same action in one call, wherever
    it runs; the digest keeps the arguments themselves (a caller's details) out of the header.
    """
    digest = hashlib.sha256(request_key(name, url, args)).hexdigest()[:16]
    return f"{call_id}:{name}:{digest}"


class ActionRegistry:
    """Python actions by name: one registry per project, filled from its plugins."""

    def __init__(self, actions: Mapping[str, ActionFn] | None = None) -> None:
        self._actions: dict[str, ActionFn] = dict(actions or {})

    def add(self, name: str, fn: ActionFn) -> None:
        """Register ``fn`` under ``name`` (replacing any action of that name)."""
        self._actions[name] = fn

    def get(self, name: str) -> ActionFn | None:
        """The action called ``name``, if registered."""
        return self._actions.get(name)

    def names(self) -> list[str]:
        """Every registered name, sorted."""
        return sorted(self._actions)

    def __contains__(self, name: object) -> bool:
        return name in self._actions


class ActionRunner:
    """Runs one call's actions, each at most once per name and arguments."""

    def __init__(
        self,
        call_id: str,
        registry: ActionRegistry,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.call_id = call_id
        self.registry = registry
        self._session = session
        self._runs: dict[bytes, asyncio.Future[Any]] = {}
        self._carried: dict[bytes, tuple[bool, Any]] = {}  # finished on an earlier process
        self.executions = 0  # how many times an action body actually ran (for tests and logs)

    async def run(
        self,
        name: str,
        args: Mapping[str, Any],
        webhook: Webhook | None = None,
        url: str = "",
        *,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """The result of ``name(args)``: computed once, shared by every later attempt.

        For a webhook, ``name`` identifies it, ``url`` is its rendered URL, ``args`` its body
        and ``headers`` its rendered headers (they do not make a request another one).
        """
        key = request_key(name, url, args)
        carried = self._carried.get(key)
        if carried is not None:
            ok, value = carried
            if ok:
                return value
            raise ActionError(str(value))
        future = self._runs.get(key)
        if future is None:
            # The work runs in its own task so that a superseded response cannot cancel it
            # half-way; the next attempt picks up the same task.
            future = asyncio.ensure_future(
                self._execute(name, dict(args), webhook, url, dict(headers or {}))
            )
            self._runs[key] = future
        return await asyncio.shield(future)

    def done(self) -> dict[str, tuple[bool, Any]]:
        """Finished runs by idempotency key: ``(True, result)`` or ``(False, error message)``.

        An action that crashed (a bug, not an :class:`ActionError`) is left out: it is tried
        again where the call goes on. One still running is left out too.
        """
        done = {key.decode(): value for key, value in self._carried.items()}
        for key, future in self._runs.items():
            if not future.done() or future.cancelled():
                continue
            error = future.exception()
            if error is None:
                done[key.decode()] = (True, future.result())
            elif isinstance(error, RuntimeFault):  # a failure the flow routes on
                done[key.decode()] = (False, str(error))
        return done

    def remember(self, done: Mapping[str, tuple[bool, Any]]) -> None:
        """Take over runs another process finished (see :meth:`done`): they are not run again."""
        self._carried.update((key.encode(), value) for key, value in done.items())

    async def _execute(
        self,
        name: str,
        args: dict[str, Any],
        webhook: Webhook | None,
        url: str,
        headers: dict[str, str],
    ) -> Any:
        self.executions += 1
        log.debug("action.run", action=name, call_id=self.call_id)
        if webhook is not None:
            if not any(header.lower() == "idempotency-key" for header in headers):
                headers["Idempotency-Key"] = idempotency_key(self.call_id, name, url, args)
            return await self._webhook(webhook, url, args, headers)
        fn = self.registry.get(name)
        if fn is None:
            raise ActionError(f"no action named {name!r} is registered")
        if "call_id" in inspect.signature(fn).parameters:
            args.setdefault("call_id", self.call_id)
        result = fn(**args)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def _webhook(
        self, webhook: Webhook, url: str, body: dict[str, Any], headers: dict[str, str]
    ) -> Any:
        import aiohttp  # here: checking, drawing or compiling a flow sends no webhook

        session = self._session
        owned = session is None
        if session is None:
            session = aiohttp.ClientSession()
        try:
            timeout = aiohttp.ClientTimeout(total=webhook.timeout)
            async with session.request(
                webhook.method,
                url,
                json=body if webhook.method != "GET" else None,
                headers=headers,
                timeout=timeout,
            ) as response:
                text = await response.text()
                if response.status >= 400:
                    raise ActionError(f"webhook answered HTTP {response.status}")
                return orjson.loads(text) if text.strip() else None
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as exc:
            raise ActionError(f"webhook failed: {type(exc).__name__}") from exc
        finally:
            if owned:
                await session.close()
