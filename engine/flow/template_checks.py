"""Template checks of a flow: every line, guard, store expression and template file it uses.

Each one is compiled exactly as a call will compile it (``env.compile`` for lines,
``env.compile_expression`` for guards and store expressions, ``env.get_template`` for files),
so a syntax error, an unknown filter or test (which Jinja only finds while compiling) or a
missing ``{% include %}``, ``{% import %}`` or ``{% from %}`` file, or a macro the imported file
does not define, is found before a call. Names are checked too: templates see ``slots``,
``call``, ``flow`` and ``state``, and only the slots the flow declares.

Errors point at the line of the mistake: inside a block scalar (``say: |`` or ``say: >-``) the
line of the template's line, inside a template file that file's line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import AuthoringError, Location

from . import safe_yaml
from .parse import LoadedFlow
from .spec import string_leaves

TEMPLATE_NAMES = frozenset({"slots", "call", "flow", "state"})
"""What every template and guard sees."""

_JINJA_NAMED = re.compile(r"^No (filter|test) named '([^']+)'")
_QUOTED = re.compile(r"'([^']+)'")


REPAIR_NAMES: dict[str, frozenset[str]] = {
    "repeat": frozenset(),
    "hold": frozenset(),
    "cancel": frozenset(),
    "human": frozenset(),
    "fix": frozenset({"items"}),
    "confirm": frozenset({"value", "slot"}),
}
"""The repair lines a flow may set, and the names each may use beside the usual ones."""


class TemplateChecks:
    """Checks every template of one flow; problems go to ``report``."""

    def __init__(
        self,
        loaded: LoadedFlow,
        env: SandboxedEnvironment,
        report: Callable[[AuthoringError], None],
    ) -> None:
        self.loaded = loaded
        self.flow = loaded.spec
        self.env = env
        self.report = report
        self._raw_lines = loaded.text.splitlines()
        self._files_seen: set[str] = set()
        self.files: list[Path] = []  # every template file read, includes too (for reloading)

    def run(self) -> None:
        """Check the greeting, every state's lines, guards, actions, prompts and global lines."""
        flow = self.flow
        if flow.begin:
            self.inline(flow.begin, "begin")
        if flow.persona:
            self.file(flow.persona, "persona")
        for name, state in flow.states.items():
            base = ("states", name)
            for key in ("say", "reask", "reminder", "transfer"):
                source = getattr(state, key)
                if source:
                    self.inline(source, *base, key)
            if state.prompt:
                self.file(state.prompt, *base, "prompt")
            for index, transition in enumerate(state.next):
                if transition.when:
                    self.guard(transition.when, *base, "next", index, "when")
                if transition.say:
                    self.inline(transition.say, *base, "next", index, "say")
            for index, action in enumerate(state.actions):
                at = (*base, "actions", index)
                for where, value in string_leaves(action.args):
                    self.inline(value, *at, "args", *where)
                if action.webhook:
                    self.inline(action.webhook.url, *at, "webhook", "url")
                    for where, value in string_leaves(action.webhook.body or {}):
                        self.inline(value, *at, "webhook", "body", *where)
                for slot, expression in action.store.items():
                    self.guard(expression, *at, "store", slot, extra={"result"})
        for index, intent in enumerate(flow.global_intents):
            if intent.say:
                self.inline(intent.say, "global", index, "say")
        for repair, extra in REPAIR_NAMES.items():
            option = flow.repair.option(repair)
            if option is not None and option.say:
                self.inline(option.say, "repair", repair, "say", extra=extra)

    # -- the three kinds of template -------------------------------------------------------

    def inline(self, source: str, *path: Any, extra: Iterable[str] = ()) -> None:
        """A line in the flow file (Jinja template source); ``extra``: names it may use too."""
        try:
            tree = self.env.parse(source)
            self.env.compile(tree)  # code generation finds unknown filters and tests
        except jinja2.TemplateSyntaxError as exc:
            message, hint = _syntax_message(exc, self.env)
            self._at(path, exc.lineno, _needle(exc), message, hint)
            return
        self._names(tree, path, None, extra=set(extra))
        self._imports(tree, lambda node, needle: self._at(path, node.lineno, needle))

    def guard(self, source: str, *path: Any, extra: Iterable[str] = ()) -> None:
        """A guard or store expression (a Jinja expression, compiled as calls compile it)."""
        try:
            self.env.compile_expression(source)
            tree = self.env.parse(f"{{{{ ({source}) }}}}")
        except jinja2.TemplateSyntaxError as exc:
            message, hint = _syntax_message(exc, self.env, "expression syntax")
            self._at(path, exc.lineno, _needle(exc), message, hint)
            return
        self._names(tree, path, None, extra=set(extra))

    def file(self, name: str, *path: Any) -> None:
        """A template file of the prompts folder (persona or a state's prompt)."""

        def missing(message: str, hint: str | None) -> None:
            self._at(path, 1, name, message, hint)

        tree = self._load_file(name, missing)
        if tree is not None:
            filename = self._filename(name)
            self._names(tree, path, filename)

    # -- template files and what they include ----------------------------------------------

    def _load_file(
        self, name: str, missing: Callable[[str, str | None], None]
    ) -> nodes.Template | None:
        """Compile file ``name`` like a call does, then check what it includes and imports."""
        try:
            self.env.get_template(name)
        except jinja2.TemplateNotFound as exc:
            if exc.name not in (None, name):  # a file it extends, at compile time
                missing(f"template file {exc.name!r} not found", self._searched())
            else:
                missing(f"template file {name!r} not found", self._searched())
            return None
        except jinja2.TemplateSyntaxError as exc:
            message, hint = _syntax_message(exc, self.env)
            where = Location(exc.filename or name, exc.lineno, self.flow.flow)
            self.report(AuthoringError(message, where, hint))
            return None
        loader = self.env.loader
        assert loader is not None  # get_template found the file through it
        source, filename, _ = loader.get_source(self.env, name)
        tree = self.env.parse(source, name, filename)
        if name not in self._files_seen:
            self._files_seen.add(name)
            if filename:
                self.files.append(Path(filename))
            shown = filename or name

            def report(node: nodes.Node, needle: str | None) -> Callable[[str, str | None], None]:
                def emit(message: str, hint: str | None) -> None:
                    location = Location(shown, node.lineno, self.flow.flow)
                    self.report(AuthoringError(message, location, hint))

                return emit

            self._imports(tree, lambda node, needle: report(node, needle))
        return tree

    def _imports(
        self,
        tree: nodes.Template,
        at: Callable[[nodes.Node, str | None], Callable[[str, str | None], None]],
    ) -> None:
        """Every ``include``, ``import`` and ``from`` with a constant name: found and sound."""
        kinds = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
        for node in tree.find_all(kinds):
            assert isinstance(node, kinds)
            names = _constant_names(node.template)
            if not names:
                continue  # a name computed at render time cannot be checked here
            if isinstance(node, nodes.Include) and node.ignore_missing:
                continue
            found = next((n for n in names if self._exists(n)), None)
            if found is None:
                shown = " or ".join(repr(n) for n in names)
                at(node, names[0])(f"template file {shown} not found", self._searched())
                continue
            imported = self._load_file(found, at(node, found))
            if imported is None:
                continue
            exported = _exports(imported)
            wanted: list[str] = []
            if isinstance(node, nodes.FromImport):
                wanted = [item[0] if isinstance(item, tuple) else item for item in node.names]
            elif isinstance(node, nodes.Import):
                wanted = [
                    use.attr
                    for use in tree.find_all(nodes.Getattr)
                    if isinstance(use.node, nodes.Name) and use.node.name == node.target
                ]
            for macro in dict.fromkeys(wanted):
                if macro not in exported:
                    at(node, macro)(
                        f"{found!r} defines no macro {macro!r}",
                        _did_you_mean(macro, exported)
                        or f"it defines: {', '.join(sorted(exported)) or 'nothing'}",
                    )

    def _exists(self, name: str) -> bool:
        loader = self.env.loader
        if loader is None:
            return False
        try:
            loader.get_source(self.env, name)
        except jinja2.TemplateNotFound:
            return False
        return True

    def _filename(self, name: str) -> str:
        loader = self.env.loader
        assert loader is not None
        _, filename, _ = loader.get_source(self.env, name)
        return filename or name

    def _searched(self) -> str:
        searched = getattr(self.env.loader, "searchpath", [])
        return f"looked in {', '.join(map(str, searched)) or 'no prompts folder'}"

    # -- names -----------------------------------------------------------------------------

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
            hint = f"templates see {', '.join(sorted(allowed))}"
            self._found(f"unknown variable {name!r}", path, filename, found, name, hint)
        for use, slot in _slot_uses(tree):
            if slot not in self.flow.slots:
                hint = _did_you_mean(slot, self.flow.slots) or "declare it under `slots:`"
                self._found(f"unknown slot {slot!r}", path, filename, use, slot, hint)

    def _found(
        self,
        message: str,
        path: tuple[Any, ...],
        filename: str | None,
        node: nodes.Node | None,
        needle: str,
        hint: str | None,
    ) -> None:
        lineno = node.lineno if node is not None else 1
        if filename is not None:
            self.report(AuthoringError(message, Location(filename, lineno, self.flow.flow), hint))
        else:
            self._at(path, lineno, needle, message, hint)

    # -- lines -----------------------------------------------------------------------------

    def _at(
        self,
        path: tuple[Any, ...],
        lineno: int | None,
        needle: str | None,
        message: str | None = None,
        hint: str | None = None,
    ) -> Callable[[str, str | None], None]:
        """Report ``message`` at the file line of line ``lineno`` of the template at ``path``.

        Without a message, returns the reporter for a later one (for what a line includes).
        """
        where = self.loaded.where(*path)
        located = Location(where.file, self.file_line(path, lineno, needle), where.flow)

        def emit(text: str, text_hint: str | None) -> None:
            self.report(AuthoringError(text, located, text_hint))

        if message is not None:
            emit(message, hint)
        return emit

    def file_line(
        self, path: tuple[Any, ...], lineno: int | None, needle: str | None
    ) -> int | None:
        """The flow file's line of line ``lineno`` of the template text at ``path``.

        A literal block (``|``) keeps its lines, so the line is exact. Folded blocks (``>``)
        and text spread over several lines are joined before Jinja sees them: there the line
        holding ``needle`` (the unknown name, the offending token) is the one meant.
        """
        scalar = safe_yaml.scalar_at(self.loaded.lines, path)
        key_line = self.loaded.line(*path)
        if scalar is None:
            return key_line
        lineno = max(lineno or 1, 1)
        if scalar.style == "|":
            return min(scalar.start + lineno, scalar.end)
        first = scalar.start + 1 if scalar.style == ">" else scalar.start
        if needle:
            for number in range(scalar.start, scalar.end + 1):
                text = self._raw_lines[number - 1] if number <= len(self._raw_lines) else ""
                if number == scalar.start and scalar.style == ">":
                    continue  # the key and the `>` indicator
                if needle in text:
                    return number
        return min(first, scalar.end)


