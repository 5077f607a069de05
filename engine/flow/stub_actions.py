"""Stubbed actions, for ``dialplan chat`` and conversation tests: nothing is sent, nothing runs.

Trying a flow must not POST to a live webhook or book a real table. A
:class:`StubActionRunner` takes an action's place: it records what the action would have been
given (its name and rendered arguments; for a webhook the method, URL and JSON body) and
returns a declared result (``{}`` unless one is declared), raises a declared failure, or runs
the action for real where that is declared (``live``). Everything else is the real runner's:
each action still runs at most once per call and arguments, and a failure is a result the
flow routes on. The server never uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import aiohttp
import orjson

from .actions import ActionError, ActionRegistry, ActionRunner
from .spec import Webhook


@dataclass(frozen=True)
class Stub:
    """What a stubbed action does: return ``result``, fail with ``fail``, or run (``live``).

    ``results`` answers in turn, one per run (the last again after), for an action that a call
    runs more than once with different answers (a recorded call's availability checks).
    """

    result: Any = field(default_factory=dict)
    fail: str | None = None
    live: bool = False
    results: tuple[Any, ...] = ()


@dataclass(frozen=True)
class StubbedCall:
    """One action a stub stood in for: what it would have sent, and what it answered."""

    name: str  # the action's name; a webhook's is ``webhook:<state>:<index>``
    args: Any  # the rendered arguments (a webhook's JSON body)
    method: str | None = None  # a webhook's HTTP method and URL
    url: str | None = None
    result: Any = None
    failed: str | None = None
    live: bool = False

    def describe(self) -> str:
        """One line for a terminal: ``booking.book (stubbed) {...} -> {...}``."""
        target = f"{self.method} {self.url} " if self.method else ""
        outcome = f"failed: {self.failed}" if self.failed else f"-> {_json(self.result)}"
        kind = "ran" if self.live else "stubbed"
        return f"{self.name} ({kind}) {target}{_json(self.args)} {outcome}"


class StubActionRunner(ActionRunner):
    """An :class:`ActionRunner` that stands in for actions (see the module docstring)."""

    def __init__(
        self,
        call_id: str,
        registry: ActionRegistry,
        session: aiohttp.ClientSession | None = None,
        *,
        stubs: Mapping[str, Stub] | None = None,
        calls: list[StubbedCall] | None = None,
        default: Stub | None = None,
    ) -> None:
        super().__init__(call_id, registry, session)
        self.stubs = dict(stubs or {})
        self.default = default or Stub()
        self.calls: list[StubbedCall] = calls if calls is not None else []
        self._answered: dict[str, int] = {}  # runs so far, by name (for ``results``)

    async def _execute(
        self,
        name: str,
        args: dict[str, Any],
        webhook: Webhook | None,
        url: str,
        headers: dict[str, str],
    ) -> Any:
        stub = self.stubs.get(name, self.default)
        method = webhook.method if webhook is not None else None
        target = url if webhook is not None else None
        shown = dict(args)
        if stub.live:
            try:
                result = await super()._execute(name, args, webhook, url, headers)
            except ActionError as exc:
                self.calls.append(StubbedCall(name, shown, method, target, None, str(exc), True))
                raise
            self.calls.append(StubbedCall(name, shown, method, target, result, None, True))
            return result
        if stub.fail is not None:
            self.calls.append(StubbedCall(name, shown, method, target, None, stub.fail))
            raise ActionError(stub.fail)
        result = stub.result
        if stub.results:
            count = self._answered[name] = self._answered.get(name, 0) + 1
            result = stub.results[min(count, len(stub.results)) - 1]
        self.calls.append(StubbedCall(name, shown, method, target, result))
        return result


def stub_runners(
    stubs: Mapping[str, Stub] | None = None,
    calls: list[StubbedCall] | None = None,
    *,
    live: bool = False,
) -> Callable[[str, ActionRegistry], ActionRunner]:
    """A runner factory for :class:`~engine.flow.runner.FlowRunner` (``actions=``).

    ``stubs`` by action name; an action not named returns ``{}``, or runs for real when
    ``live``. Every call is appended to ``calls``.
    """
    default = Stub(live=True) if live else Stub()
    return partial(StubActionRunner, stubs=stubs, calls=calls, default=default)


def _json(value: Any) -> str:
    return orjson.dumps(value, default=str, option=orjson.OPT_SORT_KEYS).decode()
