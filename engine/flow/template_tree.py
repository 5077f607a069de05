"""What a parsed Jinja template uses: filters, tests, slots, the files it includes, its macros.

Pure functions over a template's syntax tree, for :mod:`engine.flow.template_checks`. Jinja
itself finds an unknown filter or test only while generating code, and only outside
conditional branches (``{% if %}``, ``x if y else z``): there it defers the lookup to render
time, so that a template can test for an optional filter. A flow's templates use no such
tricks, and a branch a call takes once a month must not fail on that call: every filter and
test is looked up here, in every branch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import jinja2
from jinja2 import nodes

STAND_INS = {"filter": "string", "test": "defined"}
"""Known names an unknown filter or test is renamed to, so that the rest of a template (its
names, what it includes) can still be analysed by Jinja's code generator."""


@dataclass(frozen=True)
class Unknown:
    """A filter or test the environment does not have, where the template uses it."""

    kind: str  # "filter" or "test"
    name: str
    node: nodes.Node


def unknown_calls(tree: nodes.Template, env: jinja2.Environment) -> list[Unknown]:
    """Every use of a filter or test ``env`` does not have, in every branch, in order.

    Each one found is renamed in ``tree`` to a known stand-in (:data:`STAND_INS`), so that
    analyses which generate code (Jinja's ``meta`` module, ``env.compile``) go on past it.
    """
    found: list[Unknown] = []
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        assert isinstance(node, nodes.Filter | nodes.Test)
        kind = "filter" if isinstance(node, nodes.Filter) else "test"
        known = env.filters if kind == "filter" else env.tests
        if node.name not in known:
            found.append(Unknown(kind, node.name, node))
            node.name = STAND_INS[kind]
    return sorted(found, key=lambda unknown: unknown.node.lineno)


def constant_names(template: nodes.Expr) -> list[str]:
    """The file names an ``include``/``import`` names as constants (``[]``: computed)."""
    if isinstance(template, nodes.Const) and isinstance(template.value, str):
        return [template.value]
    if isinstance(template, nodes.List | nodes.Tuple):
        items = [constant_names(item) for item in template.items]
        if all(len(item) == 1 for item in items):
            return [item[0] for item in items]
    return []


def exports(tree: nodes.Template) -> set[str]:
    """What ``{% import %}`` of a template offers: its top-level macros and ``{% set %}``."""
    found = {macro.name for macro in tree.find_all(nodes.Macro)}
    for node in tree.body:
        if isinstance(node, nodes.Assign):
            found |= {name.name for name in node.target.find_all(nodes.Name)}
            if isinstance(node.target, nodes.Name):
                found.add(node.target.name)
    return {name for name in found if not name.startswith("_")}


def stored_names(tree: nodes.Template) -> set[str]:
    """Names a template sets (``{% set %}``, loop variables): a file it includes sees them."""
    return {name.name for name in tree.find_all(nodes.Name) if name.ctx in ("store", "param")} | {
        macro.name for macro in tree.find_all(nodes.Macro)
    }


def slot_uses(tree: nodes.Template) -> Iterator[tuple[nodes.Node, str]]:
    """Every ``slots.<name>`` and ``slots["<name>"]``, with its node."""
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


def first_use(tree: nodes.Template, name: str) -> nodes.Node | None:
    """The first node that reads variable ``name``."""
    return next((n for n in tree.find_all(nodes.Name) if n.name == name), None)
