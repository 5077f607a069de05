"""Conversation repair, built into every flow: declared once here, overridable in a flow file.

A caller misheard, interrupted or misunderstood is the common case on a phone line, so no
author should have to build its handling state by state. Every flow has these patterns, each
with a line of its own (the flow's ``repair:`` sets another line, a target, more examples, or
``false`` to switch one off):

* ``repeat``: "say that again": the current line once more; the call stays where it is.
* ``hold``: "hold on, let me get my card": a short acknowledgement; nothing is taken and the
  question waits (the next silence is not counted against the caller).
* ``cancel``: "never mind, I'll call back": a polite goodbye; the call ends as ``cancelled``.
* ``human``: a request for a person, by meaning: to the state that puts the caller through.
* ``fix``: a read-back the caller says is wrong without saying what: "which item?".
* ``confirm``: a value heard but not for sure: read back before it is stored.

Recognition is in :mod:`engine.flow.repair_words`; where each pattern leads is decided in
:mod:`engine.flow.decide` and carried out by :mod:`engine.flow.turn`. An author's own global
intent of the same name (``human``, ``repeat``) is matched first and keeps its behaviour.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import cast

from .intents import IntentPattern
from .repair_words import REPAIRS, RepairName, cancels_outright, heard
from .spec import Flow

DEFAULT_LINES: Mapping[str, str] = {
    "repeat": "Sure.",
    "hold": "Sure, take your time.",
    "cancel": "No problem. Thanks for calling, goodbye!",
    "human": "",  # the state that puts the caller through speaks for itself
    "fix": "Sorry about that. What should I fix: {{ items }}?",
    "confirm": "Just to check, did you say {{ value }}?",
}
"""The engine's own lines (Jinja), where a flow sets none."""

NO_PERSON = "I'm sorry, there's no one I can put you through to on this line."
STILL_HOLDING = "I'm still here whenever you're ready."
STOP_HERE = "Do you want me to stop here?"
"""Asked of a caller who gives the thing up without saying to end the call."""
EXTRA_DEFAULTS: Mapping[tuple[str, str], str] = {
    ("cancel", "ask"): STOP_HERE,
    ("hold", "waiting"): STILL_HOLDING,
    ("human", "unavailable"): NO_PERSON,
}
"""The lines beside ``say`` (``repair.<name>.<key>`` in a flow), by repair and key."""


@dataclass(frozen=True)
class Repairs:
    """A flow's repair patterns as calls use them (compiled once per flow version)."""

    enabled: frozenset[str]
    extra: tuple[IntentPattern, ...]
    """Patterns of the author's additional examples, per repair (matched first)."""
    human_to: str | None
    cancel_to: str | None

    @classmethod
    def of(cls, flow: Flow) -> Repairs:
        """The repairs of ``flow`` as its ``repair:`` sets them."""
        settings = flow.repair
        enabled = frozenset(
            name for name in (*REPAIRS, "fix", "confirm") if settings.option(name) is not None
        )
        extra = tuple(
            IntentPattern.of(name, option.examples, None, anywhere=True)
            for name in REPAIRS
            if (option := settings.option(name)) is not None and option.examples
        )
        cancel = settings.option("cancel")
        return cls(enabled, extra, human_target(flow), cancel.to if cancel else None)

    def heard(self, said: str) -> RepairName | None:
        """The repair ``said`` asks for, if it is one this flow has."""
        for pattern in self.extra:
            if pattern.matches(said, yes_no_words=False):
                return cast(RepairName, pattern.name)  # made from REPAIRS only
        found = heard(said)
        return found if found is not None and found in self.enabled else None

    def said_outright(self, said: str) -> bool:
        """Whether a cancel in ``said`` is said outright, or in the author's own words.

        A caller who only gives the thing up ("scrap the whole thing") is asked first.
        """
        for pattern in self.extra:
            if pattern.name == "cancel" and pattern.matches(said, yes_no_words=False):
                return True
        return cancels_outright(said)


def human_target(flow: Flow) -> str | None:
    """Where a request for a person goes (``None``: nowhere on this flow).

    The repair's ``to``, else a global ``human`` intent's target, else the flow's give-up
    state where that one transfers.
    """
    option = flow.repair.option("human")
    if option is None:
        return None
    if option.to:
        return option.to
    named = next((g.to for g in flow.global_intents if g.intent == "human" and g.to), None)
    if named:
        return named
    give_up = flow.on_give_up
    if give_up and give_up in flow.states and flow.states[give_up].transfer is not None:
        return give_up
    return None
