"""One WebSocket of one call: the read loop, response ids, and the reply to each request.

The read loop never waits for the model. It answers keepalives at once (ahead of any queued
speech), hands ``update_only`` to the conversation, and for each ``response_required`` /
``reminder_required`` marks that id current, cancels the older generation (which closes its
upstream HTTP stream) and starts a new one. A current response is always closed with
``content_complete: true``, also when the conversation fails; then the caller first hears the
fallback line instead of dead air.

Each request, answered or not, leaves a record on the call's state for the call log
(:mod:`engine.server.turns`); a request the call answered already (asked again on a new socket)
is answered with the same words, not run twice. The call store is told whenever the call
changed (greeting, call details, each turn, each action's result); it saves in the background,
so speech never waits for it.

Besides hanging up (close 1000: the call is over), a session can hand its call off
(:meth:`Session.hand_off`): it closes the connection without a close frame, which the platform
sees as an abnormal close (1006) and answers by dialling the call again, to this server or
another one, where the saved call goes on.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime

import structlog

from engine import tracing
from engine.agent import CallInfo, Greeting, Speech, Turn
from engine.errors import LLMNoAnswer, LLMTimeout, ProtocolError, RuntimeFault
from engine.protocol import (
    NO_CONTROL,
    AgentInterrupt,
    CallControl,
    CallDetails,
    Config,
    PingPong,
    Pong,
    ResponseChunk,
    ResponseRequired,
    SideEvent,
    ToolCallResult,
    UnknownEvent,
    UpdateAgent,
    UpdateOnly,
    parse_event,
)
from engine.records import TurnRecord
from engine.settings import Settings

from . import turns
from .live import LivePublisher
from .metrics import Metrics
from .recording import Recorder
from .sockets import HANGUP, TAKEN_OVER, Phase, Socket, SocketClosed
from .store import CallState, CallStore
from .writer import Writer

__all__ = ["HANGUP", "TAKEN_OVER", "Phase", "Session", "Socket", "SocketClosed"]

log = structlog.get_logger("dialplan.session")

MUST_HEAR = CallControl(no_interruption_allowed=True)


class Session:
    """Serves one socket of a call; see the module docstring."""

    def __init__(
        self,
        socket: Socket,
        call: CallInfo,
        store: CallStore,
        new_state: Callable[[CallInfo], CallState],
        settings: Settings,
        metrics: Metrics,
        recorder: Recorder | None = None,
        live: LivePublisher | None = None,
    ) -> None:
        self.socket = socket
        self.call_id = call.call_id
        self._call = call
        self._store = store
        self._new_state = new_state
        self.settings = settings
        self.metrics = metrics
        self.recorder = recorder
        self.live = live
        self.phase = Phase.CONNECTING
        # The writer's current id is the newest request read on *this* socket: a reconnected
        # socket starts again at 0 because the platform expects a begin message on every socket.
        # A socket that can write a frame without waiting says so with ``send_now``.
        self.writer = Writer(
            socket.send, getattr(socket, "send_now", None), on_stuck=self._not_reading
        )
        self.state: CallState | None = None
        self.log = log.bind(call_id=call.call_id)
        self._generation: asyncio.Task[None] | None = None
        self._greeting: asyncio.Task[None] | None = None
        self._closing: Awaitable[None] | None = None
        self.heard = 0
        """Frames read so far; a watchdog compares it over time to find a silent peer."""
        self._listening = False

    @property
    def latest(self) -> int:
        """The newest response id read on this socket."""
        return self.writer.current

    # -- life cycle ------------------------------------------------------------------------

    async def run(self) -> None:
        """Serve the socket until it closes. Never raises for anything the peer sends."""
        await self.socket.accept()  # first, before any work: the platform allows 7 s
        self.phase = Phase.OPEN
        writer = asyncio.create_task(self.writer.run(), name=f"writer:{self.call_id}")
        try:
            state, resumed = await self._store.open(
                self.call_id, lambda: self._new_state(self._call)
            )
            self.state = state
            state.connections += 1
            state.closed_at = None  # the call goes on
            previous, state.owner = state.owner, self
            if previous is not None:
                previous.take_over()
            self._listen(state)
            self.metrics.connections.labels("resumed" if resumed else "new").inc()
            self.metrics.calls_active.inc()
            self.log.info("call.connected", resumed=resumed, connection=state.connections)
            settings = self.settings
            self.writer.put(
                Config(
                    settings.auto_reconnect,
                    settings.call_details,
                    settings.transcript_with_tool_calls,
                )
            )
            if resumed:
                self._call = state.call  # the details may have come on an earlier socket
            if resumed and state.greeted:
                # The caller heard the greeting on an earlier socket: open this one silently.
                self.writer.put(ResponseChunk(0, "", True))
                if state.agent_config:
                    self.writer.put(UpdateAgent(dict(state.agent_config)))
            elif state.conversation.wants_call_details and not state.call.details:
                self._greeting = asyncio.create_task(self._greet_with_details(state))
            else:
                # Queued now, not from a task of its own: under a burst of calls a new task
                # would wait behind every turn already scheduled.
                self._greet(state)
            if self.live is not None:
                self.live.changed(state)
            await self._read_loop(state)
        finally:
            await self._finish(writer)

    async def _finish(self, writer: asyncio.Task[None]) -> None:
        if self._listening:
            getattr(self.socket, "unlisten")()  # noqa: B009 (listen's other half)
        self.phase = Phase.CLOSING
        for task in (self._generation, self._greeting):
            if task is not None:
                task.cancel()
        state = self.state
        owned = state is not None and state.owner is self
        if state is not None:
            self.metrics.calls_active.dec()
            if owned:
                state.owner = None
        writer.cancel()
        # Wait for the cancelled tasks so their upstream streams are closed (and the turn cut
        # off is recorded) before we return, without swallowing a cancellation aimed at us.
        pending = [t for t in (self._generation, self._greeting, writer) if t is not None]
        await asyncio.shield(asyncio.gather(*pending, return_exceptions=True))
        self.phase = Phase.CLOSED
        if owned and state is not None and state.owner is None:  # nobody took it over since
            state.closed_at = time.time()
            if self.recorder is not None:
                self.recorder.socket_closed(state)
            if self.live is not None:
                self.live.socket_closed(state)
            self._store.release(self.call_id, state)
        self.metrics.stale_dropped.inc(self.writer.stale_dropped)
        self.writer.detach()
        self.log.info("call.socket_closed", frames_sent=self.writer.frames_sent)

    def take_over(self) -> None:
        """A newer socket of the same call took over: stop speaking here and close."""
        self.log.info("call.taken_over")
        if self._generation is not None:
            self._generation.cancel()
        if self._greeting is not None:
            self._greeting.cancel()
        self.writer.discard()
        self.writer.current = -1  # nothing queued from here on is current
        if self._closing is None and self.phase is Phase.OPEN:
            self._closing = asyncio.ensure_future(self._close(TAKEN_OVER, "taken over"))

    async def _close(self, code: int, reason: str) -> None:
        try:
            await self.socket.close(code, reason)
        except Exception as exc:  # the peer may already be gone; nothing left to do
            self.log.debug("call.close_failed", error=repr(exc))

    async def hang_up(self) -> None:
        """End the call on purpose: send what is queued, then close with 1000."""
        await self.writer.drained()
        self.log.info("call.hang_up")
        await self._close(HANGUP, "hang up")

    @property
    def busy(self) -> bool:
        """Whether a turn (or a greeting waiting for call details) is under way."""
        return any(t is not None and not t.done() for t in (self._generation, self._greeting))

    async def settle(self) -> None:
        """Wait for the turn under way (if any) to finish and its words to be sent."""
        for task in (self._greeting, self._generation):
            if task is not None and not task.done():
                await asyncio.wait([task])
        await self.writer.drained()

    def hand_off(self, why: str) -> None:
        """Close without a close frame so that the platform dials the call again (1006).

        The call's state is kept (and saved) as after any dropped connection; the store's
        grace period gives the platform time to come back, here or on another server.
        """
        if self._closing is not None or self.phase is not Phase.OPEN:
            return
        self.log.info("call.handed_off", why=why)
        if self.state is not None:
            self._store.save(self.state)
        self._closing = asyncio.ensure_future(self._abort())

    async def _abort(self) -> None:
        try:
            await self.socket.abort()
        except Exception as exc:  # the peer may already be gone; nothing left to do
            self.log.debug("call.abort_failed", error=repr(exc))

    def _not_reading(self, why: str) -> None:
        """The peer reads nothing we send: drop the connection.

        The call's state is kept, as after any dropped connection, for a platform that dials
        again.
        """
        self.log.warning("call.peer_not_reading", why=why)
        if self._closing is not None or self.phase is not Phase.OPEN:
            return
        if self.state is not None:
            self._store.save(self.state)
        # Not a graceful close: that waits for the peer to read what is queued, for ever.
        drop = getattr(self.socket, "drop", None)
        self._closing = asyncio.ensure_future(drop() if drop is not None else self._abort())

    # -- reading ---------------------------------------------------------------------------

    def _listen(self, state: CallState) -> None:
        """Where the socket can, have text frames handed to :meth:`_heard` as they are read.

        No wake-up of the read loop's task per frame then; the rest (and the socket's end)
        still come through :meth:`_read_loop`.
        """
        listen = getattr(self.socket, "listen", None)
        self._listening = listen is not None and listen(lambda frame: self._heard(state, frame))

    async def _read_loop(self, state: CallState) -> None:
        receive = self.socket.receive
        while True:
            try:
                frame = await receive()
            except SocketClosed:
                return
            self._heard(state, frame)

    def _heard(self, state: CallState, frame: str | bytes) -> None:
        """One frame from the platform; answered (a keepalive) or handed on, never waited on."""
        if self.phase is not Phase.OPEN:
            return  # the socket is closing: nothing read now is acted on
        self.heard += 1
        if isinstance(frame, bytes):
            self.metrics.frames_rejected.inc()
            self.log.warning("frame.binary_ignored", size=len(frame))
            return
        try:
            event = parse_event(frame)
        except ProtocolError as exc:
            self.metrics.frames_rejected.inc()
            self.log.warning("frame.rejected", reason=str(exc), size=len(frame))
            return
        if isinstance(event, PingPong):
            self.writer.put_first(Pong(event.timestamp))
        elif isinstance(event, UpdateOnly):
            state.transcript = event.transcript
            try:
                state.conversation.observe(event.transcript, event.turntaking)
            except Exception:
                self.log.exception("conversation.observe_failed")
        elif isinstance(event, ResponseRequired):
            self._request(state, event)
        elif isinstance(event, CallDetails):
            state.call = self._call = replace(state.call, details=event.call)
            state.details_arrived.set()
            self._store.save(state)
            self.log.debug("call.details", call_type=event.call.get("call_type"))
        elif isinstance(event, UnknownEvent):
            self.log.info("event.unknown", interaction_type=event.interaction_type)

    def _request(self, state: CallState, event: ResponseRequired) -> None:
        response_id = event.response_id
        if response_id <= self.latest and self.latest > 0:
            self.log.info("request.out_of_order", response_id=response_id, latest=self.latest)
            return
        self.writer.current = response_id  # from here on, older chunks are never sent
        state.transcript = event.transcript
        if self._generation is not None:
            self._generation.cancel()
            self.metrics.responses.labels("superseded").inc()
        turn = Turn(response_id, event.transcript.utterances(), state.call, event.reminder)
        answered = turns.answered(state, turn)
        if answered is not None:
            self._replay(answered)
            return
        self._generation = asyncio.create_task(self._respond(state, turn))

    def _replay(self, answered: TurnRecord) -> None:
        """Say again what the call answered to this very request (see the module docstring)."""
        self.log.info("request.replayed", response_id=answered.response_id)
        self.metrics.responses.labels("replayed").inc()
        control = CallControl(end_call=answered.end_call, transfer_number=answered.transfer_number)
        if answered.said:
            self.writer.put(ResponseChunk(answered.response_id, answered.said, False, control))
        self.writer.put(ResponseChunk(answered.response_id, "", True, control))

    # -- speaking --------------------------------------------------------------------------

    async def _greet_with_details(self, state: CallState) -> None:
        try:
            async with asyncio.timeout(self.settings.call_details_wait):
                await state.details_arrived.wait()
        except TimeoutError:
            self.log.info("greeting.without_call_details")
        self._greet(state)

    def _greet(self, state: CallState) -> None:
        conversation = state.conversation
        try:
            greeting = conversation.greeting(state.call)
        except Exception:
            self.log.exception("greeting.failed")
            greeting = Greeting("")
        if self.latest > 0:
            # The caller spoke (and the platform asked for an answer) before the greeting was
            # ready: the begin message is still owed, but saying it now would talk over them.
            greeting = Greeting("")
        self.writer.put(ResponseChunk(0, greeting.text, True, greeting.control))
        state.greeted = True
        state.turns.append(
            TurnRecord(
                response_id=0, kind="greeting", started_at=datetime.now(UTC), said=greeting.text
            )
        )
        self._store.save(state)
        if self.live is not None and self._greeting is not None:
            self.live.changed(state)  # a greeting that waited for the call details

    async def _respond(self, state: CallState, turn: Turn) -> None:
        """Answer one request; traced as one span (:mod:`engine.tracing`), when tracing is on."""
        attributes: dict[str, tracing.AttributeValue] = {
            "dialplan.call_id": self.call_id,
            "dialplan.response_id": turn.response_id,
        }
        with tracing.span("dialplan.turn", attributes) as span:
            turns_before = len(state.turns)
            try:
                await self._answer(state, turn)
            finally:
                if tracing.enabled() and len(state.turns) > turns_before:
                    span.set_attributes(turns.traced(state.turns[-1]))

    async def _answer(self, state: CallState, turn: Turn) -> None:
        response_id = turn.response_id
        writer = self.writer
        control = NO_CONTROL
        answer = turns.Answer(turn)
        try:
            async for part in state.conversation.respond(turn):
                if isinstance(part, Speech):
                    if part.text:
                        if (first := answer.spoke(part.text, part.masked)) is not None:
                            self.metrics.first_speech.observe(first)
                        writer.put(ResponseChunk(response_id, part.text, False, control))
                elif isinstance(part, CallControl):
                    control = control | part
                else:
                    self._side_event(state, part)
        except asyncio.CancelledError:
            # Superseded or the socket is gone: the platform discards this response.
            answer.outcome = "superseded" if self.writer.current != response_id else "cut_off"
            self._record(state, answer, None)
            raise
        except Exception as exc:
            answer.outcome = "fallback"
            answer.error = self._report_failure(exc, response_id)
            if answer.first_speech is None:
                writer.put(ResponseChunk(response_id, self.settings.fallback_line, False, control))
                answer.said.append(self.settings.fallback_line)
                answer.stored.append(self.settings.fallback_line)
        writer.put(ResponseChunk(response_id, "", True, control))
        self.metrics.responses.labels(answer.outcome).inc()
        if self._generation is asyncio.current_task():
            self._generation = None  # done: a later request supersedes nothing
        self._record(state, answer, control)
        if self.live is not None:
            self.live.changed(state)

    def _record(self, state: CallState, answer: turns.Answer, control: CallControl | None) -> None:
        """Keep the turn for the call's record; a transfer that went out is recorded at once.

        ``control`` is ``None`` for a turn that was not answered (superseded, cut off).
        """
        try:
            record = answer.record(state.conversation, control)
        except Exception:  # a conversation's odd trace must not break its call
            self.log.exception("call.turn_not_recorded", response_id=answer.turn.response_id)
            return
        state.turns.append(record)
        self._store.save(state)
        if control is None:
            return
        if self.log.is_enabled_for(logging.DEBUG):
            # Caller speech is personal data: one DEBUG line per answered turn, never at INFO.
            turn = answer.turn
            words = turns.caller_words(turn, record, state.conversation)
            self.log.debug(
                "caller.said", response_id=turn.response_id, reminder=turn.reminder, text=words
            )
        if turns.note_ending(state, control) and self.recorder is not None:
            self.recorder.transferred(state)

    def _report_failure(self, exc: Exception, response_id: int) -> str:
        """Log and count a failed turn; returns what went wrong, for the call's record."""
        if isinstance(exc, RuntimeFault):
            kind = (
                "timeout"
                if isinstance(exc, LLMTimeout)
                else "no_answer"
                if isinstance(exc, LLMNoAnswer)
                else "error"
            )
            self.metrics.llm_failures.labels(kind).inc()
            self.log.error("response.failed", response_id=response_id, error=str(exc))
            return str(exc)
        self.log.error("response.crashed", response_id=response_id, exc_info=exc)
        return f"the agent crashed ({type(exc).__name__})"

    def _side_event(self, state: CallState, event: SideEvent) -> None:
        if isinstance(event, UpdateAgent):
            # Remembered so that a reconnected socket gets the same settings again.
            state.agent_config.update(event.agent_config)
        elif isinstance(event, ToolCallResult):
            # An action finished: saved now, so that a call moving on cannot run it again.
            self._store.save(state)
        self.writer.put(event)

    # -- API for code outside the read loop ------------------------------------------------

    def send(self, event: SideEvent) -> None:
        """Send a bookkeeping, ``update_agent`` or ``metadata`` event on this socket."""
        if self.state is not None:
            self._side_event(self.state, event)
            self._store.save(self.state)

    def interrupt(self, text: str, control: CallControl = MUST_HEAR) -> int:
        """Make the agent say ``text`` now, cutting in; returns the new ``interrupt_id``.

        The platform drops any response in flight, so the current generation is stopped too.
        """
        state = self.state
        if state is None:
            raise RuntimeError("the session has not started")
        if self._generation is not None:
            self._generation.cancel()
        state.interrupt_id += 1
        self.writer.put(AgentInterrupt(state.interrupt_id, text, True, control))
        self._store.save(state)
        return state.interrupt_id
