"""The slot types a project knows: the built-in ones and those its plugins register."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from datetime import date

from engine.flow.spec import SlotSpec

from .answers import EnumType, TextType, YesNoType
from .base import BaseSlotType, SlotType
from .contact import EmailType, PhoneType
from .dates import DateType
from .identifiers import IdentifierType
from .names import NameType
from .numbers import NumberType
from .times import TimeType
from .world import warm_up as warm_world

_BUILTIN: tuple[type[BaseSlotType], ...] = (
    TextType,
    NameType,
    NumberType,
    YesNoType,
    EnumType,
    DateType,
    TimeType,
    PhoneType,
    EmailType,
    IdentifierType,
)


class SlotTypes:
    """Slot types by name. Each project has its own, so two projects never share a type."""

    def __init__(self, types: dict[str, SlotType] | None = None) -> None:
        self._types: dict[str, SlotType] = dict(types or {})

    @classmethod
    def builtin(cls) -> SlotTypes:
        """A registry holding the built-in types (``text``, ``name``, ``date``, ...)."""
        registry = cls()
        for kind in _BUILTIN:
            registry.add(kind())
        return registry

    def add(self, slot_type: SlotType) -> SlotType:
        """Make ``slot_type`` available under its name (replacing any type of that name)."""
        self._types[slot_type.name] = slot_type
        return slot_type

    def get(self, name: str) -> SlotType | None:
        """The type called ``name``, if known."""
        return self._types.get(name)

    def __getitem__(self, name: str) -> SlotType:
        found = self._types.get(name)
        if found is None:
            raise KeyError(f"unknown slot type {name!r}{_hint(name, self._types)}")
        return found

    def __contains__(self, name: object) -> bool:
        return name in self._types

    def __iter__(self) -> Iterator[SlotType]:
        return iter(self._types.values())

    def names(self) -> list[str]:
        """Every known type name, sorted."""
        return sorted(self._types)

    def warm_up(self) -> None:
        """Run every parser once now (imports and compiled patterns are loaded on first use).

        A server calls this before it takes calls, so the first caller does not wait for the
        loading and the data joins the long-lived objects the cycle collector skips.
        """
        today = date.today()
        warm_world()  # what a parakeet is: one pattern per kind of thing
        for kind in self._types.values():
            spec = SlotSpec(type=kind.name, values={"yes": ()} if kind.name == "enum" else None)
            samples = ("March 3rd 1980", "seven thirty pm", "four one five five five five 0 1")
            for text in (*samples, "dana at example dot com"):
                kind.extract(text, spec, today, asked=True)


def _hint(name: str, known: dict[str, SlotType]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else f"; known: {', '.join(sorted(known))}"
