"""What the server tells the console's live feed: a snapshot of a call at each of its moments.

A call is published when its socket opens, after each finished turn, when its socket closes
and when it is over. A snapshot is made from the call's state alone (like its record), masked
exactly as ``dialplan calls`` masks a record, so no sensitive value reaches the console. The
console is optional and must never disturb a call: without it nothing is built, and a
snapshot that cannot be made is logged and skipped.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any, cast

import structlog

from engine.agent import summary_of
from engine.console import CallSnapshot, LiveFeed, MemoryLiveFeed
from engine.console.feed import Changes, Status
from engine.records import CallRecord, masked
from engine.records.transcript import with_last_answer

from .store import CallState

log = structlog.get_logger("dialplan.console")


class LivePublisher:
    """Publishes snapshots of calls to a :class:`~engine.console.LiveFeed`."""

    def __init__(self, feed: LiveFeed) -> None:
        self.feed = feed
        self._changes = _changes(feed)

    def changed(self, state: CallState) -> None:
        """The call connected or finished a turn.

        A feed that can is handed a way to make the snapshot, which it makes only when
        someone looks (see :meth:`MemoryLiveFeed.changed` and the shared feed's ``changed``):
        a snapshot holds the whole call, and most turns nobody watches.
        """
        if self._changes is not None:
            at = time.time()
            self._changes.changed(state.call.call_id, lambda: self._made(state, "live", at))
            return
        self._publish(state, "live")

    def socket_closed(self, state: CallState) -> None:
        """The call's socket closed: over if the agent ended it, else it may come back."""
        self._publish(state, "ended" if state.ended_by is not None else "reconnecting")

    def ended(self, state: CallState) -> None:
        """The call is over (its state expired, or the server stops)."""
        self._publish(state, "ended")

    def _publish(self, state: CallState, status: Status) -> None:
        made = self._made(state, status)
        if made is None:
            return
        try:
            self.feed.publish(made)
        except Exception:  # the console must never break a call
            log.exception("console.snapshot_failed", call_id=state.call.call_id)

    @staticmethod
    def _made(state: CallState, status: Status, at: float | None = None) -> CallSnapshot | None:
        try:
            return snapshot(state, status, at)
        except Exception:  # the console must never break a call
            log.exception("console.snapshot_failed", call_id=state.call.call_id)
            return None


def _changes(feed: LiveFeed) -> Changes | None:
    """``feed``, if it makes snapshots only when needed (it has ``changed``)."""
    if isinstance(feed, MemoryLiveFeed):
        # A feed that publishes its own way (a subclass) is given every snapshot.
        return feed if type(feed).publish is MemoryLiveFeed.publish else None
    return cast(Changes, feed) if callable(getattr(feed, "changed", None)) else None


def snapshot(state: CallState, status: Status, updated_at: float | None = None) -> CallSnapshot:
    """The call as the console shows it now, with sensitive values masked.

    ``updated_at``: when the call last changed (default: now).
    """
    summary = summary_of(state.conversation)
    turns = list(state.turns)
    # The answer that went out is not in the platform's transcript until its next request.
    lines = [{"role": u.role, "content": u.content} for u in state.transcript.utterances()]
    transcript = with_last_answer(lines, turns, stored=True)
    shown = masked(
        CallRecord(
            call_id=state.call.call_id,
            started_at=datetime.fromtimestamp(state.started_at, UTC),
            outcome="abandoned",  # not shown: a snapshot has a status instead
            slots=dict(summary.slots),
            sensitive=sorted(summary.sensitive),
            transcript=transcript,
            turns=turns,
        )
    )
    details: dict[str, Any] = dict(state.call.details)
    from_number = details.get("from_number")
    return CallSnapshot(
        call_id=state.call.call_id,
        status=status,
        flow=summary.flow or state.call.flow,
        state=summary.state,
        slots=shown.slots,
        sensitive=tuple(shown.sensitive),
        path=tuple(summary.path),
        transcript=tuple(shown.transcript),
        last_turn=shown.turns[-1].model_dump(mode="json") if shown.turns else None,
        turns=len(turns),
        started_at=state.started_at,
        updated_at=time.time() if updated_at is None else updated_at,
        from_number=str(from_number) if from_number else None,
        ended_by=state.ended_by,
    )
