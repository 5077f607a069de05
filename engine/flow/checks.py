"""Pass 3 of loading a flow: slot types, the state graph, slot names, templates and guards.

Everything here reads the spec and reports :class:`AuthoringError` items pointing at the line
of the flow (or template) file; nothing runs a call. The checks are the ones a flow author
would otherwise discover on a live phone call: a transition to a state that does not exist, a
state nobody can reach, a state with no way out, a misspelt slot in a line the agent speaks, a
template file that is not there.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import AuthoringError, Location

from .parse import LoadedFlow
from .plugins import Extensions
from .spec import string_leaves

TEMPLATE_NAMES = frozenset({"slots", "call", "flow", "state"})
"""What every template and guard sees."""


def check_flow(
    loaded: LoadedFlow, env: SandboxedEnvironment, extensions: Extensions
) -> list[AuthoringError]:
    """Every problem of ``loaded`` that the schema alone cannot see."""
    checker = _Checker(loaded, env, extensions)
    checker.slot_types()
    checker.graph()
    checker.templates()
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
        seen: set[str] = set()
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            state = flow.states[name]
            todo.extend(t.to for t in state.next)
            if give_up := flow.give_up_target(name):
                todo.append(give_up)
        return seen

    # -- templates -------------------------------------------------------------------------

    def templates(self) -> None:
        flow = self.flow
        if flow.begin:
            self._inline(flow.begin, "begin")
        if flow.persona:
            self._file(flow.persona, "persona")
        for name, state in flow.states.items():
            base = ("states", name)
            for key in ("say", "reask", "reminder", "transfer"):
                source = getattr(state, key)
                if source:
                    self._inline(source, *base, key)
            if state.prompt:
                self._file(state.prompt, *base, "prompt")
            for index, transition in enumerate(state.next):
                if transition.when:
                    self._guard(transition.when, *base, "next", index, "when")
                if transition.say:
                    self._inline(transition.say, *base, "next", index, "say")
            for index, action in enumerate(state.actions):
                for where, value in string_leaves(action.args):
                    self._inline(value, *base, "actions", index, "args", *where)
                if action.webhook:
                    self._inline(action.webhook.url, *base, "actions", index, "webhook", "url")
                    for where, value in string_leaves(action.webhook.body or {}):
                        self._inline(value, *base, "actions", index, "webhook", "body", *where)
                for slot, expression in action.store.items():
                    self._guard(
                        expression, *base, "actions", index, "store", slot, extra={"result"}
                    )
        for index, intent in enumerate(flow.global_intents):
            if intent.say:
                self._inline(intent.say, "global", index, "say")

    def _inline(self, source: str, *path: Any) -> None:
        try:
            tree = self.env.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            self.error(f"template syntax: {exc.message}", *path, line=self._line(path, exc.lineno))
            return
        self._names(tree, path, None)

    def _guard(self, source: str, *path: Any, extra: Iterable[str] = ()) -> None:
        try:
            tree = self.env.parse(f"{{{{ ({source}) }}}}")
        except jinja2.TemplateSyntaxError as exc:
            self.error(f"expression syntax: {exc.message}", *path)
            return
        self._names(tree, path, None, extra=set(extra))

    def _file(self, name: str, *path: Any) -> None:
        loader = self.env.loader
        try:
            assert loader is not None
            source, filename, _ = loader.get_source(self.env, name)
        except (jinja2.TemplateNotFound, AssertionError):
            searched = getattr(loader, "searchpath", [])
            self.error(
                f"template file {name!r} not found",
                *path,
                hint=f"looked in {', '.join(map(str, searched)) or 'no prompts folder'}",
            )
            return
        try:
            tree = self.env.parse(source, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            where = Location(filename or name, exc.lineno, self.flow.flow)
            self.errors.append(AuthoringError(f"template syntax: {exc.message}", where))
            return
        self._names(tree, path, filename or name)

    def _names(
        self,
        tree: nodes.Template,
        path: tuple[Any, ...],
        filename: str | None,
        extra: set[str] | None = None,
    ) -> None:
        allowed = TEMPLATE_NAMES | (extra or set())
        for name in sorted(jinja2.meta.find_undeclared_variables(tree) - allowed):
            found = next((n for n in tree.find_all(nodes.Name) if n.name == name), None)
            self._report(
                f"unknown variable {name!r}",
                path,
                filename,
                found.lineno if found else 1,
                f"templates see {', '.join(sorted(allowed))}",
            )
        for use, slot in _slot_uses(tree):
            if slot not in self.flow.slots:
                self._report(
                    f"unknown slot {slot!r}",
                    path,
                    filename,
                    use.lineno,
                    _did_you_mean(slot, self.flow.slots) or "declare it under `slots:`",
                )

    def _report(
        self,
        message: str,
        path: tuple[Any, ...],
        filename: str | None,
        lineno: int,
        hint: str | None,
    ) -> None:
        if filename is not None:
            where = Location(filename, lineno, self.flow.flow)
            self.errors.append(AuthoringError(message, where, hint))
        else:
            self.error(message, *path, hint=hint, line=self._line(path, lineno))

    def _line(self, path: tuple[Any, ...], lineno: int | None) -> int | None:
        line = self.loaded.line(*path)
        if line is None or not lineno or lineno <= 1:
            return line
        return line + lineno  # a block scalar's text starts on the line after its key


def _slot_uses(tree: nodes.Template) -> Iterator[tuple[nodes.Node, str]]:
    for attr in tree.find_all(nodes.Getattr):
        if isinstance(attr.node, nodes.Name) and attr.node.name == "slots":
            yield attr, attr.attr
    for item in tree.find_all(nodes.Getitem):
        if (
            isinstance(item.node, nodes.Name)
            and item.node.name == "slots"
            and isinstance(item.arg, nodes.Const)
            and isinstance(item.arg.value, str)
        ):
            yield item, item.arg.value


def _did_you_mean(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean {close[0]!r}?" if close else None
