"""A small availability backend for the booking example flow.

It keeps an in-memory table book: tables every half hour from 5 PM to 9:30 PM, two per slot,
7 PM always full (so a caller can hit a taken time), and every booking made through
:func:`book` takes its table. A real
deployment registers actions that talk to its own calendar instead; the flow stays the same.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

from engine.flow.plugins import Plugin

OPENING = tuple(f"{hour:02d}:{minute:02d}" for hour in range(17, 22) for minute in (0, 30))
MAX_PARTY = 10


@dataclass
class Book:
    """Tables taken per (date, time); thread-safe because workers may share a process."""

    taken: dict[tuple[str, str], int] = field(default_factory=dict)
    capacity: int = 2  # tables per time slot
    # Seven o'clock is always full, so the example can show the "taken, try these" path.
    full: frozenset[str] = frozenset({"19:00"})
    bookings: dict[str, dict[str, object]] = field(default_factory=dict)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def free(self, date: str, time: str) -> bool:
        """Whether a table is free at ``time`` on ``date``."""
        if time not in OPENING or time in self.full:
            return False
        return self.taken.get((date, time), 0) < self.capacity

    def alternatives(
        self, date: str, time: str, count: int = 2, exclude: frozenset[str] = frozenset()
    ) -> list[str]:
        """The free times nearest to ``time`` on ``date``, other than those in ``exclude``."""
        ranked = sorted(OPENING, key=lambda t: abs(_minutes(t) - _minutes(time)))
        free = [t for t in ranked if t != time and t not in exclude and self.free(date, t)]
        return sorted(free[:count])


BOOK = Book()

plugin = Plugin()
"""The actions the booking flow names (``plugins: [engine.examples.booking]``)."""


def _minutes(time: str) -> int:
    hours, _, minutes = time.partition(":")
    try:
        return int(hours) * 60 + int(minutes or 0)
    except ValueError:
        return 0


@plugin.action("booking.check_availability")
def check_availability(
    date: str, time: str, party_size: object = 2, exclude: str = ""
) -> dict[str, object]:
    """Is a table free? If not, the nearest free times not offered before (``exclude``)."""
    if BOOK.free(date, time) and int(float(str(party_size))) <= MAX_PARTY:
        return {"available": True, "alternatives": []}
    offered = frozenset(exclude.split())
    return {"available": False, "alternatives": BOOK.alternatives(date, time, exclude=offered)}


@plugin.action("booking.book")
def book(
    call_id: str, date: str, time: str, party_size: object, name: str = "", phone: str = ""
) -> dict[str, object]:
    """Book a table; returns the confirmation number."""
    with BOOK._lock:
        if not BOOK.free(date, time):
            return {"booked": False}
        BOOK.taken[(date, time)] = BOOK.taken.get((date, time), 0) + 1
        reference = f"R{next(BOOK._ids)}"
        BOOK.bookings[reference] = {
            "call_id": call_id,
            "date": date,
            "time": time,
            "party_size": party_size,
            "name": name,
            "phone": phone,
        }
    return {"booked": True, "reference": reference}
