"""The flow agent with rollouts: a share of each flow's new calls gets its candidate version.

:class:`RolloutAgent` is the server's :class:`~engine.flow.FlowAgent` plus the project file
(:mod:`engine.rollout.project_file`). A call is bound to its flow as before; where the project
file declares a rollout of that flow, the call's arm (:func:`~engine.rollout.assign.arm_of`, a
hash of its call id) decides between the flow's own version and the candidate. The call keeps
that version to its end, also across a reconnect or a move to another host (the candidate's
versions are findable by the registry, so a resumed call finds its own).

Like flow files, the project file and a candidate file are read again when they change: new
calls follow a changed share, a promotion or a rollback at once, calls under way keep their
version. An edit with errors keeps the last good rollouts (logged, ``project.reload_failed``);
a candidate that does not load sends its calls to the stable version (logged, shown by
``/readyz``, and said in each record's ``rollout.note``).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any

from engine._lazy import logger
from engine.agent import CallInfo
from engine.errors import AuthoringErrors
from engine.flow import ActionRegistry, ActionRunner, CompiledFlow, FlowAgent, FlowConversation
from engine.flow.compile import file_mtimes
from engine.flow.persist import SnapshotError
from engine.flow.persist import read as read_snapshot
from engine.flow.registry import FlowRegistry
from engine.llm import ChatModel

from .assign import Arm, Assignment, arm_of
from .project_file import ProjectFile, Rollout, load_project_file

log = logger("dialplan.rollout")

REMEMBERED = 50_000
"""Assignments of the newest calls kept in memory, for their records (older ones are
recomputed from the call id, which gives the same arm)."""


@dataclass
class _Candidate:
    """A rollout's candidate as loaded: the version serving, or why none does."""

    rollout: Rollout
    flow: CompiledFlow | None = None
    errors: list[str] = field(default_factory=list)


