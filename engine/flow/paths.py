"""The path proof: no state can use a slot that is empty on some way into it.

A line like ``{{ slots.full_name.split()[0] }}`` or an action argument ``{{ slots.party_size
}}`` fails (or says "None") when the call reaches its state without that value. This check
follows every way a call can move (transitions, give-ups, global intents, going back to correct
a value) and works out, for every state, the slots that are certainly filled on entry: filled
at the start of no path, by a state's answer on its plain way out (which is only taken once the
state's slots are filled), by actions' ``store``, by a guard that tests the value
(``when: slots.available``), and emptied by ``clear``. A use of a slot that is not certainly
filled is an error, with the shortest path that misses it, unless the template guards it
(``{% if slots.x %}``, ``slots.x if ... else``, ``slots.x | default(...)``, ``slots.x and
...``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.sandbox import SandboxedEnvironment

from engine.errors import AuthoringError, Location

from .parse import LoadedFlow
from .repair import human_target
from .spec import Flow, string_leaves


@dataclass(frozen=True)
class _Edge:
    source: str
    target: str
    adds: frozenset[str]  # slots filled on the way (answers, stores, tested guards)
    clears: frozenset[str]
    how: str


@dataclass(frozen=True)
class _Use:
    slot: str
    where: Location
    what: str  # "say", "actions[0].args.party_size", ...
    leaving: _Edge | None = None  # a transition's own line: checked as the state is left


def check_paths(loaded: LoadedFlow, env: SandboxedEnvironment) -> list[AuthoringError]:
    """Every use of a slot that some way into its state leaves empty (see the module)."""
    flow = loaded.spec
    filled, edges = _must_fill(flow, _edges(flow, env))
    errors = []
    for state, uses in _uses(loaded, env, edges).items():
        for use in uses:
            known = filled[state]
            if use.leaving is not None:
                known = known | use.leaving.adds
            if use.slot in known or use.slot not in flow.slots:
                continue
            path = _path_missing(flow, edges, use.slot, state)
            errors.append(
                AuthoringError(
                    f"state {state!r} uses slot {use.slot!r} ({use.what}), which is empty on "
                    f"the way {' -> '.join(path)}",
                    use.where,
                    f"fill it on every way into {state!r}, or guard it: "
                    f"{{% if slots.{use.slot} %}}...{{% endif %}} or "
                    f"slots.{use.slot} | default(...)",
                )
            )
    return errors


# -- the ways a call moves -----------------------------------------------------------------


def _edges(flow: Flow, env: SandboxedEnvironment) -> list[_Edge]:
    edges = []
    for name, state in flow.states.items():
        stored = frozenset(slot for action in state.actions for slot in action.store)
        for transition in state.next:
            adds = set(stored)
            how = "next"
            if transition.when:
                adds |= _tested(env, transition.when)
                how = f"when {transition.when}"
            elif transition.intent:
                how = f"intent {transition.intent}"
            else:
                adds |= set(state.collect)  # a plain way out waits for the state's answers
            edges.append(
                _Edge(name, transition.to, frozenset(adds), frozenset(transition.clear), how)
            )
        give_up = flow.give_up_target(name)
        if give_up is not None:
            edges.append(_Edge(name, give_up, stored, frozenset(), "gives up"))
        for intent in flow.global_intents:
            if intent.to is not None and intent.to != name:
                edges.append(_Edge(name, intent.to, frozenset(), frozenset(), intent.intent))
        for slot in state.read_back:  # "the date is wrong": asked again, then read back
            asking = next((n for n, s in flow.states.items() if slot in s.collect), None)
            if asking is not None:
                edges.append(_Edge(name, asking, stored, frozenset({slot}), f"fix {slot}"))
        for repair, target in _repair_targets(flow):
            if target != name:
                edges.append(_Edge(name, target, frozenset(), frozenset(), repair))
    return edges


def _repair_targets(flow: Flow) -> list[tuple[str, str]]:
    """The built-in repairs that lead to a state: a person, and a cancel with a state."""
    targets = [("a person", human_target(flow))]
    cancel = flow.repair.option("cancel")
    targets.append(("cancel", cancel.to if cancel else None))
    return [(repair, target) for repair, target in targets if target]


def _corrections(flow: Flow, filled: dict[str, frozenset[str]]) -> list[_Edge]:
    """A new value of a slot known in a state sends the call back to where it is asked."""
    order = list(flow.states)
    asked_in: dict[str, str] = {}
    for name, state in flow.states.items():
        for slot in state.collect:
            asked_in.setdefault(slot, name)
    edges = []
    for name, state in flow.states.items():
        if state.terminal:
            continue  # the call leaves the agent there: no answer comes
        stored = frozenset(slot for action in state.actions for slot in action.store)
        for slot, asked in asked_in.items():
            earlier = order.index(asked) < order.index(name)
            if slot in filled[name] and asked != name and (earlier or not state.collect):
                edges.append(_Edge(name, asked, stored | {slot}, frozenset(), f"new {slot}"))
    return edges


def _tested(env: SandboxedEnvironment, expression: str) -> set[str]:
    """Slots a guard can only pass with: ``slots.x``, ``slots.x and ...``, ``slots.x == 1``."""
    try:
        tree = env.parse(f"{{{{ ({expression}) }}}}")
    except jinja2.TemplateSyntaxError:
        return set()
    output = tree.body[0]
    return _positive(output.nodes[0]) if isinstance(output, nodes.Output) else set()


def _positive(node: nodes.Node) -> set[str]:
    if (slot := _slot_of(node)) is not None:
        return {slot}
    if isinstance(node, nodes.And):
        return _positive(node.left) | _positive(node.right)
    if isinstance(node, nodes.Compare):
        return {s for s in (_slot_of(node.expr),) if s is not None}
    return set()


def _must_fill(flow: Flow, static: list[_Edge]) -> tuple[dict[str, frozenset[str]], list[_Edge]]:
    """For each state, the slots filled on every way into it (a forward must-analysis).

    Also returns every way, with the corrections the result allows. Which corrections exist
    depends on what is filled, so the analysis runs on a fixed set of ways at a time (from the
    static ways alone first), then again with the corrections its result allows, until that set
    no longer changes: a correction allowed only by an early, too hopeful guess can then not
    leave a slot unfilled for good.
    """
    filled = _fixpoint(flow, static)
    ways = static + _corrections(flow, filled)
    for _ in range(len(flow.states) + 2):  # bounded: the ways settle in a few rounds
        filled = _fixpoint(flow, ways)
        settled = static + _corrections(flow, filled)
        if {(e.source, e.target, e.how) for e in settled} == {
            (e.source, e.target, e.how) for e in ways
        }:
            break
        ways = settled
    return filled, ways


def _fixpoint(flow: Flow, edges: list[_Edge]) -> dict[str, frozenset[str]]:
    """The slots filled on every way into each state, over a fixed set of ways."""
    everything = frozenset(flow.slots)
    filled = {name: everything for name in flow.states}
    filled[flow.start_state] = frozenset()
    incoming: dict[str, list[_Edge]] = {name: [] for name in flow.states}
    for edge in edges:
        incoming[edge.target].append(edge)
    changed = True
    while changed:
        changed = False
        for name in flow.states:
            if name == flow.start_state:
                continue
            ways = [((filled[e.source] | e.adds) - e.clears) for e in incoming[name]]
            new = frozenset.intersection(*ways) if ways else everything
            if new != filled[name]:
                filled[name], changed = new, True
    return filled


def _path_missing(flow: Flow, edges: list[_Edge], slot: str, state: str) -> list[str]:
    """The shortest way from the start to ``state`` on which ``slot`` stays empty."""

    def spread(starts: dict[str, list[str]], keeps_empty: bool) -> dict[str, list[str]]:
        paths = dict(starts)
        queue = deque(starts)
        while queue:
            name = queue.popleft()
            for edge in edges:
                if edge.source != name or edge.target in paths:
                    continue
                if keeps_empty and slot in edge.adds and slot not in edge.clears:
                    continue
                paths[edge.target] = [*paths[name], edge.target]
                queue.append(edge.target)
        return paths

    start = flow.start_state
    anywhere = spread({start: [start]}, keeps_empty=False)
    seeds = {start: [start]}
    for edge in edges:  # a way that empties the slot again, after any way to its source
        if slot in edge.clears and edge.source in anywhere and edge.target not in seeds:
            seeds[edge.target] = [*anywhere[edge.source], edge.target]
    return spread(seeds, keeps_empty=True).get(state, [state])


# -- where slots are used ------------------------------------------------------------------


def _uses(
    loaded: LoadedFlow, env: SandboxedEnvironment, edges: list[_Edge]
) -> dict[str, list[_Use]]:
    flow = loaded.spec
    found: dict[str, list[_Use]] = {name: [] for name in flow.states}
    for name, state in flow.states.items():
        base = ("states", name)
        for key in ("say", "reask", "reminder", "transfer"):
            source = getattr(state, key)
            if source:
                found[name] += _inline(loaded, env, source, (*base, key), key)
        for index, action in enumerate(state.actions):
            at = (*base, "actions", index)
            for where, value in string_leaves(action.args):
                what = f"actions[{index}].args." + ".".join(map(str, where))
                found[name] += _inline(loaded, env, value, (*at, "args", *where), what)
            if action.webhook is not None:
                what = f"actions[{index}].webhook"
                found[name] += _inline(
                    loaded, env, action.webhook.url, (*at, "webhook", "url"), what
                )
                for where, value in string_leaves(action.webhook.body or {}):
                    path = (*at, "webhook", "body", *where)
                    found[name] += _inline(loaded, env, value, path, what)
                for header, value in action.webhook.headers.items():
                    path = (*at, "webhook", "headers", header)
                    found[name] += _inline(loaded, env, value, path, what)
        if state.prompt:
            found[name] += _file(loaded, env, state.prompt)
        for index, transition in enumerate(state.next):
            if transition.say:
                leaving = next(
                    e for e in edges if e.source == name and e.target == transition.to
                    and e.clears == frozenset(transition.clear)
                )  # fmt: skip
                uses = _inline(loaded, env, transition.say, (*base, "next", index, "say"), "say")
                found[name] += [_Use(u.slot, u.where, f"next[{index}].say", leaving) for u in uses]
    return found


def _inline(
    loaded: LoadedFlow, env: SandboxedEnvironment, source: str, path: tuple[Any, ...], what: str
) -> list[_Use]:
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError:
        return []  # reported by the template checks
    line = loaded.line(*path)
    uses = []
    for slot, lineno in _unguarded(tree, frozenset()):
        at = line + lineno if line is not None and lineno > 1 else line
        uses.append(_Use(slot, Location(str(loaded.path), at, loaded.spec.flow), what))
    return uses


def _file(loaded: LoadedFlow, env: SandboxedEnvironment, name: str) -> list[_Use]:
    try:
        assert env.loader is not None
        source, filename, _ = env.loader.get_source(env, name)
        tree = env.parse(source, name, filename)
    except (jinja2.TemplateNotFound, jinja2.TemplateSyntaxError, AssertionError):
        return []  # reported by the template checks
    return [
        _Use(slot, Location(filename or name, lineno, loaded.spec.flow), f"prompt {name}")
        for slot, lineno in _unguarded(tree, frozenset())
    ]


def _slot_of(node: nodes.Node) -> str | None:
    if isinstance(node, nodes.Getattr) and _is_slots(node.node):
        return node.attr
    if (
        isinstance(node, nodes.Getitem)
        and _is_slots(node.node)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.arg.value
    return None


def _is_slots(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Name) and node.name == "slots"


def _refs(node: nodes.Node) -> set[str]:
    found = {slot for n in [node, *node.find_all(nodes.Node)] if (slot := _slot_of(n))}
    return found


def _unguarded(node: nodes.Node, guarded: frozenset[str]) -> Iterator[tuple[str, int]]:
    """Slots used in ``node`` outside a test of them, with the line of each use."""
    if (slot := _slot_of(node)) is not None:
        if slot not in guarded:
            yield slot, node.lineno
        return
    if isinstance(node, nodes.If):
        inside = guarded | _refs(node.test)  # the test itself only asks
        for child in node.body:
            yield from _unguarded(child, inside)
        for branch in (*node.elif_, *node.else_):
            yield from _unguarded(branch, guarded)
        return
    if isinstance(node, nodes.CondExpr):
        yield from _unguarded(node.expr1, guarded | _refs(node.test))
        if node.expr2 is not None:
            yield from _unguarded(node.expr2, guarded)
        return
    if isinstance(node, nodes.And):
        yield from _unguarded(node.right, guarded | _refs(node.left))
        return
    if isinstance(node, nodes.Or):
        yield from _unguarded(node.right, guarded)  # the left side is only tested
        return
    if isinstance(node, (nodes.Test, nodes.Not)):
        return  # "slots.x is none", "not slots.x": asking is not using
    if isinstance(node, nodes.Filter) and node.name in ("default", "d"):
        return
    for child in node.iter_child_nodes():
        yield from _unguarded(child, guarded)
