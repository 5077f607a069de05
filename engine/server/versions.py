"""Every flow version this server serves, kept in the call log with its files' texts.

A record names the version its call ran; keeping that version lets it run again after the
files changed (``dialplan replay``, a rollout naming it as candidate) and shows the flow text
a call ran (``dialplan calls show --flow-text``). Versions are read from disk the moment they
are compiled (a file changed since then is a version of its own, read when it compiles) and
written on the call log's thread, once per version and process.
"""

from __future__ import annotations

import asyncio

import structlog

from engine.flow import CompiledFlow
from engine.flow.source import FlowSource, read_source
from engine.records import CallLog

log = structlog.get_logger("dialplan.records")


class VersionKeeper:
    """A registry listener (:attr:`~engine.flow.registry.FlowRegistry.compiled`) for the log."""

    def __init__(self, call_log: CallLog) -> None:
        self.call_log = call_log
        self._kept: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def __call__(self, flow: CompiledFlow) -> None:
        """Keep ``flow``'s version, unless this process kept it already."""
        if self.call_log.database is None or flow.version in self._kept:
            return
        source = read_source(flow)
        if source is None:
            return  # its files changed since it compiled: that is the next version's to keep
        self._kept.add(flow.version)
        try:
            task = asyncio.get_running_loop().create_task(self._keep(source))
        except RuntimeError:  # no event loop (nothing is served): nothing to keep for
            self._kept.discard(flow.version)
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _keep(self, source: FlowSource) -> None:
        try:
            await self.call_log.keep_version(source)
        except Exception as exc:  # the call log is down: try again when the flow compiles anew
            self._kept.discard(source.version)
            log.warning("flow.version_not_kept", version=source.version, error=str(exc))

    async def drain(self) -> None:
        """Wait for the versions being written now."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
