"""Serving with hypercorn: one process, or a supervisor and its workers; stopping cleanly.

``dialplan serve`` runs the app in its own process with one worker, and with ``--workers N`` a
supervisor that shares the listening socket with N worker processes. The supervisor starts a
new worker whenever one exits unexpectedly (killed, crashed): with the shared call store the
calls of the one that died go on in the others when the platform dials them again, so the
server as a whole does not stop for one worker (hypercorn's own supervisor stops them all).

On SIGTERM or SIGINT every worker drains (:mod:`engine.server.lifecycle`): new calls are
refused, turns under way finish up to ``DIALPLAN_DRAIN_TIMEOUT``, every call is saved and
handed off so that the platform dials it again (another instance, with the shared store),
then hypercorn stops. A worker drains on the signal itself too, so a service manager that
signals every process at once (systemd's default) stops it cleanly as well.

With several workers, metrics go through Prometheus's multiprocess mode: a fresh folder per
start, given to the workers in ``PROMETHEUS_MULTIPROC_DIR`` and removed at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import multiprocessing
import os
import shutil
import signal
import tempfile
import time
from collections.abc import Awaitable, Callable
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event
from typing import Any

import structlog
from hypercorn.asyncio.run import worker_serve
from hypercorn.config import Config, Sockets
from hypercorn.utils import wrap_app

from .metrics import MULTIPROCESS_DIR

log = structlog.get_logger("dialplan.server")

RESTARTS = 5
"""Workers that may exit within :data:`RESTART_WINDOW` seconds before the supervisor gives up
(a worker that dies as it starts would otherwise be restarted forever)."""
RESTART_WINDOW = 30.0


def bind(config: Config) -> Sockets:
    """The sockets of ``config.bind``, bound (not yet listening); raises :class:`OSError`.

    Bound once, before the server says where it listens, and served by every worker: so without
    ``SO_REUSEPORT`` (hypercorn sets it for ``workers > 1``), and a second server on the same
    port is refused instead of quietly taking half of the calls.
    """
    workers, config.workers = config.workers, 1
    try:
        return config.create_sockets()
    finally:
        config.workers = workers


def serve(
    config: Config, workers: int, stop_within: float = 60.0, sockets: Sockets | None = None
) -> int:
    """Serve the app (settings from the environment); returns the exit code.

    ``stop_within``: seconds the workers get to drain and stop once asked, before they are
    killed. ``sockets``: already bound (:func:`bind`); by default bound here.
    """
    if sockets is None:
        sockets = bind(config)
    if workers <= 1:
        run_worker(config, sockets)
        return 0
    return Supervisor(config, workers, stop_within).run(sockets)


def run_worker(config: Config, sockets: Sockets | None = None, stop: Event | None = None) -> None:
    """One worker: the app under hypercorn until SIGTERM, SIGINT or ``stop`` (the supervisor's)."""
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        uvloop.run(_serve(config, sockets, stop))
    else:
        asyncio.run(_serve(config, sockets, stop))


async def _serve(config: Config, sockets: Sockets | None, stop: Event | None) -> None:
    from .app import create_app, drain  # in the worker process: settings from its environment

    app = create_app()
    asked = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, asked.set)

    async def stopping() -> None:
        waiting: list[asyncio.Future[Any]] = [asyncio.ensure_future(asked.wait())]
        if stop is not None:
            waiting.append(asyncio.ensure_future(_until_set(stop)))
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
        for task in waiting:
            task.cancel()
        await drain(app)  # then hypercorn stops listening and waits for what is left

    trigger: Callable[..., Awaitable[None]] = stopping
    wrapped = wrap_app(app, config.wsgi_max_body_size, "asgi")
    await worker_serve(wrapped, config, sockets=sockets, shutdown_trigger=trigger)


async def _until_set(event: Event) -> None:
    # A multiprocessing Event cannot be awaited; waiting for it in a thread would keep the
    # loop from closing. Polled, ten times a second.
    while not event.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.1)


class Supervisor:
    """Keeps ``workers`` worker processes serving one socket until it is asked to stop."""

    def __init__(self, config: Config, workers: int, stop_within: float = 60.0) -> None:
        self.config = config
        self.workers = workers
        self.stop_within = stop_within
        self.context = multiprocessing.get_context("spawn")
        self.stop = self.context.Event()
        self.processes: list[BaseProcess] = []
        self.stopping: float | None = None
        """When the supervisor was asked to stop (monotonic), if it was."""
        self._exits: list[float] = []

    def run(self, sockets: Sockets | None = None) -> int:
        """Serve ``sockets`` (default: bound here) until SIGTERM or SIGINT; the exit code."""
        if sockets is None:
            sockets = bind(self.config)
        metrics = tempfile.mkdtemp(prefix="dialplan-metrics-")
        os.environ[MULTIPROCESS_DIR] = metrics  # the workers inherit it
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._ask_to_stop)
        code = 0
        try:
            for _ in range(self.workers):
                self._start(sockets)
            while self.processes:
                wait([p.sentinel for p in self.processes], timeout=1.0)
                if not self._reap(sockets):
                    code = 1
                    self._ask_to_stop()
                if self.stopping and time.monotonic() - self.stopping > self.stop_within:
                    log.error("server.workers_killed", workers=len(self.processes))
                    for process in self.processes:
                        process.kill()
                    self.stop_within = float("inf")  # once
        finally:
            for process in self.processes:  # only left if this process itself failed
                process.kill()
            for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
                sock.close()
            shutil.rmtree(metrics, ignore_errors=True)
            os.environ.pop(MULTIPROCESS_DIR, None)
        return code

    def _ask_to_stop(self, *_: Any) -> None:
        if self.stopping is None:
            log.info("server.stopping", workers=len(self.processes))
            self.stopping = time.monotonic()
        self.stop.set()

    def _start(self, sockets: Sockets) -> None:
        process = self.context.Process(
            target=run_worker,
            kwargs={"config": self.config, "sockets": sockets, "stop": self.stop},
            name="dialplan-worker",
        )
        process.start()
        self.processes.append(process)
        log.info("server.worker_started", pid=process.pid)

    def _reap(self, sockets: Sockets) -> bool:
        """Replace workers that exited; ``False`` when they keep dying (give up)."""
        from prometheus_client import multiprocess

        for process in [p for p in self.processes if p.exitcode is not None]:
            self.processes.remove(process)
            process.join()
            if process.pid is not None:
                # Its live gauges (calls with an open socket) no longer count.
                with contextlib.suppress(OSError):
                    # prometheus_client leaves this one untyped.
                    multiprocess.mark_process_dead(process.pid)  # type: ignore[no-untyped-call]
            if self.stopping is not None:
                continue
            log.error("server.worker_exited", pid=process.pid, exit_code=process.exitcode)
            now = time.monotonic()
            self._exits = [t for t in self._exits if now - t < RESTART_WINDOW] + [now]
            if len(self._exits) > RESTARTS:
                log.error("server.workers_keep_exiting", exits=len(self._exits))
                return False
            self._start(sockets)
        return True
