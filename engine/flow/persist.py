"""A flow call as plain data, so that another process can go on with it.

A snapshot holds what a call needs to continue anywhere: the flow's name and version (a content
hash), the call's :class:`~engine.flow.memory.CallMemory` (state, slots, retries, the return
stack, the path...), the actions already run with their results (so that a booking made on one
host is not made again on another), the actions' log for the call's record, and whether a
state gave up. Everything in it is plain data; :func:`read` checks its shape before a call
trusts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from engine.agent import ActionRun
from engine.errors import RuntimeFault

from .compile import CompiledFlow
from .memory import CallMemory

FORMAT = 1
"""Bumped when the layout changes; a snapshot of another format is not resumed."""


class SnapshotError(RuntimeFault):
    """A snapshot that cannot be read (another format, or damaged)."""


@dataclass(frozen=True)
class Saved:
    """A flow call read back from its snapshot."""

    flow: str
    version: str
    memory: CallMemory
    done: Mapping[str, tuple[bool, Any]]
    """Finished actions by idempotency key: ``(ok, result or error message)``."""
    actions: tuple[tuple[str, ActionRun], ...]
    """The action log: ``(tool call id, run)`` in the order the actions started."""
    gave_up: bool


def write(
    flow: CompiledFlow,
    memory: CallMemory,
    done: Mapping[str, tuple[bool, Any]],
    actions: Mapping[str, ActionRun],
    gave_up: bool,
) -> dict[str, Any]:
    """The snapshot of a flow call (``memory`` as of the end of its last finished turn)."""
    return {
        "format": FORMAT,
        "flow": flow.name,
        "version": flow.version,
        "memory": memory.as_dict(),
        "done": {key: [ok, value] for key, (ok, value) in done.items()},
        "actions": [
            [tool_id, run.name, run.state, run.arguments, run.result, run.ok]
            for tool_id, run in actions.items()
        ],
        "gave_up": gave_up,
    }


def read(snapshot: Mapping[str, Any]) -> Saved:
    """A snapshot made by :func:`write`, checked (raises :class:`SnapshotError`)."""
    if snapshot.get("format") != FORMAT:
        raise SnapshotError(f"a flow snapshot of format {snapshot.get('format')!r} is not {FORMAT}")
    try:
        fields = dict(snapshot["memory"])
        memory = CallMemory(
            state=str(fields["state"]),
            slots=dict(fields.get("slots") or {}),
            retries=int(fields.get("retries") or 0),
            silences=int(fields.get("silences") or 0),
            visits={str(k): int(v) for k, v in (fields.get("visits") or {}).items()},
            returns=[str(s) for s in fields.get("returns") or ()],
            path=[str(s) for s in fields.get("path") or ()],
            entered_at=int(fields.get("entered_at") or 0),
            started=bool(fields.get("started")),
            pending=dict(fields.get("pending") or {}),
            fixing=bool(fields.get("fixing")),
            held=bool(fields.get("held")),
            cancelled=bool(fields.get("cancelled")),
            stopping=bool(fields.get("stopping")),
            heard=int(fields["heard"]) if fields.get("heard") is not None else None,
        )
        done = {str(key): (bool(ok), value) for key, (ok, value) in snapshot["done"].items()}
        actions = tuple(
            (str(tool_id), ActionRun(str(name), str(state), arguments, result, ok))
            for tool_id, name, state, arguments, result, ok in snapshot["actions"]
        )
        return Saved(
            flow=str(snapshot["flow"]),
            version=str(snapshot["version"]),
            memory=memory,
            done=done,
            actions=actions,
            gave_up=bool(snapshot.get("gave_up")),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SnapshotError(f"a damaged flow snapshot ({type(exc).__name__}: {exc})") from None


def give_up_state(flow: CompiledFlow) -> str | None:
    """Where the flow goes when it gives up (``None``: it never does).

    The flow's own ``on_give_up``, else the start state's, else the first one declared in the
    flow. A call whose state no longer exists in its flow ends there.
    """
    if flow.spec.on_give_up:
        return flow.spec.on_give_up
    start = flow.spec.states[flow.spec.start_state]
    if start.on_give_up:
        return start.on_give_up
    return next((s.on_give_up for s in flow.spec.states.values() if s.on_give_up), None)
