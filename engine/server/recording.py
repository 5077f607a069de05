"""When a call's record is written: at a transfer, when the agent ends it, when it expires.

The record is made from the call's state alone (:class:`~engine.server.store.CallState`: the
call, its conversation's summary, the turns the sessions recorded, the last transcript), so it
does not matter which socket or process saw the call last. A record is written once per call
end; a call that comes back (a reconnect after the agent's hang-up) is written again, replacing
the earlier record.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import structlog

from engine.agent import summary_of
from engine.records import CALL_ENDED, CALL_TRANSFERRED, CallFacts, CallLog, outcome

from .metrics import Metrics
from .store import CallState

log = structlog.get_logger("dialplan.records")


RolloutOf = Callable[[str, str | None, str | None], dict[str, Any] | None]
"""What a call's record says of its rollout, from its call id, flow and version."""


class Recorder:
    """Hands a call's facts to the call log at the moments its call ends."""

    def __init__(self, call_log: CallLog, metrics: Metrics | None = None) -> None:
        self.call_log = call_log
        self.metrics = metrics
        self.rollout_of: RolloutOf | None = None
        """Set by a server whose agent serves rollouts (the agent knows each call's arm)."""

    def transferred(self, state: CallState) -> None:
        """The transfer line went out: the record so far, sent at once (``call.transferred``)."""
        self._write(state, CALL_TRANSFERRED, ended=False)

    def socket_closed(self, state: CallState) -> None:
        """The call's socket closed; if the agent had ended the call, the call is over now."""
        if state.ended_by is not None:
            self.ended(state)

    def ended(self, state: CallState) -> None:
        """The call is over (or expired, or the server stops): its final record."""
        if state.recorded == len(state.turns):
            return  # written already, and nothing happened since
        first = state.recorded < 0
        state.recorded = len(state.turns)
        facts = self._write(state, CALL_ENDED, ended=True)
        if first and facts is not None and self.metrics is not None:
            self.metrics.call_ended(facts, outcome(facts))

    def _write(self, state: CallState, event: str, *, ended: bool) -> CallFacts | None:
        try:
            summary = summary_of(state.conversation)
            rollout = None
            if self.rollout_of is not None and summary.flow is not None:
                rollout = self.rollout_of(state.call.call_id, summary.flow, summary.flow_version)
            facts = CallFacts(
                call=state.call,
                summary=summary,
                turns=tuple(state.turns),
                transcript=state.transcript.utterances(),
                spans=state.transcript.spans(),
                started_at=state.started_at,
                ended_at=_end_of(state) if ended else None,
                ended_by=state.ended_by,
                transfer_number=state.transfer_number,
                rollout=rollout,
            )
        except Exception:  # a conversation's summary failed: the call's record cannot be made
            log.exception("call.record_lost", call_id=state.call.call_id)
            return None
        self.call_log.write(facts, event)
        return facts


def _end_of(state: CallState) -> float:
    """When the call ended: its last socket's close, else now (the server lets go of it).

    A caller who hung up ended the call then, not when the grace period for a reconnect ran out.
    """
    return state.closed_at if state.closed_at is not None else time.time()
