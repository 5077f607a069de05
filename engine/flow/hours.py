"""Opening hours: whether a day or a time is one the business can take, and why not.

Checked for the slots with ``hours: true`` against the flow's ``hours:``; the reason is said to
the caller as it is ("Sorry, we open at 5 PM."). Of two readings of the caller's words, the
hours choose the one inside them ("at 8" at a garage open 8 to 5 is 8 AM), for every slot.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from engine.templates.spoken import spoken_time

from .slots import Parsed
from .spec import WEEKDAYS, OpeningHours


def check_hours(kind: str, value: object, hours: OpeningHours) -> str:
    """Why a ``date`` or ``time`` value is outside ``hours`` (``""`` when it is inside)."""
    if kind == "date" and isinstance(value, str):
        try:
            day = WEEKDAYS[date.fromisoformat(value).weekday()]
        except ValueError:
            return ""
        if day in hours.closed:
            return f"we're closed on {day.capitalize()}s"
    if kind == "time" and isinstance(value, str):
        if value < hours.open:
            return f"we open at {spoken_time(hours.open)}"
        if value > hours.close:
            return f"the last time we can do is {spoken_time(hours.close)}"
    return ""


def within_hours(kind: str, parsed: Parsed, hours: OpeningHours, required: bool) -> Parsed:
    """The reading of ``parsed`` inside ``hours``; with ``required``, a refusal when none is.

    ``parsed.value`` and ``parsed.others`` are the readings, likeliest first. When no time is
    inside, the nearest is taken ("drop it off at 7:30" at a garage opening at 8 is 7:30 AM), so
    that a refusal names the hours the caller meant to meet.
    """
    readings = [parsed.value, *parsed.others]
    inside = [value for value in readings if not check_hours(kind, value, hours)]
    if inside:
        chosen = inside[0]
    elif kind == "time" and parsed.others:
        chosen = min(readings, key=lambda value: _minutes_outside(value, hours))
    else:
        chosen = parsed.value
    if required and not inside:
        return Parsed(False, error=check_hours(kind, chosen, hours))
    return parsed if chosen == parsed.value else replace(parsed, value=chosen, others=())


def _minutes_outside(value: object, hours: OpeningHours) -> int:
    """How far a time ("HH:MM") is from the opening hours, in minutes (0 inside)."""
    hour, _, minute = str(value).partition(":")
    at = int(hour) * 60 + int(minute)
    opens, closes = (int(t[:2]) * 60 + int(t[3:]) for t in (hours.open, hours.close))
    return max(opens - at, at - closes, 0)
