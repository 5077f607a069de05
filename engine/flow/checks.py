"""Pass 3 of loading a flow: slot types, the state graph, slot names, templates and guards.

Templates and guards are checked by :mod:`engine.flow.template_checks`.

Everything here reads the spec and reports :class:`AuthoringError` items pointing at the line
of the flow (or template) file; nothing runs a call. The checks are the ones a flow author
would otherwise discover on a live phone call: a transition to a state that does not exist, a
state nobody can reach, a state with no way out, a misspelt slot in a line the agent speaks, a
template file that is not there.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from jinja2.sandbox import SandboxedEnvironment

from engine.errors import AuthoringError, Location

from .parse import LoadedFlow
from .plugins import Extensions
from .repair_words import REPAIRS
from .template_checks import TemplateChecks

REPAIR_LINES = (*REPAIRS, "fix", "confirm")


def check_flow(
    loaded: LoadedFlow,
    env: SandboxedEnvironment,
    extensions: Extensions,
    files: list[Path] | None = None,
) -> list[AuthoringError]:
    """Every problem of ``loaded`` that the schema alone cannot see.

    ``files`` receives every template file the flow reads, included ones too.
    """
    checker = _Checker(loaded, env, extensions)
    checker.slot_types()
    checker.graph()
    templates = TemplateChecks(loaded, env, checker.errors.append)
    templates.run()
    if files is not None:
        files.extend(templates.files)
    return checker.errors


class _Checker:
    def __init__(
        self, loaded: LoadedFlow, env: SandboxedEnvironment, extensions: Extensions
    ) -> None:
        self.loaded = loaded
        self.flow = loaded.spec
        self.env = env
        self.actions = extensions.actions
        self.types = extensions.slot_types
        self.errors: list[AuthoringError] = []

    def error(
        self, message: str, *path: Any, hint: str | None = None, line: int | None = None
    ) -> None:
        where = self.loaded.where(*path)
        if line is not None:
            where = Location(where.file, line, where.flow)
        self.errors.append(AuthoringError(message, where, hint))

    # -- slot types ------------------------------------------------------------------------

    def slot_types(self) -> None:
        for name, slot in self.flow.slots.items():
            if slot.type not in self.types:
                self.error(
                    f"slot {name!r} has unknown type {slot.type!r}",
                    "slots",
                    name,
                    "type",
                    hint=_did_you_mean(slot.type, self.types.names())
                    or f"known types: {', '.join(self.types.names())}; a plugin can add more",
                )

    # -- graph -----------------------------------------------------------------------------

    def _state_ref(self, target: str | None, *path: Any) -> None:
        if target is not None and target not in self.flow.states:
            self.error(
                f"unknown state {target!r}", *path, hint=_did_you_mean(target, self.flow.states)
            )

    def graph(self) -> None:
        flow = self.flow
        if flow.start is not None:
            self._state_ref(flow.start, "start")
        for name, state in flow.states.items():
            for slot in state.collect:
                if slot not in flow.slots:
                    self.error(
                        f"state {name!r} collects unknown slot {slot!r}",
                        "states",
                        name,
                        "collect",
                        hint=_did_you_mean(slot, flow.slots),
                    )
            for slot in state.read_back:
                if slot not in flow.slots:
                    self.error(
                        f"state {name!r} reads back unknown slot {slot!r}",
                        "states",
                        name,
                        "read_back",
                        hint=_did_you_mean(slot, flow.slots),
                    )
            for index, transition in enumerate(state.next):
                self._state_ref(transition.to, "states", name, "next", index, "to")
            self._state_ref(state.on_give_up, "states", name, "on_give_up")
            for index, action in enumerate(state.actions):
                if action.call is not None and action.call not in self.actions:
                    self.error(
                        f"unknown action {action.call!r}",
                        "states",
                        name,
                        "actions",
                        index,
                        "call",
                        hint=_did_you_mean(action.call, self.actions.names())
                        or "offer it with @plugin.action(...) in a module the flow lists under "
                        "`plugins:`",
                    )
                for slot in action.store:
                    if slot not in flow.slots:
                        self.error(
                            f"action stores into unknown slot {slot!r}",
                            "states",
                            name,
                            "actions",
                            index,
                            "store",
                            slot,
                            hint=_did_you_mean(slot, flow.slots),
                        )
        for index, intent in enumerate(flow.global_intents):
            self._state_ref(intent.to, "global", index, "to")
        for repair in REPAIR_LINES:
            option = flow.repair.option(repair)
            if option is not None:
                self._state_ref(option.to, "repair", repair, "to")
        self._state_ref(flow.on_give_up, "on_give_up")
        if self.errors:
            return  # reachability over broken edges would only add noise
        reached = self._reachable()
        returning = {g.to for g in flow.global_intents if g.returns and g.to}
        for name, state in flow.states.items():
            if name not in reached:
                self.error(
                    f"state {name!r} is never reached",
                    "states",
                    name,
                    hint="no transition, give-up or global intent leads to it",
                )
            if ("states", name) in self.loaded.cut:
                continue  # its schema errors are reported; what is left of it may be no state
            way_out = state.next or flow.give_up_target(name) or state.terminal
            if not (way_out or name in returning):
                self.error(
                    f"state {name!r} has no way out",
                    "states",
                    name,
                    hint="add `next`, or end it with `end_call: true`, `transfer` or `press_digit`",
                )

    def _reachable(self) -> set[str]:
        flow = self.flow
        todo = [flow.start_state, *(g.to for g in flow.global_intents if g.to)]
        todo += [
            option.to
            for repair in REPAIR_LINES
            if (option := flow.repair.option(repair)) is not None and option.to
        ]
        todo += _raw_targets(self.loaded.lines.get("global"))
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen or name not in flow.states:
                continue
            seen.add(name)
            state = flow.states[name]
            todo.extend(t.to for t in state.next)
            if give_up := flow.give_up_target(name):
                todo.append(give_up)
            if ("states", name) in self.loaded.cut:
                # The ways out as written, also those cut for schema errors: a state they lead
                # to is not unreachable, only behind a mistake already reported.
                raw = self.loaded.lines["states"][name]
                if isinstance(raw, dict):
                    todo += _raw_targets(raw.get("next"))
                    if isinstance(raw.get("on_give_up"), str):
                        todo.append(raw["on_give_up"])
        return seen


def _raw_targets(entries: Any) -> list[str]:
    """The ``to`` of every entry of a YAML list as written (valid or not)."""
    if not isinstance(entries, list):
        return []
    return [e["to"] for e in entries if isinstance(e, dict) and isinstance(e.get("to"), str)]


def _did_you_mean(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean {close[0]!r}?" if close else None
