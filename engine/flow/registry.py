"""The flows of a folder, by name: loaded, checked, compiled, and reloaded when edited.

Calls keep the flow version they started with. When a flow file or one of its templates
changes, the next call that asks for that flow gets a new version; an edit with errors keeps
the last good version serving and is reported (log and readiness) until it is fixed. Older
versions stay findable by their hash (:meth:`FlowRegistry.version`) for as long as a live call
of this process still holds them, so a call that reconnects keeps its version.

Files a rollout serves as candidates (``flows/booking.next.yaml`` names the flow ``booking``
too) are ``skip``-ped: they are no flows of their own. Whoever must know every version compiled
(the server keeps each in the call log) listens on :attr:`FlowRegistry.compiled`.
"""

from __future__ import annotations

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

    def load_all(self) -> list[AuthoringError]:
        """(Re)load every flow file of the folder; returns the errors of the broken ones."""
        errors: list[AuthoringError] = []
        for path in flow_files([self.flows_dir]) if self.flows_dir.is_dir() else []:
            if path.resolve() not in self.skip:
                errors.extend(self._load(path))
        return errors

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
        try:
            compiled = self.compile(path)
        except AuthoringErrors as exc:
            self._broken[path] = exc.errors
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
        self._broken.pop(path, None)
        self._flows[compiled.name] = compiled
        self._versions[compiled.name, compiled.version] = compiled
        return []

    def get(self, name: str) -> CompiledFlow | None:
        """The current version of flow ``name`` (reloaded first if its files changed)."""
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
        return sorted(self._flows)

    def broken(self) -> dict[Path, list[AuthoringError]]:
        """Flow files that did not load, with their errors."""
        return dict(self._broken)

    def __iter__(self) -> Iterator[CompiledFlow]:
        return iter(self._flows.values())