class RolloutAgent(FlowAgent):
    """A :class:`FlowAgent` that serves rollouts' candidates to their share of calls."""

    def __init__(
        self,
        registry: FlowRegistry,
        model: ChatModel | None,
        default_flow: str | None,
        project_file: ProjectFile,
        *,
        open_version: Callable[[str], CompiledFlow | None] = lambda _version: None,
        today: Callable[[], date] | None = None,
        actions: Callable[[str, ActionRegistry], ActionRunner] = ActionRunner,
        time_zone: str = "UTC",
    ) -> None:
        super().__init__(
            registry, model, default_flow, today=today, actions=actions, time_zone=time_zone
        )
        self.project_file = project_file
        self.open_version = open_version
        """A version the call log keeps, compiled (``None``: not kept, or no call log)."""
        self._stamp = _mtime(project_file.path)
        self._candidates: dict[str, _Candidate] = {}
        self._kept: dict[str, CompiledFlow] = {}  # every candidate version served, by version
        self._assigned: OrderedDict[str, Assignment] = OrderedDict()
        self.refresh()

    # -- the project file and the candidates -----------------------------------------------

    def rollouts(self) -> Mapping[str, Rollout]:
        """The rollouts in force now (the project file read again if it changed)."""
        stamp = _mtime(self.project_file.path)
        if stamp != self._stamp:
            self._stamp = stamp
            try:
                found = load_project_file(self.project_file.path, self.registry.names())
            except AuthoringErrors as exc:
                log.error(
                    "project.reload_failed",
                    file=str(self.project_file.path),
                    errors=[str(e) for e in exc.errors],
                )
            else:
                log.info(
                    "project.reloaded", rollouts=[r.as_json() for r in found.rollouts.values()]
                )
                self.project_file = found
        return self.project_file.rollouts

    def refresh(self) -> None:
        """Load every rollout's candidate now (a server does this before it takes calls)."""
        for rollout in self.rollouts().values():
            self._candidate(rollout)

    def candidates(self) -> list[CompiledFlow]:
        """The candidate versions serving now."""
        return [held.flow for held in self._candidates.values() if held.flow is not None]

    def _candidate(self, rollout: Rollout) -> _Candidate:
        """The candidate of ``rollout``, compiled again when its file changed."""
        held = self._candidates.get(rollout.flow)
        if held is None or held.rollout != rollout:
            held = self._candidates[rollout.flow] = _Candidate(rollout)
            self._load(held)
        elif rollout.candidate_file is not None and (
            held.flow is None or file_mtimes(held.flow.loaded.files) != held.flow.mtimes
        ):
            self._load(held)
        return held

    def _load(self, held: _Candidate) -> None:
        rollout = held.rollout
        try:
            if rollout.candidate_file is not None:
                flow: CompiledFlow | None = self.registry.compile(rollout.candidate_file)
            else:
                assert rollout.candidate_version is not None
                flow = self._kept.get(rollout.candidate_version) or self.open_version(
                    rollout.candidate_version
                )
                if flow is None:
                    raise _Missing(f"the call log keeps no version {rollout.candidate_version}")
        except AuthoringErrors as exc:
            self._failed(held, [str(error) for error in exc.errors])
            return
        except _Missing as exc:
            self._failed(held, [str(exc)])
            return
        assert flow is not None
        if flow.name != rollout.flow:
            self._failed(held, [f"the candidate is flow {flow.name!r}, not {rollout.flow!r}"])
            return
        if held.flow is None or held.flow.version != flow.version:
            log.info(
                "rollout.candidate_loaded",
                flow=rollout.flow,
                candidate=rollout.candidate,
                version=flow.version,
                share=rollout.share,
            )
        held.flow, held.errors = flow, []
        self._kept[flow.version] = flow
        self.registry.adopt(flow)  # a call resumed on this process finds its version

    def _failed(self, held: _Candidate, errors: list[str]) -> None:
        held.errors = errors
        if held.flow is not None:
            # Keep serving the last good candidate; stop re-checking until it changes again.
            held.flow = _restamped(held.flow)
        log.error(
            "rollout.candidate_broken",
            flow=held.rollout.flow,
            candidate=held.rollout.candidate,
            errors=errors,
            kept_version=held.flow.version if held.flow else None,
        )

    # -- calls -----------------------------------------------------------------------------

    def choose(self, call: CallInfo) -> CompiledFlow | None:
        """The flow for a call, and within it the rollout's arm (see the module docstring)."""
        flow = super().choose(call)
        if flow is None:
            return None
        rollout = self.rollouts().get(flow.name)
        if rollout is None:
            return flow
        arm: Arm = arm_of(flow.name, call.call_id, rollout.share)
        note = None
        chosen = flow
        if arm == "candidate":
            candidate = self._candidate(rollout).flow
            if candidate is not None:
                chosen = candidate
            else:
                arm, note = "stable", "the candidate does not load"
        self._remember(
            call.call_id, Assignment(arm, rollout.share, rollout.candidate, chosen.version, note)
        )
        return chosen

    def resume(self, call: CallInfo, snapshot: Mapping[str, Any]) -> FlowConversation:
        """Go on with a call on its own version, a candidate's too (:meth:`FlowAgent.resume`)."""
        self.refresh()  # this process may not have served the candidate yet
        conversation = super().resume(call, snapshot)
        try:
            saved = read_snapshot(snapshot) if snapshot else None
        except SnapshotError:
            saved = None
        if saved is not None and call.call_id not in self._assigned:
            found = self.rollout_of(call.call_id, saved.flow, saved.version)
            if found is not None:
                self._remember(call.call_id, _assignment(found, saved.version))
        return conversation

    def rollout_of(
        self, call_id: str, flow: str | None, version: str | None
    ) -> dict[str, Any] | None:
        """What the record of a call says of its rollout (``None``: its flow had none).

        The arm remembered when the call was bound; for a call this process did not bind (it
        came from another host), the arm its version tells.
        """
        assigned = self._assigned.get(call_id)
        if assigned is not None and assigned.version == version:
            return assigned.as_json()
        rollout = self.rollouts().get(flow or "")
        if rollout is None or version is None:
            return None
        candidate = self._candidates.get(rollout.flow)
        served = {v for v, f in self._kept.items() if f.name == rollout.flow}
        if candidate is not None and candidate.flow is not None:
            served.add(candidate.flow.version)
        arm: Arm = "candidate" if version in served else "stable"
        return Assignment(arm, rollout.share, rollout.candidate, version).as_json()

    def _remember(self, call_id: str, assignment: Assignment) -> None:
        self._assigned[call_id] = assignment
        self._assigned.move_to_end(call_id)
        while len(self._assigned) > REMEMBERED:
            self._assigned.popitem(last=False)

    # -- readiness -------------------------------------------------------------------------

    def report(self) -> list[dict[str, Any]]:
        """Each flow's state (see :meth:`FlowAgent.report`), with its rollout and candidate.

        A candidate that does not load makes its flow ``degraded``: its calls all get the
        stable version.
        """
        entries = super().report()
        rollouts = self.rollouts()
        for entry in entries:
            rollout = rollouts.get(entry["flow"])
            if rollout is None or entry["state"] == "broken":
                continue
            held = self._candidate(rollout)
            entry["rollout"] = rollout.as_json() | {
                "version": held.flow.version if held.flow else None,
                "errors": held.errors,
            }
            if held.errors:
                serving = "the last good candidate serves" if held.flow else "every call gets"
                what = f"{serving} its share" if held.flow else f"{serving} the stable version"
                entry["problems"] = [
                    *entry["problems"],
                    f"the rollout's candidate {rollout.candidate} does not load: {what}",
                ]
                entry["state"] = "degraded"
        return entries


class _Missing(Exception):
    """A stored version the call log does not keep."""


def _assignment(found: Mapping[str, Any], version: str) -> Assignment:
    arm: Arm = "candidate" if found.get("arm") == "candidate" else "stable"
    return Assignment(arm, float(found["share"]), str(found["candidate"]), version)


def _restamped(flow: CompiledFlow) -> CompiledFlow:
    return replace(flow, mtimes=file_mtimes(flow.loaded.files))


def _mtime(path: Path) -> float | None:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return None
