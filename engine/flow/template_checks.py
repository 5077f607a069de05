"""Template checks of a flow: every line, guard, store expression and template file it uses.

Each one is parsed and compiled as a call will compile it, and everything in it is looked at,
in every branch: a syntax error, an unknown filter or test (also inside ``{% if %}``, where
Jinja itself would only fail on the call that takes that branch), a missing ``{% include %}``,
``{% import %}`` or ``{% from %}`` file, or a macro the imported file does not define, is found
before a call. Names are checked too: templates see ``slots``, ``call``, ``flow`` and
``state``, and only the slots the flow declares. Files a template includes or imports are
checked the same way, once each. Every problem of a template is reported, each at its own line:
fixing one never reveals the next.

Errors point at the line of the mistake: inside a block scalar (``say: |`` or ``say: >-``) the
line of the template's line, inside a template file that file's line.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable
from functools import partial
from pathlib import Path
from typing import Any, TypeAlias

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import AuthoringError, Location

from . import safe_yaml, template_tree
from .parse import LoadedFlow
from .spec import EXTRA_LINES, string_leaves

TEMPLATE_NAMES = frozenset({"slots", "call", "flow", "state"})
"""What every template and guard sees."""

Report: TypeAlias = Callable[[int | None, str | None, str, str | None], None]
"""Reports ``(lineno, needle, message, hint)``: a problem at line ``lineno`` of one template,
near the text ``needle`` (the flow file's line is found by it inside folded text)."""

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
                    for header, value in action.webhook.headers.items():
                        self.inline(value, *at, "webhook", "headers", header)
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
            for key in EXTRA_LINES:
                line = getattr(option, key) if option is not None else None
                if line:
                    self.inline(line, "repair", repair, key, extra=extra)

    # -- the three kinds of template -------------------------------------------------------

    def inline(self, source: str, *path: Any, extra: Iterable[str] = ()) -> None:
        """A line in the flow file (Jinja template source); ``extra``: names it may use too."""
        report = self._inline_report(path)
        try:
            tree = self.env.parse(source)
        except jinja2.TemplateSyntaxError as exc:
            report(exc.lineno, _needle(exc), *_syntax_message(exc, self.env))
            return
        self._tree(tree, report, TEMPLATE_NAMES | set(extra))

    def guard(self, source: str, *path: Any, extra: Iterable[str] = ()) -> None:
        """A guard or store expression (a Jinja expression, compiled as calls compile it)."""
        report = self._inline_report(path)
        try:
            self.env.compile_expression(source)
        except jinja2.TemplateSyntaxError as exc:
            if not _JINJA_NAMED.match(exc.message or ""):  # unknown names: found below, all
                report(
                    exc.lineno, _needle(exc), *_syntax_message(exc, self.env, "expression syntax")
                )
                return
        self._tree(self.env.parse(f"{{{{ ({source}) }}}}"), report, TEMPLATE_NAMES | set(extra))

    def file(self, name: str, *path: Any) -> None:
        """A template file of the prompts folder (persona or a state's prompt)."""
        report = self._inline_report(path)
        self._file(name, lambda message, hint: report(1, name, message, hint), TEMPLATE_NAMES)

    # -- one template, every branch --------------------------------------------------------

    def _tree(
        self,
        tree: nodes.Template,
        report: Report,
        allowed: frozenset[str],
        name: str | None = None,
        filename: str | None = None,
    ) -> None:
        """Everything in one parsed template, each problem at its own line; none hides another.

        Filters and tests (in every branch), what code generation refuses, variables, slots,
        and the files it includes or imports (checked the same way, with the names the
        template sets visible to them).
        """
        for unknown in template_tree.unknown_calls(tree, self.env):
            known = self.env.filters if unknown.kind == "filter" else self.env.tests
            report(
                unknown.node.lineno,
                unknown.name,
                f"unknown {unknown.kind} {unknown.name!r}",
                _known_hint(unknown.kind, unknown.name, known),
            )
        try:
            self.env.compile(tree, name, filename)  # what else Jinja refuses while compiling
            undeclared = jinja2.meta.find_undeclared_variables(tree)
        except jinja2.TemplateSyntaxError as exc:
            report(exc.lineno, _needle(exc), *_syntax_message(exc, self.env))
            undeclared = set()
        every = allowed | set(self.env.globals)
        for variable in sorted(undeclared - every):
            node = template_tree.first_use(tree, variable)
            hint = f"templates see {', '.join(sorted(allowed))}"
            report(node.lineno if node else 1, variable, f"unknown variable {variable!r}", hint)
        for use, slot in template_tree.slot_uses(tree):
            if slot not in self.flow.slots:
                hint = _did_you_mean(slot, self.flow.slots) or "declare it under `slots:`"
                report(use.lineno, slot, f"unknown slot {slot!r}", hint)
        self._imports(tree, report, allowed | template_tree.stored_names(tree))

    # -- template files and what they include ----------------------------------------------

    def _file(
        self, name: str, missing: Callable[[str, str | None], None], allowed: frozenset[str]
    ) -> nodes.Template | None:
        """Template file ``name``, parsed; checked once (``allowed``: the names it sees)."""
        loader = self.env.loader
        try:
            if loader is None:
                raise jinja2.TemplateNotFound(name)
            source, filename, _ = loader.get_source(self.env, name)
        except jinja2.TemplateNotFound:
            missing(f"template file {name!r} not found", self._searched())
            return None
        shown = filename or name

        def report(lineno: int | None, needle: str | None, message: str, hint: str | None) -> None:
            location = Location(shown, lineno, self.flow.flow)
            self.report(AuthoringError(message, location, hint))

        first = name not in self._files_seen
        self._files_seen.add(name)  # before its includes: a file that includes itself ends
        if first and filename:
            self.files.append(Path(filename))
        try:
            tree = self.env.parse(source, name, filename)
        except jinja2.TemplateSyntaxError as exc:
            if first:
                report(exc.lineno, _needle(exc), *_syntax_message(exc, self.env))
            return None
        if first:
            self._tree(tree, report, allowed, name, filename)
        return tree

    def _imports(self, tree: nodes.Template, report: Report, allowed: frozenset[str]) -> None:
        """Every ``include``, ``import`` and ``from`` with a constant name: found and sound."""
        kinds = (nodes.Extends, nodes.Include, nodes.Import, nodes.FromImport)
        for node in tree.find_all(kinds):
            assert isinstance(node, kinds)
            names = template_tree.constant_names(node.template)
            if not names:
                continue  # a name computed at render time cannot be checked here
            if isinstance(node, nodes.Include) and node.ignore_missing:
                continue
            found = next((n for n in names if self._exists(n)), None)
            if found is None:
                shown = " or ".join(repr(n) for n in names)
                report(node.lineno, names[0], f"template file {shown} not found", self._searched())
                continue

            imported = self._file(found, partial(report, node.lineno, found), allowed)
            if imported is None:
                continue
            exported = template_tree.exports(imported)
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
                    report(
                        node.lineno,
                        macro,
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

    def _searched(self) -> str:
        searched = getattr(self.env.loader, "searchpath", [])
        return f"looked in {', '.join(map(str, searched)) or 'no prompts folder'}"

    # -- lines -----------------------------------------------------------------------------

    def _inline_report(self, path: tuple[Any, ...]) -> Report:
        """Reports at the flow file's line of a line of the template at ``path``."""
        where = self.loaded.where(*path)

        def report(lineno: int | None, needle: str | None, message: str, hint: str | None) -> None:
            located = Location(where.file, self.file_line(path, lineno, needle), where.flow)
            self.report(AuthoringError(message, located, hint))

        return report

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
        known = env.filters if what == "filter" else env.tests
        return f"unknown {what} {name!r}", _known_hint(what, name, known)
    return f"{kind}: {exc.message}", None


def _known_hint(kind: str, name: str, known: Iterable[str]) -> str:
    names = sorted(n for n in known if n.isidentifier())
    return _did_you_mean(name, names) or f"known {kind}s include {', '.join(names[:10])}, ..."


def _needle(exc: jinja2.TemplateSyntaxError) -> str | None:
    quoted = _QUOTED.search(exc.message or "")
    return quoted.group(1) if quoted else None


def _did_you_mean(name: str, known: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f"did you mean {close[0]!r}?" if close else None
