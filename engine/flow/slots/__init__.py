"""Slot types: what a caller's words mean as a typed value, and how the agent says it back."""

from engine.flow.slots.answers import yes_no
from engine.flow.slots.base import Amends, BaseSlotType, Parsed, SlotType
from engine.flow.slots.registry import SlotTypes

__all__ = ["Amends", "BaseSlotType", "Parsed", "SlotType", "SlotTypes", "yes_no"]
