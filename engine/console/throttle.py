"""Failed console sign-ins: each is logged, and each makes the next from that address wait.

The console token guards every call's data; guessing it over the network must take for ever.
A failed sign-in waits before its answer, twice as long as the one before from the same client
address (half a second, then one, two... up to :data:`LONGEST`), and an address that tries
again while its last failure is still waiting is answered 429 at once: one guess at a time per
address, ever slower. Addresses are counted apart, so one client guessing does not lock out
everyone else (behind a proxy, name it in ``DIALPLAN_TRUSTED_PROXIES`` to count the browsers
behind it apart too). At most :data:`REMEMBERED` addresses are kept, the least recently failed
forgotten first, and an address forgets its failures after :data:`FORGET_AFTER` quiet seconds.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

FIRST = 0.5
"""Seconds the first failed sign-in from an address waits."""
LONGEST = 30.0
"""The longest wait of one failed sign-in."""
REMEMBERED = 10_000
"""Client addresses kept (each a few hundred bytes)."""
FORGET_AFTER = 900.0
"""Quiet seconds after which an address's failures are forgotten."""


@dataclass(slots=True)
class _Failures:
    count: int
    last: float
    busy_until: float


class SignInThrottle:
    """Failed sign-ins by client address (see the module docstring)."""

    def __init__(
        self, remembered: int = REMEMBERED, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.remembered = remembered
        self.clock = clock
        self._failures: OrderedDict[str, _Failures] = OrderedDict()

    def busy(self, address: str) -> float:
        """Seconds the address must still wait before it may try again (0: it may now)."""
        found = self._failures.get(address)
        if found is None:
            return 0.0
        return max(0.0, found.busy_until - self.clock())

    def failed(self, address: str) -> tuple[int, float]:
        """A sign-in from ``address`` failed: its failures so far, and the seconds it waits."""
        now = self.clock()
        found = self._failures.pop(address, None)
        count = 1 if found is None or now - found.last > FORGET_AFTER else found.count + 1
        delay = min(FIRST * 2 ** (count - 1), LONGEST)
        self._failures[address] = _Failures(count, now, now + delay)
        while len(self._failures) > self.remembered:
            self._failures.popitem(last=False)  # the address that failed longest ago
        return count, delay

    def succeeded(self, address: str) -> None:
        """A sign-in from ``address`` succeeded: its failures are forgotten."""
        self._failures.pop(address, None)

    def __len__(self) -> int:
        return len(self._failures)
