"""The flows of a folder, by name: loaded, checked, compiled, and reloaded when edited.

Calls keep the flow version they started with. When a flow file or one of its templates
changes, the next call that asks for that flow gets a new version; an edit with errors keeps
the last good version serving and is reported (log and readiness) until it is fixed. Older
versions stay findable by their hash (:meth:`FlowRegistry.version`) for as long as a live call
of this process still holds them, so a call that reconnects keeps its version.

The folder is watched the same cheap way (its modification time, looked at whenever a flow is
asked for): a flow file added while serving takes calls from then on, and one removed takes no
new calls (live calls keep their version). A file that does not load is tried again when it
changes, or when the prompts change (a new flow's prompt may be written after it).

Files a rollout serves as candidates (``flows/booking.next.yaml`` names the flow ``booking``
too) are ``skip``-ped: they are no flows of their own. Whoever must know every version compiled
(the server keeps each in the call log) listens on :attr:`FlowRegistry.compiled`.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable, Iterable, Iterator
from dataclasses import replace
from pathlib import Path

from jinja2.sandbox import SandboxedEnvironment

from engine._lazy import logger
from engine.errors import AuthoringError, AuthoringErrors, Location

from .compile import CompiledFlow, compile_flow, file_mtimes
from .load import load_flow
from .parse import flow_files
from .plugins import Extensions

log = logger("dialplan.flows")

RETRY_BROKEN = 1.0
"""Seconds between looks at whether the prompts changed under a file that does not load."""


class FlowRegistry:
    """The flows of one folder, by name; edited files are reloaded for new calls."""

    def __init__(
        self,
        flows_dir: Path,
        env: SandboxedEnvironment,
        extensions: Extensions,
        skip: Iterable[Path] = (),
    ) -> None:
        self.flows_dir = flows_dir
        self.env = env
        self.extensions = extensions
        self.skip = frozenset(path.resolve() for path in skip)
        """Flow files of the folder that are no flows of their own (rollout candidates)."""
        self.compiled: list[Callable[[CompiledFlow], None]] = []
        """Called with every version compiled (a listener's failure is only logged)."""
        self._flows: dict[str, CompiledFlow] = {}
        self._broken: dict[Path, list[AuthoringError]] = {}
        # Every version compiled, as long as anything (a live call) holds it.
        self._versions: weakref.WeakValueDictionary[tuple[str, str], CompiledFlow] = (
            weakref.WeakValueDictionary()
        )
        self._folder_mtime: float | None = None  # when the folder was last listed
        # A file that does not load, and the times of it and of the prompts when it was tried.
        self._broken_seen: dict[Path, tuple[float, float]] = {}
        self._prompts_mtime = -1.0  # the prompts' newest time, taken before loading anything
        self._next_retry = 0.0

    def load_all(self) -> list[AuthoringError]:
        """(Re)load every flow file of the folder; returns the errors of the broken ones."""
        self._folder_mtime = _mtime(self.flows_dir)
        self._prompts_mtime = self._prompts_newest()
        errors: list[AuthoringError] = []
        for path in self._listed():
            errors.extend(self._load(path))
        return errors

    def _listed(self) -> list[Path]:
        """The flow files of the folder, less a rollout's candidates (no flows of their own)."""
        files = flow_files([self.flows_dir]) if self.flows_dir.is_dir() else []
        return [path for path in files if path.resolve() not in self.skip]

    def _sync(self) -> None:
        """Take in flow files added to the folder, let go of removed ones, retry broken ones."""
        if self._folder_mtime is None:
            return  # never loaded as a folder (a command opening one file)
        mtime = _mtime(self.flows_dir)
        if mtime != self._folder_mtime:
            self._folder_mtime = mtime
            self._prompts_mtime = self._prompts_newest()
            listed = set(self._listed())
            for name, flow in list(self._flows.items()):
                if flow.loaded.path not in listed:
                    del self._flows[name]  # live calls hold their version; new calls are refused
                    log.info("flow.removed", flow=name, file=str(flow.loaded.path))
            for path in list(self._broken):
                if path not in listed:
                    self._forget_broken(path)
            known = {flow.loaded.path for flow in self._flows.values()} | set(self._broken)
            for path in sorted(listed - known):
                if not self._load(path):
                    log.info("flow.added", flow=path.stem, file=str(path))
        self._retry_broken()

    def _retry_broken(self) -> None:
        if not self._broken or time.monotonic() < self._next_retry:
            return
        self._next_retry = time.monotonic() + RETRY_BROKEN
        self._prompts_mtime = self._prompts_newest()
        serving = {flow.loaded.path for flow in self._flows.values()}
        for path in list(self._broken):
            # A serving flow's edit with errors is get()'s to retry (when its files change).
            if path not in serving and self._broken_seen.get(path) != self._stamp(path):
                self._load(path)

    def _stamp(self, path: Path) -> tuple[float, float]:
        """What a retry of ``path`` compares: its time, and the prompts' (taken earlier)."""
        return (_mtime(path), self._prompts_mtime)

    def _prompts_newest(self) -> float:
        return _newest([Path(p) for p in getattr(self.env.loader, "searchpath", [])])

    def _forget_broken(self, path: Path) -> None:
        self._broken.pop(path, None)
        self._broken_seen.pop(path, None)

    def compile(self, path: Path) -> CompiledFlow:
        """Load, check and compile one flow file (raises :class:`AuthoringErrors`).

        Whatever goes wrong while loading one file is that file's error: nothing a flow file
        or template holds may escape as another exception, take down a command or the server,
        or disturb another flow.
        """
        try:
            loaded = load_flow(path, self.env, self.extensions)
            # mtimes first, then compile: an edit saved meanwhile is seen as a change next time.
            mtimes = file_mtimes(loaded.files)
            compiled = compile_flow(loaded, self.env, self.extensions, mtimes)
        except AuthoringErrors:
            raise
        except AuthoringError as exc:
            raise AuthoringErrors([exc]) from None
        except Exception as exc:  # a check that missed something: still only this file's error
            log.debug("flow.load_crashed", file=str(path), exc_info=exc)  # for developers
            error = AuthoringError(f"cannot load: {type(exc).__name__}: {exc}", Location(str(path)))
            raise AuthoringErrors([error]) from None
        for listener in self.compiled:
            try:
                listener(compiled)
            except Exception as exc:  # a listener's trouble is not the flow's
                log.warning("flow.listener_failed", flow=compiled.name, error=repr(exc))
        return compiled

    def _load(self, path: Path) -> list[AuthoringError]:
        stamp = self._stamp(path)  # before reading: a change made meanwhile is seen as one
        try:
            compiled = self.compile(path)
        except AuthoringErrors as exc:
            self._broken[path] = exc.errors
            self._broken_seen[path] = stamp
            return exc.errors
        existing = self._flows.get(compiled.name)
        if existing is not None and existing.loaded.path != path:
            error = AuthoringError(
                f"flow {compiled.name!r} is also defined in {existing.loaded.path}",
                Location(str(path), compiled.loaded.line("flow")),
                hint="flow names must differ: calls choose flows by name",
            )
            self._broken[path] = [error]
            return [error]
        self._forget_broken(path)
        self._flows[compiled.name] = compiled
        self._versions[compiled.name, compiled.version] = compiled
        return []

    def get(self, name: str) -> CompiledFlow | None:
        """The current version of flow ``name`` (reloaded first if its files changed)."""
        self._sync()
        flow = self._flows.get(name)
        if flow is not None and file_mtimes(flow.loaded.files) != flow.mtimes:
            errors = self._load(flow.loaded.path)
            if errors:
                log.error(
                    "flow.reload_failed",
                    flow=name,
                    errors=[str(e) for e in errors],
                    kept_version=flow.version,
                )
                # Keep serving the last good version; stop re-checking until it changes again.
                self._flows[name] = replace(flow, mtimes=file_mtimes(flow.loaded.files))
            else:
                log.info("flow.reloaded", flow=name, version=self._flows[name].version)
        return self._flows.get(name)

    def version(self, name: str, version: str) -> CompiledFlow | None:
        """Version ``version`` of flow ``name``, if this process has it (current, or in use)."""
        current = self.get(name)
        if current is not None and current.version == version:
            return current
        return self._versions.get((name, version))

    def adopt(self, flow: CompiledFlow) -> None:
        """Make a version compiled elsewhere (a rollout's candidate) findable by :meth:`version`.

        Kept for as long as its owner (or a live call) holds it, like the registry's own.
        """
        self._versions[flow.name, flow.version] = flow

    def names(self) -> list[str]:
        """The names of the flows that loaded."""
        self._sync()
        return sorted(self._flows)

    def broken(self) -> dict[Path, list[AuthoringError]]:
        """Flow files that did not load, with their errors."""
        self._sync()
        return dict(self._broken)

    def __iter__(self) -> Iterator[CompiledFlow]:
        self._sync()
        return iter(list(self._flows.values()))


def _mtime(path: Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return -1.0


def _newest(folders: list[Path]) -> float:
    """The newest modification time of anything under ``folders`` (-1 when empty)."""
    newest = -1.0
    for folder in folders:
        for root, dirs, files in os.walk(folder):
            for name in (*dirs, *files):
                newest = max(newest, _mtime(Path(root) / name))
    return newest
