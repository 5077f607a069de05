"""Actions in a replay: stubbed, answering what the recorded call's actions answered.

A replay must not book a table or POST to a live webhook again, and it should see the world
as the call saw it: the availability check that said 7 PM was taken says so again. So each
action is stubbed (:class:`~engine.flow.stub_actions.StubActionRunner`) and answers with the
result the recorded call got from the same action with the same arguments (or fails as it
failed). An action the recorded call never ran with those arguments (the new version asks for
something else) answers ``{}``, as in ``dialplan test``, and is listed as unrecorded.
``--live-actions`` runs every action for real instead.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import aiohttp
import orjson

from engine.flow import ActionError, ActionRegistry, ActionRunner, StubActionRunner, StubbedCall
from engine.flow.spec import Webhook


def _key(name: str, args: Any) -> bytes:
    # Arguments as the record keeps them: JSON (dates and numbers as the action got them).
    normal = orjson.loads(orjson.dumps(args, default=str))
    return orjson.dumps([name, normal], option=orjson.OPT_SORT_KEYS)


class RecordedActions(StubActionRunner):
    """A stub runner answering with the recorded results (see the module docstring)."""

    def __init__(
        self,
        call_id: str,
        registry: ActionRegistry,
        session: aiohttp.ClientSession | None = None,
        *,
        recorded: Sequence[Mapping[str, Any]] = (),
        calls: list[StubbedCall] | None = None,
        unrecorded: list[str] | None = None,
    ) -> None:
        super().__init__(call_id, registry, session, calls=calls)
        self.results: dict[bytes, list[Mapping[str, Any]]] = {}
        for run in recorded:
            if run.get("ok") is None:
                continue  # still running when the call was recorded: it has no result
            key = _key(str(run.get("name")), run.get("arguments"))
            self.results.setdefault(key, []).append(run)
        self.unrecorded = unrecorded if unrecorded is not None else []

    async def _execute(
        self,
        name: str,
        args: dict[str, Any],
        webhook: Webhook | None,
        url: str,
        headers: dict[str, str],
    ) -> Any:
        runs = self.results.get(_key(name, args))
        if not runs:
            self.unrecorded.append(name)
            return await super()._execute(name, args, webhook, url, headers)
        run = runs.pop(0) if len(runs) > 1 else runs[0]
        shown = dict(args)
        method = webhook.method if webhook is not None else None
        target = url if webhook is not None else None
        result = run.get("result")
        if run.get("ok") is False:
            error = result.get("error") if isinstance(result, Mapping) else None
            failure = str(error or "failed")
            self.calls.append(StubbedCall(name, shown, method, target, None, failure))
            raise ActionError(failure)
        self.calls.append(StubbedCall(name, shown, method, target, result))
        return result


def recorded_actions(
    recorded: Sequence[Mapping[str, Any]],
    calls: list[StubbedCall] | None = None,
    unrecorded: list[str] | None = None,
) -> Callable[[str, ActionRegistry], ActionRunner]:
    """A runner factory for :class:`~engine.flow.FlowRunner` answering with ``recorded``."""
    return partial(RecordedActions, recorded=recorded, calls=calls, unrecorded=unrecorded)
