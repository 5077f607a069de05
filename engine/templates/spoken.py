"""Spoken filters: values rendered the way a phone agent should say them.

Text-to-speech reads "1980-03-03" or "+14155550123" badly, so templates pass values through
these filters (``{{ dob | spoken_date }}``). Every filter is a pure function that never raises
inside a call: on input it cannot handle it returns ``str(value)``, because a half-spoken
sentence is better than a call that fails mid-turn.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable
from datetime import date, datetime, time
from typing import Concatenate, ParamSpec

_P = ParamSpec("_P")


class Hidden(str):
    """A value kept out of a line: every voice filter says it as it is (the mask), whole.

    A line that reads a sensitive value back is rendered a second time for the call log with
    the value replaced by a :class:`Hidden` mask, so no spoken form of it (spelled, in digit
    groups, as a date) can reach storage.
    """

    __slots__ = ()


def _tolerant(
    fn: Callable[Concatenate[object, _P], str],
) -> Callable[Concatenate[object, _P], str]:
    """Make a filter return ``str(value)`` instead of raising on input it cannot handle."""

    @functools.wraps(fn)
    def wrapper(value: object, /, *args: _P.args, **kwargs: _P.kwargs) -> str:
        if isinstance(value, Hidden):
            return str(value)
        try:
            return fn(value, *args, **kwargs)
        except Exception:  # a template filter must not end the call
            return str(value)

    return wrapper


def ordinal(day: int) -> str:
    """``3`` -> ``"3rd"``, ``11`` -> ``"11th"``, ``22`` -> ``"22nd"``."""
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


@_tolerant
def spoken_date(value: object, year: bool = True, weekday: bool = False) -> str:
    """An ISO date (or date/datetime) as speech: ``"March 3rd, 1980"``, or ``"March 3rd"``.

    ``weekday=True`` puts the day of the week first, so a caller can confirm by it:
    ``"Friday, December 4th"``.
    """
    if isinstance(value, datetime):
        value = value.date()
    elif isinstance(value, str):
        value = date.fromisoformat(value.strip()[:10])
    if not isinstance(value, date):
        return str(value)
    spoken = f"{value:%B} {ordinal(value.day)}"
    spoken = f"{spoken}, {value.year}" if year else spoken
    return f"{value:%A}, {spoken}" if weekday else spoken


@_tolerant
def spoken_time(value: object) -> str:
    """A 24-hour ``"HH:MM"`` (or time/datetime) as speech: ``"7:30 PM"``, ``"7 PM"``, ``"noon"``."""
    if isinstance(value, datetime):
        value = value.time()
    elif isinstance(value, str):
        value = time.fromisoformat(value.strip())
    if not isinstance(value, time):
        return str(value)
    if value.minute == 0 and value.hour in (0, 12):
        return "midnight" if value.hour == 0 else "noon"
    hour = value.hour % 12 or 12
    minutes = f":{value.minute:02d}" if value.minute else ""
    return f"{hour}{minutes} {'AM' if value.hour < 12 else 'PM'}"


@_tolerant
def digits(value: object, group: int = 3) -> str:
    """Digits read one by one in groups: ``"4155550123"`` -> ``"4 1 5, 5 5 5, 0 1 2 3"``.

    Ten digits (a North American number, with its ``+1`` dropped) are grouped 3-3-4 the way
    people say phone numbers; anything else in groups of ``group``. Other international numbers
    keep their ``plus``.
    """
    text = str(value).strip()
    if not re.fullmatch(r"\+?[\d\s().-]*\d[\d\s().-]*", text) or group < 1:
        return text
    plus = text.startswith("+")
    numbers = re.sub(r"\D", "", text)
    if plus and len(numbers) == 11 and numbers.startswith("1"):
        plus, numbers = False, numbers[1:]
    if len(numbers) == 10:
        groups = [numbers[:3], numbers[3:6], numbers[6:]]
    else:
        groups = [numbers[i : i + group] for i in range(0, len(numbers), group)]
    spoken = ", ".join(" ".join(chunk) for chunk in groups)
    return f"plus {spoken}" if plus else spoken


@_tolerant
def characters(value: object) -> str:
    """A code read character by character in groups: ``"XJH004512"`` -> ``"X J H, 0 0 4, 5 1 2"``.

    Letters and digits are grouped apart, each run in threes, a last group of four rather than
    a lone character ("4417203" -> "4 4 1, 7 2 0 3"), as people read codes back.
    """
    groups: list[str] = []
    for run in re.findall(r"[^\W\d_]+|\d+", str(value)):
        size = len(run)
        cuts = list(range(0, size, 3))
        if size > 3 and size % 3 == 1:
            cuts.pop()  # "4 4 1, 7 2 0 3", not "4 4 1, 7 2 0, 3"
        groups += [run[start:end] for start, end in zip(cuts, [*cuts[1:], size], strict=True)]
    return ", ".join(" ".join(group.upper()) for group in groups) or str(value)


@_tolerant
def spell(value: object) -> str:
    """Letters one by one: ``"Dana"`` -> ``"D, A, N, A"``; words separated by a full stop."""
    words = str(value).split()
    return ". ".join(", ".join(word.upper()) for word in words)


_EMAIL_SYMBOLS = {"@": " at ", ".": " dot ", "_": " underscore ", "-": " dash ", "+": " plus "}


@_tolerant
def spoken_email(value: object) -> str:
    """An email address as speech: ``"dana.scully@example.com"`` -> ``"dana dot scully at ..."``.

    Digits are read one by one ("dana 7 7"), as people give them.
    """
    text = str(value).strip()
    if "@" not in text:
        return text
    spoken = re.sub(r"[@._+-]", lambda m: _EMAIL_SYMBOLS[m.group()], text)
    spoken = re.sub(r"\d+", lambda m: f" {' '.join(m.group())} ", spoken)
    return " ".join(spoken.split())


@_tolerant
def spoken_list(values: object, conj: str = "or") -> str:
    """Items joined for speech: ``["7 PM", "8 PM", "9 PM"]`` -> ``"7 PM, 8 PM or 9 PM"``."""
    if isinstance(values, str) or not isinstance(values, Iterable):
        return str(values)
    items = [str(item) for item in values]
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} {conj} {items[-1]}"


SPOKEN_FILTERS: dict[str, Callable[..., str]] = {
    "spoken_date": spoken_date,
    "spoken_time": spoken_time,
    "digits": digits,
    "characters": characters,
    "spell": spell,
    "spoken_email": spoken_email,
    "spoken_list": spoken_list,
}
