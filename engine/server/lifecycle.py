"""The live calls of one server process: finding silent ones, and handing all off at a stop.

Two moments end a socket without ending its call. Both save the call and drop the connection
without a close frame (:meth:`~engine.server.session.Session.hand_off`): the platform reads a
close code of 1000 as the agent hanging up, a close frame without a code (1005) as a failed
open and any other code as a failed call, and dials again only after an abnormal close (1006:
no close frame at all). The call then goes on where it lands, from its
saved state: on another worker or host with the shared store, or here again within the grace
period.

* **A silent platform.** A call whose platform has sent nothing (no ping, no event) for
  ``DIALPLAN_IDLE_TIMEOUT`` seconds is handed off: a half-open connection is found and the
  platform, if it is still there, dials again. One task per process looks at every call a few
  times per timeout; a call only counts the frames it reads.
* **A stopping server** (SIGTERM: a deploy, a restart). New calls are refused (503) and
  ``/readyz`` says so; each call whose turn is under way finishes it (up to
  ``DIALPLAN_DRAIN_TIMEOUT`` seconds), is saved, and is handed off.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

import structlog

from .session import Session
from .store import CallStore

log = structlog.get_logger("dialplan.server")


class Calls:
    """The sessions this process serves, its idle watchdog and its drain."""

    def __init__(self, store: CallStore, idle_timeout: float, drain_timeout: float) -> None:
        self.store = store
        self.idle_timeout = idle_timeout
        self.drain_timeout = drain_timeout
        self.sessions: set[Session] = set()
        self.draining = False
        self._heard: dict[Session, tuple[int, float]] = {}
        self._watch: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self.sessions)

    def add(self, session: Session) -> None:
        """A socket is being served."""
        self.sessions.add(session)

    def discard(self, session: Session) -> None:
        """A socket is done: let go of it at once.

        It holds the call's buffers, and the memory of ended calls is handed back to the system
        when the last one ends (:mod:`engine.server.memory`): nothing may keep it past that.
        """
        self.sessions.discard(session)
        self._heard.pop(session, None)

    def start(self) -> None:
        """Start the idle watchdog (if there is an idle timeout)."""
        if self.idle_timeout > 0 and self._watch is None:
            self._watch = asyncio.create_task(self._watch_idle(), name="calls:idle")

    async def stop(self) -> None:
        """Stop the watchdog."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
            self._watch = None

    # -- silent platforms --------------------------------------------------------------------

    async def _watch_idle(self) -> None:
        # A few looks per timeout: a silent call is found between 1 and 1.25 timeouts.
        every = min(self.idle_timeout / 4, 5.0)
        while True:
            await asyncio.sleep(every)
            self.check_idle(time.monotonic())

    def check_idle(self, now: float) -> list[Session]:
        """Hand off every call silent for the idle timeout; returns them."""
        silent = []
        heard = {}
        for session in self.sessions:
            count, since = self._heard.get(session, (-1, now))
            if session.heard != count:
                count, since = session.heard, now
            elif now - since >= self.idle_timeout:
                silent.append(session)
            heard[session] = (count, since)
        self._heard = heard
        for session in silent:
            log.warning("call.silent", call_id=session.call_id, seconds=self.idle_timeout)
            session.hand_off("the platform sent nothing")
        return silent

    # -- stopping ----------------------------------------------------------------------------

    async def drain(self) -> None:
        """Refuse new calls, let turns under way finish, save every call, hand every one off."""
        self.draining = True
        sessions = list(self.sessions)
        log.info("server.draining", calls=len(sessions), timeout=self.drain_timeout)
        if not sessions:
            return
        busy = [s for s in sessions if s.busy]
        if busy:
            try:
                async with asyncio.timeout(self.drain_timeout):
                    await asyncio.gather(*(s.settle() for s in busy))
            except TimeoutError:
                unfinished = sum(1 for s in busy if s.busy)
                log.warning("server.drain_timeout", turns_cut_off=unfinished)
        for session in sessions:
            if session.state is not None:
                self.store.save(session.state)
        try:
            async with asyncio.timeout(self.drain_timeout + 2):
                await self.store.flush()
        except TimeoutError:
            log.error("server.calls_unsaved", store=self.store.health())
        for session in sessions:
            session.hand_off("the server is stopping")
        log.info("server.drained", calls=len(sessions))