def _syntax_message(
    exc: jinja2.TemplateSyntaxError, env: jinja2.Environment, kind: str = "template syntax"
) -> tuple[str, str | None]:
    named = _JINJA_NAMED.match(exc.message or "")
    if named:
        what, name = named.groups()
        known = sorted(
            n for n in (env.filters if what == "filter" else env.tests) if n.isidentifier()
        )
        return f"unknown {what} {name!r}", _did_you_mean(name, known) or (
            f"known {what}s include {', '.join(known[:10])}, ..."
        )
    return f"{kind}: {exc.message}", None


def _needle(exc: jinja2.TemplateSyntaxError) -> str | None:
    quoted = _QUOTED.search(exc.message or "")
    return quoted.group(1) if quoted else None


def _constant_names(template: nodes.Expr) -> list[str]:
    if isinstance(template, nodes.Const) and isinstance(template.value, str):
        return [template.value]
    if isinstance(template, (nodes.List, nodes.Tuple)):
        items = [_constant_names(item) for item in template.items]
        if all(len(item) == 1 for item in items):
            return [item[0] for item in items]
    return []


def _exports(tree: nodes.Template) -> set[str]:
    """What ``{% import %}`` of a template offers: its top-level macros and ``{% set %}``."""
    found = {macro.name for macro in tree.find_all(nodes.Macro)}
    for node in tree.body:
        if isinstance(node, nodes.Assign):
            found |= {name.name for name in node.target.find_all(nodes.Name)}
            if isinstance(node.target, nodes.Name):
                found.add(node.target.name)
    return {name for name in found if not name.startswith("_")}


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
