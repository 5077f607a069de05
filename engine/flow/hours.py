"""Opening hours: whether a day or a time is one the business can take, and why not.

Checked for the slots with ``hours: true`` against the flow's ``hours:``; the reason is said to
the caller as it is ("Sorry, we open at 5 PM.").
"""

from __future__ import annotations

from datetime import date

from engine.templates.spoken import spoken_time

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
